"""Data access: the only module that knows which database it is talking to.

Rows come back as MySQL's text protocol renders them (every value a string, NULL as None),
because that is what PHP's mysqli hands ITFlow and what API clients depend on:

* MySQL/MariaDB: the driver runs without result decoders, so the server's own text is passed
  through untouched: exact, and cheaper than converting to Python types and back.
* SQLite: values are rendered from the ITFlow column type of the same name (decimals with
  their scale, integers without a fraction, floats as MySQL prints a FLOAT).

How statements run (a read is one round trip per query):

* A small pool of raw driver connections (pymysql, mysqlclient or sqlite3), in autocommit
  mode. A read is its statement and nothing else: no ping before it, no BEGIN/COMMIT around
  it. A write block, `transaction(write=True)`, is a real transaction ending in COMMIT or
  ROLLBACK. On MySQL it runs on a second pool of connections without autocommit, where the
  first statement begins the transaction (no BEGIN round trip); on SQLite it starts with
  BEGIN IMMEDIATE, so that it holds the write lock from its first read.
* A pooled connection is not checked before use. When it turns out dead (the server
  restarted, or dropped it while idle) the other idle ones are dropped too, and a read, a
  BEGIN or a transaction's first statement is tried once more on a new connection. Any
  other write is never replayed: it may have run before the connection broke.
* Connect and read timeouts are settings, so a stopped or frozen server ends in a
  DatabaseError (503) instead of a hang.
* SQL is written with :named binds, translated once per statement text to the driver's style;
  identifiers come only from module definitions, never from a request.

dataset/SQLAlchemy are not used here: the DDL is our own (schema.create_statements, with
MySQL/SQLite differences no portable layer expresses: NOCASE text, ON UPDATE triggers),
and the inspection callers need is two catalogue queries. An engine for those alone would be
a second pool with its own connect settings and timeouts to keep in line with this one, and
on the request path its connection and transaction bookkeeping cost more than the queries.
"""
import collections
import contextlib
import math
import os
import re
import sqlite3
import threading
import time
import weakref
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import quote, unquote, urlsplit

import pymysql

from . import schema

try:  # optional C driver (pip install 'itflow-api[fast]'): same rows, parsed several times faster
    import MySQLdb
    from MySQLdb.constants import FIELD_TYPE as _F
except ImportError:
    MySQLdb = None


class DatabaseError(Exception):
    """The database cannot be reached or cannot serve now (lost connection, timeout, locked,
    deadlock): a 503 for the caller. The message names the driver's error class and text."""


class WriteConflict(DatabaseError):
    """The transaction lost to another one (deadlock, lock wait timeout, a Galera certification
    conflict, which is reported as a deadlock) or the node is not ready (WSREP, 1047). It was
    rolled back whole, so running all of it again is safe (lib/retry.py)."""


class ValueRefused(Exception):
    """The database refused a value from the request (out of range, too long, wrong type).
    `column` names the column when the database said which one, else None."""

    def __init__(self, message, column=None):
        super().__init__(message)
        self.column = column


# --- drivers ---------------------------------------------------------------------------

# Encoders only (keyed by Python type): with no decoders pymysql hands back the server's text.
_PYMYSQL_ENCODERS = {k: v for k, v in pymysql.converters.conversions.items() if not isinstance(k, int)}


def _mysql_value(value):
    return value.decode("utf-8", "replace") if type(value) is bytes else value


def _mysqlclient_conversions():
    # `str` as the converter of every number and date type: mysqlclient (2.1+) then decodes
    # the server's text itself, in C, with no Python call per value; exactly pymysql's text.
    from MySQLdb.converters import conversions
    encoders = {k: v for k, v in conversions.items() if not isinstance(k, int)}  # Python → SQL, kept
    decoders = {getattr(_F, name): str for name in (
        "TINY", "SHORT", "INT24", "LONG", "LONGLONG", "FLOAT", "DOUBLE", "YEAR",
        "DECIMAL", "NEWDECIMAL", "DATE", "TIME", "DATETIME", "TIMESTAMP")}
    return {**encoders, **decoders}


def mysql_driver(choice):
    """'pymysql' or 'mysqlclient' for a [database] driver setting of auto/pymysql/mysqlclient."""
    if choice == "auto":
        return "mysqlclient" if MySQLdb is not None else "pymysql"
    if choice == "mysqlclient" and MySQLdb is None:
        raise DatabaseError("driver = mysqlclient, but it is not installed: pip install 'itflow-api[fast]'")
    return choice


def _mysql_connector(driver, host, port, user, password, database, connect_timeout, read_timeout, autocommit):
    # No CLIENT_FOUND_ROWS (neither driver sets it unasked): an UPDATE reports the rows it
    # changed, as it does for ITFlow. Autocommit (the read pool): a read needs no BEGIN/COMMIT.
    # Without it (the write pool) a transaction begins with its first statement: no BEGIN.
    common = dict(host=host, port=port, user=user, password=password, database=database,
                  charset="utf8mb4", autocommit=autocommit, client_flag=0)
    if driver == "mysqlclient":
        whole = lambda seconds: max(1, math.ceil(seconds))  # noqa: E731 (libmariadb takes whole seconds)
        conv = _mysqlclient_conversions()
        return lambda: MySQLdb.connect(conv=conv, connect_timeout=whole(connect_timeout),
                                       read_timeout=whole(read_timeout), write_timeout=whole(read_timeout),
                                       **common)
    return lambda: pymysql.connect(conv=_PYMYSQL_ENCODERS, connect_timeout=connect_timeout,
                                   read_timeout=read_timeout, write_timeout=read_timeout, **common)


def _sqlite_connector(path, busy_timeout):
    # isolation_level=None: sqlite3 starts no transactions of its own; we BEGIN for writes.
    return lambda: sqlite3.connect(path, timeout=busy_timeout, check_same_thread=False, isolation_level=None)


_MYSQL_ERRORS = (pymysql.err.Error,) + ((MySQLdb.Error,) if MySQLdb is not None else ())
_MYSQL_INTERFACE = (pymysql.err.InterfaceError,) + ((MySQLdb.InterfaceError,) if MySQLdb is not None else ())
# Server codes that mean "this connection is gone" (shutdown, killed, idle too long); every
# client-side code (2000-2999: cannot connect, lost, gone away) means the same.
_LOST_CODES = {1053, 1927, 4031}
# Server codes that mean "cannot serve now": worth a 503 and a retry later, not a 500.
_BUSY_CODES = {1040, 1044, 1045, 1049, 1203, 1205, 1213, 1047}
_CONFLICT_CODES = {1205, 1213, 1047}  # WriteConflict: the whole transaction may run again
# Server codes for a value the server would not store (strict mode): the request's fault.
_INPUT_CODES = {
    1264: "is out of range",
    1265: "is not allowed (it would be truncated)",
    1292: "is not a valid value",
    1366: "is not a valid value",
    1406: "is too long",
}
_COLUMN_IN_MESSAGE = re.compile(r"column [`'\"]?(\w+)", re.IGNORECASE)
_SQLITE_BUSY = ("locked", "busy", "unable to open", "disk i/o", "readonly")
# SQLite's size limits, reached only by what a request asked for (thousands of sort terms,
# filters nested hundreds deep): a refusal of the request, like a value out of range.
_SQLITE_LIMITS = ("too many", "too large", "too big", "too complex", "stack overflow")


def _code(exc):
    code = exc.args[0] if exc.args else None
    return code if isinstance(code, int) else None


def _lost(exc):
    """True when `exc` says the connection itself is unusable."""
    if isinstance(exc, _MYSQL_INTERFACE):
        return True
    code = _code(exc)
    return code is not None and (2000 <= code < 3000 or code in _LOST_CODES)


def _unavailable(exc):
    if isinstance(exc, sqlite3.OperationalError):
        return any(word in str(exc).lower() for word in _SQLITE_BUSY)
    return _lost(exc) or _code(exc) in _BUSY_CODES


# --- rendering (SQLite) ----------------------------------------------------------------

def _render_decimal(scale):
    quantum = Decimal(1).scaleb(-scale)

    def render(value):
        if isinstance(value, str):
            value = Decimal(value)
        elif isinstance(value, float):
            value = Decimal(repr(value))
        else:
            value = Decimal(value)
        return str(value.quantize(quantum, rounding=ROUND_HALF_UP))  # as MySQL rounds DECIMAL
    return render


def _render_float(value):
    # MySQL prints a FLOAT with up to 6 significant digits and no trailing zeros.
    return format(float(value), ".6g")


def _render_plain(value):
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _sqlite_renderer(column_name):
    col = schema.column_types().get(column_name)
    if col is not None and col.scale is not None:
        return _render_decimal(col.scale)
    if col is not None and col.base_type in ("float", "double"):
        return _render_float
    return _render_plain


# :name binds (not '::' casts, not '00:00:00' literals).
_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")
# Columns the server sends as bytes (binary collation); everything else arrives as text.
_BINARY_COLUMNS = {c.name for c in schema.column_types().values() if "binary" in c.type or "blob" in c.type}
_INT64 = (-(2 ** 63), 2 ** 63 - 1)


class _Pool:
    """Idle connections, newest first. Never waits: when none is idle a new one is opened
    (the server's threads bound how many are in use); at most `size` are kept idle."""

    def __init__(self, connect, size):
        self.connect = connect
        self.size = size
        self._idle = collections.deque()  # append/pop are atomic: no lock needed
        this = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: this() and this()._forget())

    def get(self):
        try:
            return self._idle.pop()
        except IndexError:
            return self.connect()

    def put(self, conn):
        if len(self._idle) < self.size:
            self._idle.append(conn)
        else:
            _close(conn)

    def drop_idle(self):
        while True:
            try:
                _close(self._idle.pop())
            except IndexError:
                return

    def _forget(self):
        # A forked child must not talk on its parent's sockets: it opens its own.
        self._idle = collections.deque()


def _close(conn):
    with contextlib.suppress(Exception):
        conn.close()


class Database:
    def __init__(self, url, dialect=None, pool_size=8, connect_timeout=2.0, read_timeout=5.0):
        """`url`: mysql+pymysql://user:password@host:port/name, mysql+mysqldb://... (mysqlclient)
        or sqlite:///path. Timeouts are in seconds; on SQLite, read_timeout is how long a
        statement waits for another writer's lock."""
        parts = urlsplit(url)
        self.dialect = dialect or ("sqlite" if parts.scheme == "sqlite" else "mysql")
        self.read_timeout = read_timeout
        if self.dialect == "mysql":
            driver = "mysqlclient" if parts.scheme.endswith("mysqldb") else "pymysql"
            self._secret = unquote(parts.password or "")
            connect, connect_writer = (
                _mysql_connector(driver, parts.hostname or "127.0.0.1", parts.port or 3306,
                                 unquote(parts.username or ""), self._secret, unquote(parts.path.lstrip("/")),
                                 connect_timeout, read_timeout, autocommit)
                for autocommit in (True, False))
            self._errors = _MYSQL_ERRORS
            # mysqlclient: statements go straight to its C connection (no cursor object) and
            # each row's dict is built in C, several times faster than zipping tuples.
            self._dict_rows = driver == "mysqlclient"
        else:
            self._dict_rows = False
            self._secret = ""
            connect = _sqlite_connector(unquote(url[len("sqlite:///"):]), read_timeout)
            connect_writer = None  # SQLite: BEGIN IMMEDIATE is a local call, not a round trip
            self._errors = (sqlite3.Error, OverflowError)
        self._pool = _Pool(connect, pool_size)
        self._write_pool = _Pool(connect_writer, pool_size) if connect_writer else None
        # take_number() counts outside the caller's transaction (MySQL), so a rollback keeps it.
        self.numbers_outlive_rollback = self.dialect == "mysql"
        self._local = threading.local()
        self._renderers = {}
        self._statements = {}  # SQL text → the driver's form of it
        self._texts = {}  # (kind, table, columns) → SQL text of insert/update/delete/count

    @classmethod
    def from_config(cls, dbconf):
        timeouts = {"connect_timeout": dbconf.connect_timeout, "read_timeout": dbconf.read_timeout}
        if dbconf.backend == "mysql":
            scheme = "mysql+mysqldb" if mysql_driver(dbconf.driver) == "mysqlclient" else "mysql+pymysql"
            auth = quote(dbconf.user, safe="") + (":" + quote(dbconf.password, safe="") if dbconf.password else "")
            url = f"{scheme}://{auth}@{dbconf.host}:{dbconf.port}/{quote(dbconf.name, safe='')}"
            return cls(url, "mysql", dbconf.pool_size, **timeouts)
        return cls(f"sqlite:///{dbconf.path}", "sqlite", dbconf.pool_size, **timeouts)

    # --- connections and transactions --------------------------------------------------

    def _unavailable_error(self, exc):
        text = f"{type(exc).__name__}: {exc}"
        if self._secret:
            text = text.replace(self._secret, "***")
        return (WriteConflict if _code(exc) in _CONFLICT_CODES else DatabaseError)(text)

    def _checkout(self, pool=None):
        try:
            return (pool or self._pool).get()
        except self._errors as exc:
            raise self._unavailable_error(exc) from exc

    @contextlib.contextmanager
    def transaction(self, write=False):
        """One unit of work on this thread's connection. A write block is one transaction,
        committed on success and rolled back on any exception; a read block runs each
        statement on its own (autocommit). Nested blocks join the outer one; a write block
        inside a read block is a transaction of its own."""
        local = self._local
        outer = getattr(local, "conn", None) is None
        if outer:
            local.pool = self._write_pool if write and self._write_pool else self._pool
            local.conn, local.in_write, local.broken = self._checkout(local.pool), False, False
        began = False
        try:
            if write and not local.in_write:
                implicit = local.pool is self._write_pool  # the first statement begins it
                if not implicit:
                    self._begin()
                local.in_write = began = True
                local.pristine = implicit
            yield self
        except BaseException:
            if began:
                self._end(local, "rollback")
            raise
        else:
            if began:
                self._end(local, "commit")
        finally:
            if began:
                local.in_write = False
            if outer:
                conn, local.conn = local.conn, None
                if local.broken:
                    _close(conn)
                else:
                    local.pool.put(conn)

    def _begin(self):
        # Nothing has run on the connection yet, so a dead one may be swapped for a new one.
        self._on_connection("BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN", None, fetch=False, retry=True)

    def _end(self, local, how):
        try:
            getattr(local.conn, how)()
        except self._errors as exc:
            # A connection whose rollback failed may still hold the transaction: it is closed
            # (the server then drops the transaction) rather than pooled for the next request.
            local.broken = local.broken or _lost(exc) or how == "rollback"
            if how == "commit":  # the outcome is unknown to us: the caller must hear of it
                raise self._unavailable_error(exc) from exc

    def _lost_connection(self):
        """This thread's connection broke: drop it and every idle one (they most likely
        broke with it, e.g. a server restart), and carry on with a new one."""
        local = self._local
        _close(local.conn)
        local.broken = True  # until a new connection replaces it
        self._drop_idle()
        local.conn = self._checkout(local.pool)
        local.broken = False

    # --- statements ----------------------------------------------------------------------

    def _on_connection(self, sql, params, fetch, retry=False):
        """Run `sql` on this thread's connection; returns (keys, rows) for a read,
        (rowcount, lastrowid) otherwise. `retry`: the statement may run a second time
        on a new connection when the first one was found dead (reads and BEGIN only, and
        the first statement of a transaction: a broken connection took nothing with it)."""
        local = self._local
        if getattr(local, "conn", None) is None:
            with self.transaction():
                return self._on_connection(sql, params, fetch, retry)
        native = self._native(sql)
        started = time.monotonic()
        if local.in_write and local.pristine:
            retry, local.pristine = True, False
        try:
            return self._run(local.conn, native, params, fetch)
        except self._errors as exc:
            # A dead connection fails at once; one that needed the whole timeout belongs to a
            # frozen or overloaded server, where a second wait would only double the hang.
            if retry and _lost(exc) and time.monotonic() - started < self.read_timeout / 2:
                self._lost_connection()
                try:
                    return self._run(local.conn, native, params, fetch)
                except self._errors as again:
                    raise self._translate(again, params) from again
            raise self._translate(exc, params) from exc

    def _run(self, conn, native, params, fetch):
        if self._dict_rows:
            return _run_mysqlclient(conn, native, params, fetch)
        cursor = conn.cursor()
        try:
            cursor.execute(native, params or ({} if self.dialect == "mysql" else ()))
            if fetch:
                return [d[0] for d in cursor.description], cursor.fetchall()
            return cursor.rowcount, cursor.lastrowid
        finally:
            cursor.close()

    def _translate(self, exc, params, conn_is_local=True):
        """The typed error for a driver error: ValueRefused, DatabaseError, or `exc` itself.
        A lost connection marks this thread's connection broken (unless the statement ran on
        one of its own) and drops the idle ones."""
        if self.dialect == "mysql" and _lost(exc):
            if conn_is_local:
                self._local.broken = True
            self._drop_idle()
        if isinstance(exc, OverflowError):  # sqlite3 binds 64-bit integers at most
            return ValueRefused(f"{_overflowing(params) or 'A value'} is out of range", _overflowing(params))
        if isinstance(exc, sqlite3.Error) and any(phrase in str(exc).lower() for phrase in _SQLITE_LIMITS):
            return ValueRefused(f"The request is more than the database can take ({exc}).")
        reason = _INPUT_CODES.get(_code(exc)) if self.dialect == "mysql" else None
        if reason:
            found = _COLUMN_IN_MESSAGE.search(str(exc.args[1]) if len(exc.args) > 1 else "")
            column = found.group(1) if found else None
            return ValueRefused(f"{column or 'A value'} {reason}", column)
        if _unavailable(exc):
            return self._unavailable_error(exc)
        return exc

    def _native(self, sql):
        found = self._statements.get(sql)
        if found is None:
            if self.dialect == "mysql":  # pyformat: %(name)s, literal % doubled
                found = _BIND.sub(r"%(\1)s", sql.replace("%", "%%"))
            else:  # sqlite3 reads :name itself
                found = sql
            if len(self._statements) < 4096:
                self._statements[sql] = found
        return found

    def rows(self, sql, params=None):
        """All rows as dicts of MySQL-rendered strings, in column order."""
        keys, raw = self._on_connection(sql, params, fetch=True, retry=not getattr(self._local, "in_write", False))
        if self.dialect == "mysql":
            if not self._dict_rows:
                rows = [dict(zip(keys, row)) for row in raw]
            elif len(set(keys)) < len(keys):
                # The C dicts name a repeated column "table.column"; PHP's fetch_assoc keeps
                # the last value under the plain name, and so do we.
                rows = [dict(zip(keys, row.values())) for row in raw]
            else:
                rows = list(raw)
            binary = [k for k in keys if k in _BINARY_COLUMNS]
            if binary:
                for row in rows:
                    for k in binary:
                        row[k] = _mysql_value(row[k])
            return rows
        renderers = [self._renderer(k) for k in keys]
        return [
            {k: (None if v is None else (v if type(v) is str else r(v))) for k, r, v in zip(keys, renderers, row)}
            for row in raw
        ]

    def _renderer(self, name):
        found = self._renderers.get(name)
        if found is None:
            found = self._renderers[name] = _sqlite_renderer(name)
        return found

    def row(self, sql, params=None):
        found = self.rows(sql, params)
        return found[0] if found else None

    def scalar(self, sql, params=None):
        found = self.row(sql, params)
        return None if found is None else next(iter(found.values()))

    # --- writes ------------------------------------------------------------------------

    def execute(self, sql, params=None):
        """Run a statement (never replayed); returns the number of rows it changed."""
        return self._on_connection(sql, params, fetch=False)[0]

    def _text(self, key, build):
        """The statement for `key` (its kind, table and column names), built once."""
        found = self._texts.get(key)
        if found is None:
            found = build()
            if len(self._texts) < 4096:
                self._texts[key] = found
        return found

    def insert(self, table, values):
        """Insert one row (NOT NULL columns without default get ITFlow's empty value); returns its id."""
        row = schema.filled_row(table, values)
        sql = self._text(("insert", table, *row), lambda: "INSERT INTO {} ({}) VALUES ({})".format(
            table, ", ".join(row), ", ".join(f":{c}" for c in row)))
        return self._on_connection(sql, row, fetch=False)[1]

    def insert_many(self, table, rows):
        """Insert rows that name the same columns, in one statement (one round trip)."""
        filled = [schema.filled_row(table, values) for values in rows]
        columns = list(filled[0])

        def build():
            tuples = ", ".join("({})".format(", ".join(f":r{i}_{c}" for c in columns)) for i in range(len(filled)))
            return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {tuples}"
        params = {f"r{i}_{c}": row[c] for i, row in enumerate(filled) for c in columns}
        self.execute(self._text(("insert_many", table, len(filled), *columns), build), params)

    def take_number(self, table, column, where):
        """Add 1 to the counter `column` of the row matching `where` and return the value it
        had (NULL counts as 1), or None when no row matches. Two callers never get the same
        number, and neither waits for the other's transaction:

        * MySQL: one autocommit statement on a connection of its own, so the row is locked
          for that statement only (ITFlow takes ticket numbers the same way). Held until the
          caller's COMMIT, every create would queue behind the one before it. A caller that
          then fails leaves a gap in the numbers, as ITFlow does.
        * SQLite: inside the caller's transaction, which already holds the database's one
          write lock."""
        conds = _conditions(where)
        binds = {f"w_{c}": v for c, v in where.items()}
        if self.dialect == "sqlite":
            if not self.execute(f"UPDATE {table} SET {column} = COALESCE({column}, 1) + 1 WHERE {conds}", binds):
                return None
            return int(self.scalar(f"SELECT {column} - 1 AS number FROM {table} WHERE {conds}", binds))
        # LAST_INSERT_ID(x) hands x back in the statement's own reply, so no SELECT follows.
        native = self._native(f"UPDATE {table} SET {column} = LAST_INSERT_ID(COALESCE({column}, 1)) + 1 "
                              f"WHERE {conds}")
        conn = self._checkout()
        try:
            changed, number = self._run(conn, native, binds, fetch=False)
        except self._errors as exc:
            _close(conn)  # never replayed: it may have counted before the connection broke
            raise self._translate(exc, binds, conn_is_local=False) from exc
        self._pool.put(conn)
        return int(number) if changed else None

    def update(self, table, values, where):
        """Set `values` on the rows matching every `where` column; returns the number of rows
        CHANGED, as MySQL counts them for ITFlow: a row already holding every value counts 0
        (5 for '5' and '10.5' for a stored 10.50 are no change; a change of case is one).
        No values: 0."""
        if not values:
            return 0

        def build():
            sets = ", ".join(f"{c} = :v_{c}" for c in values)
            conds = _conditions(where)
            if self.dialect == "sqlite":
                # SQLite counts every row it matched, so leave out the rows that would not change.
                # IS is null-safe and compares with the column's affinity (5 IS '5'); BINARY
                # overrides the NOCASE text columns, as MySQL compares the stored bytes.
                same = " AND ".join(f"{c} IS :v_{c} COLLATE BINARY" for c in values)
                conds += f" AND NOT ({same})"
            return f"UPDATE {table} SET {sets} WHERE {conds}"
        params = {f"v_{c}": v for c, v in values.items()}
        params.update({f"w_{c}": v for c, v in where.items()})
        return self.execute(self._text(("update", table, *values, "", *where), build), params)

    def delete(self, table, where):
        if not where:  # never every row by accident
            raise ValueError("delete() needs at least one where column")
        sql = self._text(("delete", table, *where), lambda: f"DELETE FROM {table} WHERE {_conditions(where)}")
        return self.execute(sql, {f"w_{c}": v for c, v in where.items()})

    def count(self, table, where):
        sql = self._text(("count", table, *where),
                         lambda: f"SELECT COUNT(*) AS n FROM {table} WHERE {_conditions(where)}")
        return int(self.scalar(sql, {f"w_{c}": v for c, v in where.items()}))

    # --- schema ------------------------------------------------------------------------

    def table_names(self):
        if self.dialect == "mysql":
            sql = "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()"
        else:
            sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
        return {r["name"] for r in self.rows(sql)}

    def columns_of(self, table):
        """The table's column names in their order ([] for a missing table)."""
        if self.dialect == "mysql":
            return [r["name"] for r in self.rows(
                "SELECT column_name AS name FROM information_schema.columns "
                "WHERE table_schema = DATABASE() AND table_name = :t ORDER BY ordinal_position", {"t": table})]
        return [r["name"] for r in self.rows(f"PRAGMA table_info(\"{table}\")")]

    def create_schema(self, layout=schema.LAYOUT_CLIENT_KEYS):
        """Create every ITFlow table that is missing and the seed rows that are missing.
        `layout` picks the api_keys columns of ITFlow 2.4.6 ("client") or 2.4.7+ ("user")."""
        with self.transaction(write=True):
            for statement in schema.create_statements(self.dialect, layout):
                self.execute(statement)
        with self.transaction(write=True):
            for table, key, row in schema.seed_rows():
                if not self.count(table, {key: row[key]}):
                    self.insert(table, row)

    def close(self):
        """Close the idle connections (a connection in use is closed when it comes back)."""
        self._drop_idle()

    def _drop_idle(self):
        for pool in (self._pool, self._write_pool):
            if pool is not None:
                pool.drop_idle()


def _run_mysqlclient(conn, native, params, fetch):
    """One statement on a mysqlclient connection without a cursor: what its cursor does for
    us (bind the escaped values, run, store the result) minus the bookkeeping around it."""
    conn.query(native.encode("utf-8") % {name.encode("utf-8"): _literal(conn, value) for name, value in (params or {}).items()})
    result = conn.store_result()
    if fetch:
        if result is None:
            return [], ()
        return [d[0] for d in result.describe()], result.fetch_row(0, 1)
    return conn.affected_rows(), conn.insert_id()


def _literal(conn, value):
    """mysqlclient's `literal` for the kinds our binds hold, without its generic dispatch
    (a Python call back per value); anything else still goes to it."""
    kind = type(value)
    if kind is str:
        return conn.string_literal(value.encode("utf-8"))
    if kind is int:
        return b"%d" % value
    if value is None:
        return b"NULL"
    return conn.literal(value)


def _conditions(where):
    return " AND ".join(f"{c} = :w_{c}" for c in where) or "1 = 1"


def _overflowing(params):
    """The column whose integer is too large for SQLite (binds are named v_/w_<column> or <column>)."""
    for name, value in (params or {}).items():
        if isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
            return re.sub(r"^[vw]_", "", name)
    return None
