"""SIGHUP reloads the configuration of a running `python -m itflow_api serve`: the same ini
file read again, applied without refusing or losing a request; an invalid file changes
nothing; a stop after (or during) a reload is still clean. The observable setting is
[server] max_limit: the row cap of a read asked for `limit=100`."""
import os
import signal
import socket
import threading
import time

import pytest
import requests
from helpers import make_key
from test_shutdown import SLOW_ENDPOINT, Server, free_port, refused, write_ini

needs_posix = pytest.mark.skipif(not hasattr(os, "fork") or not os.path.exists("/proc/self/task"),
                                 reason="pre-forked workers and /proc are POSIX/Linux")


@pytest.fixture
def clients(db):
    with db.transaction(write=True):
        for i in range(4):
            db.insert("clients", {"client_name": f"Reload {i}"})


def rows(server, key):
    answer = requests.get(server.url("clients/read"), params={"api_key": key, "limit": 100}, timeout=30)
    assert answer.status_code == 200, answer.text
    return len(answer.json()["data"])


def wait_for(condition, seconds=40):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


class Load:
    """A few threads reading without pause; every outcome kept."""

    def __init__(self, server, key, threads=3):
        self.outcomes, self._lock, self._done = [], threading.Lock(), threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(server, key), daemon=True) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def _run(self, server, key):
        while not self._done.is_set():
            try:
                answer = requests.get(server.url("clients/read"), params={"api_key": key, "limit": 100}, timeout=30)
                outcome = answer.status_code if answer.status_code != 200 else len(answer.json()["data"])
            except requests.RequestException as exc:
                outcome = "refused" if refused(exc) else f"lost: {exc!r}"
            with self._lock:
                self.outcomes.append(outcome)

    def stop(self):
        self._done.set()
        for thread in self._threads:
            thread.join(40)
        return self.outcomes


def stop_and_check_nothing_left(server, children):
    assert server.stop() == 0, server.output
    assert wait_for(lambda: not [pid for pid in children if alive(pid)], 20), "a worker outlived the stop"
    with socket.socket() as probe:  # (connections in TIME_WAIT do not count: SO_REUSEADDR)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", server.port))  # nobody holds the port any more


@needs_posix
@pytest.mark.parametrize("workers", [1, 2])
def test_sighup_applies_a_changed_config_without_losing_a_request(config, db, keys, tmp_path, clients, workers):
    key = make_key(keys)
    port = free_port()
    ini = write_ini(config, tmp_path, port=port, workers=workers, max_limit=2)
    server = Server(ini, port)
    children = []
    try:
        assert rows(server, key) == 2
        before = server.children()
        assert len(before) == (workers if workers > 1 else 0)
        load = Load(server, key)
        time.sleep(1)
        write_ini(config, tmp_path, port=port, workers=workers, max_limit=3)
        server.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: rows(server, key) == 3), server.output
        time.sleep(1)  # the load goes on over the new configuration too
        outcomes = load.stop()
        assert set(outcomes) <= {2, 3}, ([o for o in outcomes if o not in (2, 3)], server.output)
        assert outcomes.count(2) and outcomes.count(3)
        assert outcomes[-1] == 3
        if workers > 1:
            assert "reloaded (SIGHUP): 2 new worker(s) started" in server.output
            assert wait_for(lambda: not [pid for pid in before if alive(pid)]), "the old workers kept running"
            children = server.children()
            assert len(children) == 2 and not set(children) & set(before)
        else:  # the same process, executed again on the same socket
            assert "reloading (SIGHUP)" in server.output
            assert server.output.count("serving on http") == 2
            assert server.proc.poll() is None
    finally:
        stop_and_check_nothing_left(server, children)


@needs_posix
@pytest.mark.parametrize("http_server, workers", [("waitress", 1), ("waitress", 2), ("granian", 2)])
def test_sighup_with_an_invalid_config_keeps_serving_the_old_one(config, db, keys, tmp_path, clients,
                                                                  http_server, workers):
    if http_server == "granian":
        pytest.importorskip("granian", reason="the granian extra is not installed")
    key = make_key(keys)
    port = free_port()
    server = Server(write_ini(config, tmp_path, port=port, workers=workers, max_limit=2, http_server=http_server),
                    port, ready=r"Started worker-2" if http_server == "granian" else Server.READY)
    before = server.children() if http_server == "waitress" else []
    try:
        (tmp_path / "config.ini").write_text((tmp_path / "config.ini").read_text().replace(
            "max_limit = 2", "max_limit = lots"))
        server.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "reload refused" in server.output), server.output
        error = [line for line in server.lines if "reload refused" in line]
        assert len(error) == 1 and "ERROR" in error[0] and "max_limit" in error[0], error
        assert "still serving with the previous configuration" in error[0]
        answers = []
        for _ in range(8):  # granian respawns its workers anyway (on the old configuration): a
            # connection may meet one going away, so only answers are compared there
            answers.append(_answers(server, key) if http_server == "granian" else rows(server, key))
            time.sleep(0.5)
        assert set(answers) - {None} == {2}, answers
        assert http_server == "granian" or server.children() == before
        assert server.output.count("serving on http") <= 1
    finally:
        stop_and_check_nothing_left(server, before)


@needs_posix
def test_a_changed_port_waits_for_a_restart(config, db, keys, tmp_path, clients):
    key = make_key(keys)
    port = free_port()
    server = Server(write_ini(config, tmp_path, port=port, workers=2, max_limit=2), port)
    try:
        write_ini(config, tmp_path, port=free_port(), workers=2, max_limit=3)
        server.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: rows(server, key) == 3), server.output  # on the old port
        assert "applies only after a restart" in server.output
    finally:
        stop_and_check_nothing_left(server, [])


@needs_posix
def test_sigterm_during_a_single_process_reload_stops_cleanly(config, db, keys, tmp_path, clients):
    key = make_key(keys)
    (tmp_path / "custom").mkdir()
    (tmp_path / "custom" / "slow.py").write_text(SLOW_ENDPOINT)
    port = free_port()
    server = Server(write_ini(config, tmp_path, port=port, workers=1, custom_endpoints=tmp_path,
                              shutdown_timeout=20), port)
    answers = []
    slow = threading.Thread(target=lambda: answers.append(requests.get(
        server.url("custom/slow"), params={"api_key": key, "seconds": "2"}, timeout=30).status_code))
    slow.start()
    time.sleep(0.5)
    server.proc.send_signal(signal.SIGHUP)  # waits for the slow request before executing again
    assert wait_for(lambda: "reloading (SIGHUP)" in server.output, 10), server.output
    server.proc.send_signal(signal.SIGTERM)
    slow.join(30)
    assert answers == [200]
    assert server.stop(None) == 0, server.output
    assert server.output.count("serving on http") == 1  # it stopped instead of starting again


@needs_posix
def test_sighup_under_granian_reloads_its_workers(config, db, keys, tmp_path, clients):
    pytest.importorskip("granian", reason="the granian extra is not installed")
    key = make_key(keys)
    port = free_port()
    server = Server(write_ini(config, tmp_path, port=port, workers=2, max_limit=2, http_server="granian"), port,
                    ready=r"Started worker-2")
    try:
        assert wait_for(lambda: _answers(server, key) == 2)
        write_ini(config, tmp_path, port=port, workers=2, max_limit=3, http_server="granian")
        server.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "reloaded (SIGHUP)" in server.output), server.output
        assert wait_for(lambda: all(_answers(server, key) == 3 for _ in range(4))), server.output
        assert server.proc.poll() is None
    finally:
        assert server.stop() == 0, server.output


def _answers(server, key):
    try:
        return rows(server, key)
    except (requests.RequestException, AssertionError):
        return None

