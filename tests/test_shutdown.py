"""The server process under a real stop: SIGTERM while requests are in flight, a worker that
dies, the shutdown bound. Each test runs `python -m itflow_api serve` on the test database."""
import errno
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests
from helpers import SECRET, make_key

SLOW_ENDPOINT = '''\
import time

from itflow_api.lib.core import envelope
from itflow_api.lib.core.endpoint import function_endpoint


@function_endpoint(method="GET")
def endpoint(call):
    time.sleep(float(call.params.get("seconds", "0.8")))
    return envelope.read_ok([{"slept": "yes"}])
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_ini(cfg, directory, **server):
    """An ini file for `cfg`'s database (the test database) plus the given [server] settings
    (waitress unless another http_server is named: most of these tests watch its workers)."""
    server = {"http_server": "waitress", **server}
    d = cfg.database
    database = {"backend": d.backend, "path": d.path, "host": d.host, "port": d.port, "user": d.user,
                "password": d.password, "name": d.name, "driver": d.driver}
    lines = ["[database]"] + [f"{k} = {v}" for k, v in database.items()]
    lines += ["[server]"] + [f"{k} = {v}" for k, v in server.items()]
    lines += ["[security]", f"key_hash_secret = {SECRET}", "key_cache_seconds = 0"]
    path = directory / "config.ini"
    path.write_text("\n".join(lines) + "\n")
    return path


class Server:
    """`itflow-api serve` in a child process; output collected for assertions."""

    READY = r"^(serving on|\d+ workers on) http"

    def __init__(self, ini, port, ready=READY):
        env = {k: v for k, v in os.environ.items() if not k.startswith("ITFLOW_API_")}
        self.port = port
        self.proc = subprocess.Popen([sys.executable, "-m", "itflow_api", "--config", str(ini), "serve"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.time() + 30
        while time.time() < deadline:
            if re.search(ready, self.output, re.M):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop(signal.SIGKILL)
        raise AssertionError("server did not start:\n" + self.output)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self):
        return "".join(self.lines)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}/api/v1/{path}.php"

    def stop(self, sig=signal.SIGTERM, wait=30):
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(wait)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # leave no server behind, and fail
            self.proc.wait(10)
            raise AssertionError(f"the server did not stop within {wait} s:\n{self.output}") from None
        self._reader.join(5)
        return code

    def children(self):
        with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as handle:
            return [int(pid) for pid in handle.read().split()]


@pytest.fixture
def custom_folder(tmp_path):
    (tmp_path / "custom").mkdir()
    (tmp_path / "custom" / "slow.py").write_text(SLOW_ENDPOINT)
    return tmp_path


def refused(exc):
    """A connection the server never accepted (it had stopped listening): not a lost request."""
    while exc is not None:
        if isinstance(exc, ConnectionRefusedError) or getattr(exc, "errno", None) == errno.ECONNREFUSED:
            return True
        exc = exc.__context__ or exc.__cause__ or (exc.args[0] if exc.args and isinstance(exc.args[0], BaseException)
                                                   else getattr(exc, "reason", None))
    return False


needs_posix = pytest.mark.skipif(not hasattr(os, "fork") or not os.path.exists("/proc/self/task"),
                                 reason="pre-forked workers and /proc are POSIX/Linux")


# granian's own shutdown now and then resets a connection it accepted in the instant of the
# signal (seen once in CI: "Connection reset by peer" on a create, with no row written).
# That is upstream behaviour, so its case may fail without failing the run; waitress must
# lose nothing. (Before 2.8 granian reset every connection made after the signal, and this
# case failed each time: setup.cfg asks for 2.8.)
GRANIAN_RACE = pytest.mark.xfail(strict=False, reason="granian may reset a connection accepted "
                                 "at the instant of SIGTERM (upstream); waitress loses none")


@needs_posix
@pytest.mark.parametrize("http_server, workers", [("waitress", 1), ("waitress", 2),
                                                  pytest.param("granian", 2, marks=GRANIAN_RACE)])
def test_sigterm_under_load_finishes_every_request_in_flight(config, db, keys, custom_folder, http_server, workers):
    if http_server == "granian":
        pytest.importorskip("granian", reason="the granian extra is not installed")
    key = make_key(keys)
    port = free_port()
    server = Server(write_ini(config, custom_folder, port=port, workers=workers, threads=8, http_server=http_server,
                              custom_endpoints=custom_folder, shutdown_timeout=20), port,
                    ready=r"Started worker-2" if http_server == "granian" else Server.READY)
    results, lock = {"slow": [], "create": [], "after": []}, threading.Lock()

    def call(kind, method, path, **kwargs):
        try:
            answer = requests.request(method, server.url(path), timeout=30, headers={"Connection": "close"}, **kwargs)
            outcome = (answer.status_code, answer.json())
        except requests.RequestException as exc:
            outcome = ("refused" if refused(exc) else f"lost: {exc!r}", None)
        with lock:
            results[kind].append(outcome)

    in_flight = [threading.Thread(target=call, args=("slow", "GET", "custom/slow"),
                                  kwargs={"params": {"api_key": key, "seconds": "1.0"}}) for _ in range(6)]
    in_flight += [threading.Thread(target=call, args=("create", "POST", "clients/create"),
                                   kwargs={"json": {"api_key": key, "client_name": f"Load {i}"}}) for i in range(10)]
    for thread in in_flight:
        thread.start()
    time.sleep(0.4)  # every slow request is now being served
    server.proc.send_signal(signal.SIGTERM)
    after = [threading.Thread(target=call, args=("after", "GET", "clients/read"),
                              kwargs={"params": {"api_key": key}}) for _ in range(5)]
    for thread in after:
        thread.start()
        time.sleep(0.05)
    for thread in in_flight + after:
        thread.join(40)
    assert server.stop(None) == 0, server.output  # the one SIGTERM above is all it gets

    assert len(results["slow"]) == 6
    assert all(status == 200 and body["data"] == [{"slept": "yes"}] for status, body in results["slow"]), \
        (results["slow"], server.output)
    # every create answered; each one answered True is a row, and there is no row without an answer
    created = [body for status, body in results["create"] if status == 200 and body["success"] == "True"]
    assert all(status in (200, "refused") for status, _ in results["create"]), \
        ([r for r in results["create"] if r[0] != 200], server.output)
    with db.transaction():
        rows = db.rows("SELECT client_name FROM clients WHERE client_name LIKE 'Load %'")
    assert len(rows) == len(created) >= 1
    # after the signal: served, or refused because nothing listens any more; never cut off
    assert all(status in (200, "refused") for status, _ in results["after"]), \
        [r for r in results["after"] if r[0] != 200]
    assert "stopping (SIGTERM)" in server.output or "Shutting down granian" in server.output
    assert key not in server.output  # the access log redacts it


@needs_posix
@pytest.mark.parametrize("moment", ["Spawning worker-1", "Spawning worker-2"])
def test_a_sigterm_while_granian_workers_start_stops_at_once(config, db, keys, tmp_path, moment):
    """A worker builds its app after the fork, before granian gives it its own stop handler;
    a SIGTERM in that time must still stop it, not leave granian waiting shutdown_timeout."""
    pytest.importorskip("granian", reason="the granian extra is not installed")
    port = free_port()
    server = Server(write_ini(config, tmp_path, port=port, workers=2, http_server="granian", shutdown_timeout=30),
                    port, ready=re.escape(moment))
    server.proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    assert server.stop(None, wait=20) == 0, server.output
    assert time.monotonic() - started < 10, server.output
    assert "refused to gracefully stop" not in server.output


@needs_posix
def test_shutdown_timeout_bounds_the_wait(config, db, keys, custom_folder):
    key = make_key(keys)
    port = free_port()
    server = Server(write_ini(config, custom_folder, port=port, workers=1,
                              custom_endpoints=custom_folder, shutdown_timeout=1), port)
    def cut_off():
        with pytest.raises(requests.ConnectionError):  # closed when the bound is reached
            requests.get(server.url("custom/slow"), timeout=30, params={"api_key": key, "seconds": "20"})
    thread = threading.Thread(target=cut_off, daemon=True)
    thread.start()
    time.sleep(0.4)
    started = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - started < 6, "the stop waited for the 20 s request"
    assert "shutdown_timeout reached" in server.output


@needs_posix
def test_a_worker_that_dies_is_logged_and_replaced(config, db, keys, tmp_path):
    key = make_key(keys)
    port = free_port()
    server = Server(write_ini(config, tmp_path, port=port, workers=2), port)
    try:
        time.sleep(0.3)
        before = server.children()
        assert len(before) == 2
        os.kill(before[0], signal.SIGKILL)
        deadline = time.time() + 10
        while time.time() < deadline and (len(server.children()) < 2 or before[0] in server.children()):
            time.sleep(0.1)
        after = server.children()
        assert len(after) == 2 and before[0] not in after and before[1] in after
        assert f"worker {before[0]} was killed by SIGKILL" in server.output
        for _ in range(6):  # both workers answer
            assert requests.get(server.url("clients/read"), params={"api_key": key}, timeout=10).status_code == 200
    finally:
        assert server.stop() == 0, server.output


@needs_posix
def test_sighup_reloads_and_a_later_sigterm_stops_every_worker(config, db, keys, custom_folder):
    """SIGHUP is a reload (tests/test_reload.py): new workers replace the old ones; SIGTERM
    then stops them all and frees the port."""
    port = free_port()
    server = Server(write_ini(config, custom_folder, port=port, workers=2), port)
    children = server.children()
    assert len(children) == 2
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 30
    while time.time() < deadline and (len(server.children()) != 2 or set(server.children()) & set(children)):
        time.sleep(0.1)  # (an old worker that exited stays listed until the parent reaps it)
    assert server.proc.poll() is None, server.output
    replacements = server.children()
    assert len(replacements) == 2 and not set(replacements) & set(children), server.output
    assert server.stop() == 0
    assert not [pid for pid in children + replacements if _alive(pid)]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # nobody holds the port any more


@needs_posix
def test_workers_die_with_their_parent_even_after_kill_9(config, db, keys, custom_folder):
    port = free_port()
    server = Server(write_ini(config, custom_folder, port=port, workers=2), port)
    children = server.children()
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL
    deadline = time.time() + 20
    while time.time() < deadline and [pid for pid in children if _alive(pid)]:
        time.sleep(0.1)
    assert not [pid for pid in children if _alive(pid)], "workers outlived their parent"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


def _alive(pid):
    """Running (a zombie waiting for init to reap it counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False
