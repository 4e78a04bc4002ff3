"""A MariaDB server that a test owns: its own data directory under a temporary directory, its
own port on 127.0.0.1, no system configuration, no grant tables (nothing but the test can
reach it). The test may stop, start, freeze (SIGSTOP) and thaw (SIGCONT) it.

    server = PrivateMariaDB(tmp_path)   # installs the data directory
    server.start(); server.stop(); server.freeze(); server.thaw(); server.close()
"""
import os
import shutil
import signal
import socket
import subprocess
import time

import pymysql

MARIADBD = shutil.which("mariadbd") or ("/usr/sbin/mariadbd" if os.path.exists("/usr/sbin/mariadbd") else "")
INSTALL_DB = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db") or ""


def missing():
    """Why a private server cannot run here ('' when it can)."""
    absent = [name for name, path in (("mariadbd", MARIADBD), ("mariadb-install-db", INSTALL_DB)) if not path]
    return (", ".join(absent) + " not found (apt-get install mariadb-server)") if absent else ""


def require_for_module():
    """Skip the calling test module unless ITFLOW_TEST_BACKEND=mysql and a private server can
    run here; with ITFLOW_TEST_OUTAGE=required (as .ci/run sets it) a missing binary fails it."""
    import pytest

    if os.environ.get("ITFLOW_TEST_BACKEND", "sqlite") != "mysql":
        pytest.skip("runs with ITFLOW_TEST_BACKEND=mysql (once per driver)", allow_module_level=True)
    if missing():
        if os.environ.get("ITFLOW_TEST_OUTAGE") == "required":
            pytest.fail(f"a private MariaDB server is required, but {missing()}", pytrace=False)
        pytest.skip(f"needs a private MariaDB server: {missing()}", allow_module_level=True)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateMariaDB:
    def __init__(self, base_dir, start_timeout=60):
        self.dir = os.path.join(str(base_dir), "mariadb")
        self.datadir = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "error.log")
        self.port = _free_port()
        self.start_timeout = start_timeout
        self.process = None
        os.makedirs(self.datadir)
        # mariadbd runs as the user who starts it; root must say so explicitly.
        self._user = ["--user=root"] if os.geteuid() == 0 else []
        subprocess.run([INSTALL_DB, "--no-defaults", f"--datadir={self.datadir}", "--skip-test-db",
                        "--auth-root-authentication-method=normal", *self._user],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, timeout=start_timeout * 2)

    def start(self):
        """Start the server and wait until it answers."""
        args = [MARIADBD, "--no-defaults", f"--datadir={self.datadir}", f"--port={self.port}",
                "--bind-address=127.0.0.1", f"--socket={os.path.join(self.dir, 'mysqld.sock')}",
                f"--pid-file={os.path.join(self.dir, 'mysqld.pid')}", f"--log-error={self.log}",
                "--skip-grant-tables", "--skip-name-resolve", "--skip-log-bin",
                "--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M",
                "--max-connections=200", *self._user]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"mariadbd exited with {self.process.returncode}: {self._log_tail()}")
            try:
                self.connect().close()
                return
            except pymysql.err.OperationalError as err:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"mariadbd did not answer within {self.start_timeout} s: {self._log_tail()}") from err
                time.sleep(0.05)

    def connect(self, **kwargs):
        return pymysql.connect(host="127.0.0.1", port=self.port, user="root", password="", connect_timeout=2,
                               read_timeout=10, autocommit=True, **kwargs)

    def stop(self):
        """A clean shutdown (SIGTERM), waited for."""
        if self.process is None:
            return
        self.thaw()
        self.process.terminate()
        try:
            self.process.wait(self.start_timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def freeze(self):
        """SIGSTOP, then wait until every thread is stopped: kill() returns before a thread
        running on another core has taken the signal, and such a thread still answers."""
        os.kill(self.process.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while not self._all_threads_stopped():
            if time.monotonic() > deadline:
                raise RuntimeError("mariadbd did not stop within 5 s of SIGSTOP")
            time.sleep(0.005)

    def _all_threads_stopped(self):
        tasks = f"/proc/{self.process.pid}/task"
        for tid in os.listdir(tasks):
            try:
                with open(f"{tasks}/{tid}/stat", encoding="ascii") as handle:
                    state = handle.read().rsplit(")", 1)[1].split()[0]
            except OSError:  # the thread has just ended
                continue
            if state not in ("T", "t"):
                return False
        return True

    def thaw(self):
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _log_tail(self):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as handle:
                return handle.read()[-2000:]
        except OSError:
            return "(no error log)"
