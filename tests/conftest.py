"""Test fixtures. The whole suite runs against one backend per pytest run:

    ITFLOW_TEST_BACKEND=sqlite (default) or mysql
    ITFLOW_TEST_MYSQL_HOST / _PORT / _USER / _PASSWORD  (default 127.0.0.1:3306 root, no password)

Each run gets a fresh database (a temporary SQLite file, or a MySQL database with a random
name that is dropped at the end); every test starts from the seeded, otherwise empty schema.
"""
import contextlib
import logging
import tempfile
import json
import os
import secrets
from datetime import date, timedelta
from pathlib import Path

import pymysql
import pytest
from falcon import testing

from itflow_api.lib.itflow import schema
from itflow_api.lib.web.app import create_app
from itflow_api.lib.access.keys import KeyStore
from itflow_api.lib.web.config import Config
from itflow_api.lib.db.database import Database
from itflow_api.lib.web.middleware import access_log

BACKEND = os.environ.get("ITFLOW_TEST_BACKEND", "sqlite")
MYSQL = {
    "host": os.environ.get("ITFLOW_TEST_MYSQL_HOST", "127.0.0.1"),
    "port": int(os.environ.get("ITFLOW_TEST_MYSQL_PORT", "3306")),
    "user": os.environ.get("ITFLOW_TEST_MYSQL_USER", "root"),
    "password": os.environ.get("ITFLOW_TEST_MYSQL_PASSWORD", ""),
}
MYSQL_DRIVER = os.environ.get("ITFLOW_TEST_MYSQL_DRIVER", "pymysql")
SECRET = "test-secret-" + secrets.token_hex(8)


def pytest_report_header(config):
    return f"itflow-api backend: {BACKEND}" + (f" via {MYSQL_DRIVER}" if BACKEND == "mysql" else "")


def _admin_connection():
    return pymysql.connect(autocommit=True, **MYSQL)


@contextlib.contextmanager
def fresh_config(directory):
    """A Config pointing at a brand-new empty database, dropped afterwards."""
    cfg = Config()
    cfg.security.key_hash_secret = SECRET
    cfg.server.max_body_bytes = 64 * 1024
    cfg.log.access_log = str(SERVER_LOG)
    if BACKEND == "mysql":
        name = f"itflow_test_{secrets.token_hex(4)}"
        with _admin_connection() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        cfg.database.backend = "mysql"
        cfg.database.host, cfg.database.port = MYSQL["host"], MYSQL["port"]
        cfg.database.user, cfg.database.password = MYSQL["user"], MYSQL["password"]
        cfg.database.name = name
        cfg.database.driver = MYSQL_DRIVER
    else:
        cfg.database.path = str(directory / "test.sqlite3")
    try:
        yield cfg
    finally:
        if BACKEND == "mysql":
            with _admin_connection() as conn, conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{cfg.database.name}`")


@pytest.fixture(scope="session")
def config(tmp_path_factory):
    with fresh_config(tmp_path_factory.mktemp("db")) as cfg:
        yield cfg


@pytest.fixture(scope="session")
def database(config):
    db = Database.from_config(config.database)
    db.create_schema()
    yield db
    db.close()


@pytest.fixture
def db(database):
    """The database, emptied back to its seed rows before the test."""
    with database.transaction(write=True):
        for table in schema.tables():
            database.execute(f"DELETE FROM {table}")
    database.create_schema()
    return database


@pytest.fixture
def keys(db):
    return KeyStore(db, SECRET.encode())


@pytest.fixture
def app(config, db, keys):
    APP_USED.append(True)
    return create_app(config, db, keys)


class Api:
    """A test client that speaks the contract: every answer must be a JSON envelope."""

    def __init__(self, app):
        self.client = testing.TestClient(app)

    def _check(self, result):
        assert result.headers.get("content-type", "").startswith("application/json"), result.text
        body = json.loads(result.text)
        assert body["success"] in ("True", "False"), body
        return result.status_code, body

    def get(self, path, key=None, headers=None, **params):
        if key is not None:
            params["api_key"] = key
        return self._check(self.client.simulate_get(f"/api/v1/{path}.php", params=params, headers=headers))

    def post(self, path, body=None, key=None, headers=None, raw=None, query=None):
        payload = dict(body or {})
        if key is not None:
            payload["api_key"] = key
        kwargs = {"body": raw} if raw is not None else {"json": payload}
        return self._check(self.client.simulate_post(
            f"/api/v1/{path}.php", headers=headers, params=query, **kwargs))

    def request(self, method, path, **kwargs):
        return self._check(self.client.simulate_request(method, path, **kwargs))


@pytest.fixture
def api(app):
    return Api(app)


def make_key(keys, client_id=0, expire=None, decrypt_password=None, **kwargs):
    expire = expire or (date.today() + timedelta(days=30)).isoformat()
    presented, _ = keys.create("test key", expire, client_id, decrypt_password, **kwargs)
    SECRETS_USED.update(s for s in (presented, decrypt_password, kwargs.get("unlock_password")) if s)
    return presented


# Everything the server logs during the run (access log and the itflow_api logger), and every
# key and decrypt password the tests made: none of the latter may appear in the former.
SERVER_LOG = Path(tempfile.mkdtemp(prefix="itflow-api-test-log-")) / "server.log"
SECRETS_USED = set()
APP_USED = []  # set once an in-process app has been made (subprocess servers log elsewhere)


@pytest.fixture(scope="session", autouse=True)
def no_secret_reaches_the_server_log():
    handler = logging.FileHandler(SERVER_LOG, encoding="utf-8")
    logging.getLogger("itflow_api").addHandler(handler)
    yield
    logging.getLogger("itflow_api").removeHandler(handler)
    handler.close()
    access_log.flush()  # it writes its lines in batches
    written = SERVER_LOG.read_text(encoding="utf-8", errors="replace") if SERVER_LOG.exists() else ""
    leaked = sorted(s for s in SECRETS_USED if len(s) >= 6 and s in written)
    assert written or not APP_USED, "the server logged nothing: the access log is not being written"
    assert not leaked, f"{len(leaked)} secrets used by the tests appear in the server log {SERVER_LOG}"


@pytest.fixture
def all_key(keys):
    """An all-clients key."""
    return make_key(keys)


@pytest.fixture
def make_client(db):
    def create(name="Client", **columns):
        with db.transaction(write=True):
            return db.insert("clients", {"client_name": name, **columns})
    return create


@pytest.fixture
def two_clients(make_client, keys):
    """Two clients and a key scoped to the first: (client_a, client_b, key_for_a)."""
    a = make_client("Alpha")
    b = make_client("Bravo")
    return a, b, make_key(keys, client_id=a)
