"""The database goes away (issue 11, item 2): a MariaDB server of the test's own is stopped,
started, frozen (SIGSTOP) and thawed (SIGCONT) under a running app. Every request answers
promptly: 503 with the envelope and Retry-After while the database is away, 200 again as soon
as it is back, without a restart. The log names the driver's error, never the key.

Runs with ITFLOW_TEST_BACKEND=mysql, with that run's driver (ITFLOW_TEST_MYSQL_DRIVER), where
mariadbd and mariadb-install-db are installed. ITFLOW_TEST_OUTAGE=required (as .ci/run sets
it) turns a missing server binary into a failure instead of a skip.
"""
import json
import logging
import time
from datetime import date, timedelta

import pytest
from falcon import testing
from helpers import MYSQL_DRIVER, SECRET
from mariadb_private import PrivateMariaDB, require_for_module

from itflow_api.lib.access.keys import KeyStore
from itflow_api.lib.db.database import Database
from itflow_api.lib.web.app import create_app
from itflow_api.lib.web.config import Config

CONNECT_TIMEOUT = READ_TIMEOUT = 0.5
# mysqlclient (libmariadb) takes whole seconds: 0.5 becomes 1.
WAIT = READ_TIMEOUT if MYSQL_DRIVER == "pymysql" else 1.0
SLACK = 0.5  # a shared, busy machine

require_for_module()

TIMES = {}  # what each test measured, printed at the end (pytest -s shows it)


class Outage:
    def __init__(self, base):
        self.server = PrivateMariaDB(base)
        self.server.start()
        with self.server.connect() as conn, conn.cursor() as cur:
            cur.execute("CREATE DATABASE itflow_outage CHARACTER SET utf8mb4")
        cfg = Config()
        cfg.security.key_hash_secret = SECRET
        d = cfg.database
        d.backend, d.host, d.port, d.user, d.password, d.name = "mysql", "127.0.0.1", self.server.port, "root", "", \
            "itflow_outage"
        d.driver, d.connect_timeout, d.read_timeout = MYSQL_DRIVER, CONNECT_TIMEOUT, READ_TIMEOUT
        self.db = Database.from_config(d)
        self.db.create_schema()
        with self.db.transaction(write=True):
            self.db.insert("clients", {"client_name": "present"})  # so that a read has a row
        keys = KeyStore(self.db, SECRET.encode())
        self.key, _ = keys.create("outage key", (date.today() + timedelta(days=30)).isoformat())
        self.client = testing.TestClient(create_app(cfg, self.db, keys))

    def request(self, method, path, **body):
        """(status, envelope, Retry-After, seconds taken)."""
        started = time.monotonic()
        if method == "GET":
            result = self.client.simulate_get(f"/api/v1/{path}.php", params={"api_key": self.key})
        else:
            result = self.client.simulate_post(f"/api/v1/{path}.php", json={"api_key": self.key, **body})
        took = time.monotonic() - started
        return result.status_code, json.loads(result.text), result.headers.get("retry-after"), took

    def read(self):
        return self.request("GET", "clients/read")

    def write(self, name):
        return self.request("POST", "clients/create", client_name=name)

    def names(self):
        with self.server.connect(database="itflow_outage") as conn, conn.cursor() as cur:
            cur.execute("SELECT client_name FROM clients ORDER BY client_id")
            return [r[0] for r in cur.fetchall()]


@pytest.fixture(scope="module")
def running_outage(tmp_path_factory):
    setup = Outage(tmp_path_factory.mktemp("outage"))
    yield setup
    setup.db.close()
    setup.server.close()
    print(f"\noutage times ({MYSQL_DRIVER}, connect/read timeout {CONNECT_TIMEOUT} s):")
    for what, seconds in TIMES.items():
        print(f"  {what:<48} {seconds:6.3f} s")


@pytest.fixture
def outage(running_outage):
    """The setup with its server running, whatever the test before left it in."""
    running_outage.server.thaw()
    if running_outage.server.process is None:
        running_outage.server.start()
    return running_outage


def unavailable(answer, bound):
    status, body, retry_after, took = answer
    assert status == 503, body
    assert body["success"] == "False" and body["count"] == 0 and body["data"] == [] and body["message"], body
    assert retry_after and int(retry_after) >= 1
    assert took < bound, f"503 after {took:.3f} s, bound {bound} s"
    return took


def served(answer):
    status, body, _, took = answer
    assert (status, body["success"]) == (200, "True"), body
    return took


def until_served(call, limit=10):
    """Seconds until `call()` is answered 200, and the answers that were not."""
    started, failures = time.monotonic(), []
    while True:
        answer = call()
        if answer[0] == 200 and answer[1]["success"] == "True":
            return time.monotonic() - started, failures
        failures.append(answer)
        assert time.monotonic() - started < limit, failures[-1]
        time.sleep(0.05)


def test_stopped_database_is_503_at_once_then_served_again_when_it_returns(outage, caplog):
    served(outage.read())
    outage.server.stop()
    with caplog.at_level(logging.ERROR, logger="itflow_api"):
        TIMES["stopped: read answered 503 in"] = unavailable(outage.read(), 1.0)
        TIMES["stopped: write answered 503 in"] = unavailable(outage.write("lost"), 1.0)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "database unavailable on GET /api/v1/clients/read.php" in logged
    # the driver's class (pymysql's and mysqlclient's OperationalError, mysql-connector's) and text
    assert ("OperationalError" in logged or "MySQLInterfaceError" in logged) and "Can't connect" in logged, logged
    assert outage.key not in logged

    outage.server.start()
    TIMES["restarted: first read served after"], failures = until_served(outage.read)
    assert failures == []  # the first request after the server is back is served
    TIMES["restarted: first write served after"], failures = until_served(lambda: outage.write("after restart"))
    assert failures == []
    assert "lost" not in outage.names() and "after restart" in outage.names()


def test_restart_between_requests_is_not_seen_by_clients(outage):
    for _ in range(3):
        served(outage.read())
    served(outage.write("before restart"))  # the write pool holds a connection now too
    outage.server.stop()
    outage.server.start()
    # The pooled connections died with the server: the read runs again on a new one.
    served(outage.read())
    outage.server.stop()
    outage.server.start()
    # A write notices at its transaction's first statement, before anything of it can have
    # been kept, so it may start over too.
    served(outage.write("after second restart"))
    assert outage.names().count("after second restart") == 1


def test_frozen_database_is_503_within_the_timeout_then_served_when_thawed(outage, caplog):
    served(outage.read())
    outage.server.freeze()
    try:
        with caplog.at_level(logging.ERROR, logger="itflow_api"):
            TIMES["frozen: read (pooled connection) answered 503 in"] = unavailable(outage.read(), WAIT + SLACK)
            TIMES["frozen: read (new connection) answered 503 in"] = unavailable(outage.read(), WAIT + SLACK)
            TIMES["frozen: write answered 503 in"] = unavailable(outage.write("frozen"), WAIT + SLACK)
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "database unavailable" in logged and outage.key not in logged
    finally:
        outage.server.thaw()
    TIMES["thawed: first read served after"], failures = until_served(outage.read)
    assert failures == []
    served(outage.write("thawed"))
    assert "frozen" not in outage.names() and "thawed" in outage.names()
