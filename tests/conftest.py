"""Test fixtures and hooks. The whole suite runs against one backend per pytest run:

    ITFLOW_TEST_BACKEND=sqlite (default) or mysql
    ITFLOW_TEST_MYSQL_HOST / _PORT / _USER / _PASSWORD  (default 127.0.0.1:3306 root, no password)

Each run gets a fresh database (a temporary SQLite file, or a MySQL database with a random
name that is dropped at the end); every test starts from the seeded, otherwise empty schema.
What the fixtures are built from (the backend settings, fresh_config, Api, make_key) lives in
helpers.py, which test modules import; this file holds only fixtures and pytest hooks.
"""
import logging

import pytest
from helpers import APP_USED, BACKEND, MYSQL_DRIVER, SECRET, SECRETS_USED, SERVER_LOG, Api, fresh_config, make_key

from itflow_api.lib.access.keys import KeyStore
from itflow_api.lib.db.database import Database
from itflow_api.lib.itflow import schema
from itflow_api.lib.web.app import create_app
from itflow_api.lib.web.middleware import access_log


def pytest_report_header(config):
    return f"itflow-api backend: {BACKEND}" + (f" via {MYSQL_DRIVER}" if BACKEND == "mysql" else "")


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
        # The rate-limit counters live in the database too: one test's wrong keys must not
        # count against the next test's address and keys.
        if "itflow_api_counters" in database.table_names():
            database.execute("DELETE FROM itflow_api_counters")
    database.create_schema()
    return database


@pytest.fixture
def keys(db):
    return KeyStore(db, SECRET.encode())


@pytest.fixture
def app(config, db, keys):
    APP_USED.append(True)
    return create_app(config, db, keys)


@pytest.fixture
def api(app):
    return Api(app)


@pytest.fixture(scope="session", autouse=True)
def no_secret_reaches_the_server_log():
    """No key or decrypt password the tests made (helpers.SECRETS_USED) appears in what the
    server logged during the run (helpers.SERVER_LOG)."""
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


@pytest.fixture
def clock(monkeypatch):
    """The API's clock held where the test sets it: clock["now"] = "2026-01-02 03:04:05"."""
    from itflow_api.lib.core import values
    instant = {}
    monkeypatch.setattr(values, "now", lambda: instant["now"])
    return instant


@pytest.fixture(scope="module")
def newest_database(tmp_path_factory):
    """(config, database) of a database in the newest ITFlow layout, one per test module."""
    from helpers import create_newest_schema
    with fresh_config(tmp_path_factory.mktemp("newest")) as cfg:
        db = Database.from_config(cfg.database)
        create_newest_schema(db)
        yield cfg, db
        db.close()

