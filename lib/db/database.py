"""The database facade: the only object the rest of the server talks to a database through.

It is put together from pieces that each do one job, so that each fits on a screen:

* lib/db/drivers.py: connecting with pymysql, mysqlclient or sqlite3, and running a statement;
* lib/db/pool.py: idle connections kept for reuse (one pool for reads, one for writes);
* lib/db/connections.py: this thread's connection, transactions, lost-connection retry;
* lib/db/classify.py: what a driver error means (503, write conflict, refused value);
* lib/db/rendering.py: rows as MySQL's text protocol renders them, on SQLite too;
* lib/db/statements.py: insert / update / delete / count / take_number;
* lib/db/catalogue.py: table and column names, and creating ITFlow's schema.

SQL is written with :named binds, translated once per statement text to the driver's style;
identifiers come only from module definitions, never from a request. Connect and read
timeouts are settings, so a stopped or frozen server ends in a DatabaseError (503) instead of
a hang.

No ORM and no query builder: the DDL is our own (lib/itflow/schema.py, with MySQL/SQLite
differences no portable layer expresses: NOCASE text, ON UPDATE triggers), the inspection
needed is two catalogue queries, and on the request path an engine's connection and
transaction bookkeeping would cost more than the queries themselves.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote, urlsplit

from .catalogue import Catalogue
from .connections import Connections
from .drivers import mysql_connector, mysql_driver, mysql_errors, sqlite_connector, sqlite_errors
from .pool import Pool
from .rendering import SqliteRenderers, mysql_rows
from .statements import Statements

_DRIVER_SCHEMES = {"pymysql": "mysql+pymysql", "mysqlclient": "mysql+mysqldb", "connector": "mysql+mysqlconnector"}
_SCHEME_DRIVERS = {scheme: driver for driver, scheme in _DRIVER_SCHEMES.items()}


class Database(Statements, Catalogue, Connections):
    def __init__(self, url: str, dialect: str | None = None, pool_size: int = 8,
                 connect_timeout: float = 2.0, read_timeout: float = 5.0) -> None:
        """`url`: mysql+pymysql://user:password@host:port/name, mysql+mysqldb://...
        (mysqlclient), mysql+mysqlconnector://... (mysql-connector's C extension) or
        sqlite:///path. Timeouts are in seconds; on SQLite, read_timeout is how long a
        statement waits for another writer's lock."""
        parts = urlsplit(url)
        self.dialect = dialect or ("sqlite" if parts.scheme == "sqlite" else "mysql")
        self.read_timeout = read_timeout
        if self.dialect == "mysql":
            driver = _SCHEME_DRIVERS.get(parts.scheme, "pymysql")
            self._secret = unquote(parts.password or "")
            connect, connect_writer = (
                mysql_connector(driver, parts.hostname or "127.0.0.1", parts.port or 3306,
                                unquote(parts.username or ""), self._secret, unquote(parts.path.lstrip("/")),
                                connect_timeout, read_timeout, autocommit)
                for autocommit in (True, False))
            self._errors: tuple = mysql_errors()  # after mysql_connector(): its driver is loaded
            # mysqlclient: statements go straight to its C connection (no cursor object) and
            # each row's dict is built in C, several times faster than zipping tuples.
            self._dict_rows = driver == "mysqlclient"
            self._connector = driver == "connector"
        else:
            self._dict_rows = self._connector = False
            self._secret = ""
            connect = sqlite_connector(unquote(url[len("sqlite:///"):]), read_timeout)
            connect_writer = None  # SQLite: BEGIN IMMEDIATE is a local call, not a round trip
            self._errors = (*sqlite_errors(), OverflowError)  # sqlite_connector has loaded sqlite3
        self._pool = Pool(connect, pool_size)
        self._write_pool = Pool(connect_writer, pool_size) if connect_writer else None
        # take_number() counts outside the caller's transaction (MySQL), so a rollback keeps it.
        self.numbers_outlive_rollback = self.dialect == "mysql"
        self._start_connections()
        self._sqlite_renderers = SqliteRenderers()
        self._statements: dict[str, str] = {}  # SQL text → the driver's form of it
        self._texts: dict = {}  # (kind, table, columns) → SQL text of insert/update/delete/count

    @classmethod
    def from_config(cls, dbconf: Any) -> Database:
        """The database a [database] config section names."""
        timeouts = {"connect_timeout": dbconf.connect_timeout, "read_timeout": dbconf.read_timeout}
        if dbconf.backend == "mysql":
            scheme = _DRIVER_SCHEMES[mysql_driver(dbconf.driver)]
            auth = quote(dbconf.user, safe="") + (":" + quote(dbconf.password, safe="") if dbconf.password else "")
            url = f"{scheme}://{auth}@{dbconf.host}:{dbconf.port}/{quote(dbconf.name, safe='')}"
            return cls(url, "mysql", dbconf.pool_size, **timeouts)
        return cls(f"sqlite:///{dbconf.path}", "sqlite", dbconf.pool_size, **timeouts)

    def rows(self, sql: str, params: dict | None = None) -> list[dict]:
        """All rows as dicts of MySQL-rendered strings, in column order."""
        keys, raw = self._on_connection(sql, params, fetch=True, retry=not getattr(self._local, "in_write", False))
        if self.dialect == "mysql":
            return mysql_rows(keys, raw, self._dict_rows, self._connector)
        return self._sqlite_renderers.rows(keys, raw)

    def row(self, sql: str, params: dict | None = None) -> dict | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def scalar(self, sql: str, params: dict | None = None) -> Any:
        found = self.row(sql, params)
        return None if found is None else next(iter(found.values()))
