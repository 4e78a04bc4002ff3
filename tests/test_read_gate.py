"""[server] read_threads: at most that many reads run at once in one process (reads are Python
work and only queue for Python's lock beyond a few), while writes keep every other thread."""
from concurrent.futures import ThreadPoolExecutor

from helpers import Api, insert, make_key

from itflow_api.lib.web.app import create_app


def _gate(app):
    resource = app._router.find("/api/v1/clients/read.php")[0]
    return resource.service.read_gate


def test_the_gate_is_read_threads_wide_and_never_wider_than_threads(config, db, keys, monkeypatch):
    monkeypatch.setattr(config.server, "threads", 3)
    monkeypatch.setattr(config.server, "read_threads", 5)
    gate = _gate(create_app(config, db, keys))
    taken = [gate.acquire(blocking=False) for _ in range(4)]
    assert taken == [True, True, True, False]


def test_a_read_waits_for_the_gate_and_a_write_does_not(config, db, keys, monkeypatch):
    monkeypatch.setattr(config.server, "read_threads", 1)
    app = create_app(config, db, keys)
    api, gate = Api(app), _gate(app)
    key = make_key(keys)
    insert(db, "clients", client_name="Acme")
    with ThreadPoolExecutor(2) as pool:
        gate.acquire()  # every read slot is taken
        read = pool.submit(api.get, "clients/read", key=key)
        write = pool.submit(api.post, "clients/create", {"client_name": "Globex"}, key=key)
        status, body = write.result(timeout=30)
        assert (status, body["success"]) == (200, "True")
        assert not read.done()  # still queued behind the gate
        gate.release()
        status, body = read.result(timeout=30)
        assert (status, body["success"], body["count"]) == (200, "True", 2)
