"""The drivers (pymysql, mysql-connector's C extension, mysqlclient, sqlite3): how each
connects and runs a statement.

Rows come back as MySQL's text protocol renders them: the MySQL drivers run without result
decoders, so the server's own text is passed through untouched (lib/db/rendering.py does the
same for SQLite from the column types).
"""
from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable
from typing import Any

from .errors import DatabaseError

try:  # optional C driver (pip install 'itflow-api[fast]'): same rows, parsed several times faster
    import MySQLdb
    from MySQLdb.constants import FIELD_TYPE as _F
except ImportError:
    MySQLdb = None

try:  # Before the C extension below: its wheel brings its own libssl.so.3 and libcrypto.so.3, and
    # where Python's _hashlib has already loaded the system's libcrypto.so.3 (any `import
    # hashlib`), the bundled libssl binds to that one and fails to load (OPENSSL_3.3.0 not
    # found). With Python's ssl module loaded first, both come from the system and it loads.
    import ssl  # noqa: F401
except ImportError:  # a Python built without ssl
    pass

try:  # mysql-connector-python's C extension: a wheel (no compiler) on Linux, macOS and Windows,
    # installed by default; used through its low-level class, rows as the server's own text.
    import _mysql_connector as _cx
    CONNECTOR_PROBLEM = ""
except ImportError as exc:  # absent, or its bundled library does not load on this system
    _cx = None
    CONNECTOR_PROBLEM = str(exc).splitlines()[0] if str(exc) else "not installed"

Connect = Callable[[], Any]
_CONNECTOR_ERRORS: tuple[type[BaseException], ...] = (_cx.MySQLInterfaceError,) if _cx is not None else ()

# pymysql is imported only where it is the driver in use: it costs each serving process
# about 9 MB, and its errors cannot happen where it was never imported.


def _pymysql() -> Any:
    import pymysql
    return pymysql


def driver_errors() -> tuple[type[BaseException], ...]:
    """Every error a driver loaded in this process raises, for callers that must tell "the
    database said no" from a bug (asked when an exception is being matched)."""
    return sqlite_errors() + mysql_errors()


def loaded_sqlite3() -> Any:
    """The sqlite3 module where it is loaded, else None. It is loaded only for an SQLite
    database (sqlite_connector): a worker on MariaDB does without its 2 MB, and where it is
    not loaded no sqlite3 error can arise."""
    return sys.modules.get("sqlite3")


def sqlite_errors() -> tuple[type[BaseException], ...]:
    """sqlite3's base error where sqlite3 is loaded, else nothing."""
    sqlite3 = loaded_sqlite3()
    return (sqlite3.Error,) if sqlite3 is not None else ()


def mysql_errors() -> tuple[type[BaseException], ...]:
    """The errors of the MySQL drivers loaded in this process."""
    pymysql = sys.modules.get("pymysql")
    return (((pymysql.err.Error,) if pymysql is not None else ()) + ((MySQLdb.Error,) if MySQLdb is not None else ())
            + _CONNECTOR_ERRORS)


def interface_errors() -> tuple[type[BaseException], ...]:
    """The drivers' errors about the connection itself (pymysql's and mysqlclient's)."""
    pymysql = sys.modules.get("pymysql")
    return (((pymysql.err.InterfaceError,) if pymysql is not None else ())
            + ((MySQLdb.InterfaceError,) if MySQLdb is not None else ()))


def _mysqlclient_conversions() -> dict:
    # `str` as the converter of every number and date type: mysqlclient (2.1+) then decodes
    # the server's text itself, in C, with no Python call per value; exactly pymysql's text.
    from MySQLdb.converters import conversions
    encoders = {k: v for k, v in conversions.items() if not isinstance(k, int)}  # Python → SQL, kept
    decoders = {getattr(_F, name): str for name in (
        "TINY", "SHORT", "INT24", "LONG", "LONGLONG", "FLOAT", "DOUBLE", "YEAR",
        "DECIMAL", "NEWDECIMAL", "DATE", "TIME", "DATETIME", "TIMESTAMP")}
    return {**encoders, **decoders}


def mysql_driver(choice: str) -> str:
    """The driver a [database] driver setting picks: auto takes the fastest one installed
    (mysqlclient, then mysql-connector's C extension, then pymysql)."""
    if choice == "auto":
        if MySQLdb is not None:
            return "mysqlclient"
        return "connector" if _cx is not None else "pymysql"
    if choice == "mysqlclient" and MySQLdb is None:
        raise DatabaseError("driver = mysqlclient, but it is not installed: pip install 'itflow-api[fast]'")
    if choice == "connector" and _cx is None:
        raise DatabaseError(f"driver = connector, but mysql-connector-python's C extension does not load "
                            f"({CONNECTOR_PROBLEM}): pip install 'mysql-connector-python>=9.4,<26', "
                            "or driver = pymysql")
    return choice


def lost_without_code(exc: BaseException) -> bool:
    """mysql-connector's C extension raises one error class for everything; one without a
    server or client error number is about the connection itself (closed, not connected)."""
    return isinstance(exc, _CONNECTOR_ERRORS) and not getattr(exc, "errno", 0)


def mysql_connector(driver: str, host: str, port: int, user: str, password: str, database: str,
                    connect_timeout: float, read_timeout: float, autocommit: bool) -> Connect:
    # No CLIENT_FOUND_ROWS (neither driver sets it unasked): an UPDATE reports the rows it
    # changed, as it does for ITFlow. Autocommit (the read pool): a read needs no BEGIN/COMMIT.
    # Without it (the write pool) a transaction begins with its first statement: no BEGIN.
    common = dict(host=host, port=port, user=user, password=password, database=database,
                  charset="utf8mb4", autocommit=autocommit, client_flag=0)
    whole = lambda seconds: max(1, math.ceil(seconds))  # noqa: E731 (the C libraries take whole seconds)
    if driver == "connector":
        return lambda: _connector_connect(host, port, user, password, database,
                                          whole(connect_timeout), whole(read_timeout), autocommit)
    if driver == "mysqlclient":
        conv = _mysqlclient_conversions()
        return lambda: MySQLdb.connect(conv=conv, connect_timeout=whole(connect_timeout),
                                       read_timeout=whole(read_timeout), write_timeout=whole(read_timeout),
                                       **common)
    pymysql = _pymysql()
    # Encoders only (keyed by Python type): with no decoders pymysql hands back the server's text.
    encoders = {k: v for k, v in pymysql.converters.conversions.items() if not isinstance(k, int)}
    return lambda: pymysql.connect(conv=encoders, connect_timeout=connect_timeout,
                                   read_timeout=read_timeout, write_timeout=read_timeout, **common)


def _connector_connect(host: str, port: int, user: str, password: str, database: str,
                       connect_timeout: int, read_timeout: int, autocommit: bool) -> Any:
    # raw: every value comes back as the bytes the server sent (decoded below, in bulk),
    # not converted to Python types and back. Authentication plugins ship inside the wheel.
    plugins = os.path.join(os.path.dirname(os.path.abspath(_cx.__file__)), "mysql", "vendor", "plugin")
    conn = _cx.MySQL(buffered=True, raw=True, charset_name="utf8mb4", connection_timeout=connect_timeout,
                     plugin_dir=plugins)
    conn.connect(host=host, port=port, user=user, password=password, database=database, client_flags=0,
                 ssl_disabled=True, read_timeout=read_timeout, write_timeout=read_timeout)
    conn.autocommit(autocommit)
    return conn


def sqlite_connector(path: str, busy_timeout: float) -> Connect:
    import sqlite3

    # isolation_level=None: sqlite3 starts no transactions of its own; we BEGIN for writes.
    return lambda: sqlite3.connect(path, timeout=busy_timeout, check_same_thread=False, isolation_level=None)


def run_on_cursor(conn: Any, native: str, params: dict | None, fetch: bool, mysql: bool) -> tuple[Any, Any]:
    """One statement through the driver's cursor: (keys, rows) for a read, else (rowcount, lastrowid)."""
    cursor = conn.cursor()
    try:
        cursor.execute(native, params or ({} if mysql else ()))
        if fetch:
            return [d[0] for d in cursor.description], cursor.fetchall()
        return cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def run_on_mysqlclient(conn: Any, native: str, params: dict | None, fetch: bool) -> tuple[Any, Any]:
    """One statement on a mysqlclient connection without a cursor: what its cursor does for
    us (bind the escaped values, run, store the result) minus the bookkeeping around it."""
    conn.query(native.encode("utf-8") % {name.encode("utf-8"): _literal(conn, value) for name, value in (params or {}).items()})
    result = conn.store_result()
    if fetch:
        if result is None:
            return [], ()
        return [d[0] for d in result.describe()], result.fetch_row(0, 1)
    return conn.affected_rows(), conn.insert_id()


def run_on_connector(conn: Any, native: str, params: dict | None, fetch: bool) -> tuple[Any, Any]:
    """One statement on a mysql-connector C connection: values bound as escaped literals, and
    each row's bytes decoded to text straight into its dict (NULL stays None; a repeated
    column name keeps its last value, as PHP's fetch_assoc does)."""
    template, order = _POSITIONAL.get(native) or _positional(native)
    values = [params[name] for name in order] if params else []
    if _PLAIN.issuperset(map(type, values)):  # the common case: one call into the C extension
        literals = conn.convert_to_mysql(*values)
    else:
        literals = tuple([_connector_literal(conn, value) for value in values])
    conn.query(template % literals)
    if not conn.have_result_set:
        return ([], ()) if fetch else (conn.affected_rows(), conn.insert_id())
    keys = [field[4].decode("utf-8") if type(field[4]) is bytes else field[4] for field in conn.fetch_fields()]
    rows: list[dict[str, Any]] = []
    fetch_row, decode, append = conn.fetch_row, bytes.decode, rows.append
    row = fetch_row()
    while row is not None:
        try:
            append(dict(zip(keys, map(decode, row) if None not in row else
                            [None if v is None else decode(v) for v in row], strict=True)))
        except (UnicodeDecodeError, TypeError):  # a binary column: its text as mysql_rows gives it
            append(dict(zip(keys, [v.decode("utf-8", "replace") if type(v) is bytes else v for v in row], strict=True)))
        row = fetch_row()
    conn.free_result()
    return (keys, rows) if fetch else (conn.affected_rows(), conn.insert_id())


_PLAIN = frozenset((str, int, type(None)))  # what the C extension's convert_to_mysql quotes as we do
_POSITIONAL: dict[str, tuple[bytes, list[str]]] = {}
_PYFORMAT = re.compile(r"%\((\w+)\)s")


def _positional(native: str) -> tuple[bytes, list[str]]:
    """A pyformat statement as bytes with %s in place of each %(name)s, and the names in the
    order they appear (the literals are then put in with one tuple, not a dict per call)."""
    found = (_PYFORMAT.sub("%s", native).encode("utf-8"), _PYFORMAT.findall(native))
    if len(_POSITIONAL) < 4096:
        _POSITIONAL[native] = found
    return found


def _connector_literal(conn: Any, value: Any) -> bytes:
    kind = type(value)
    if kind is str:
        return b"'" + conn.escape_string(value) + b"'"
    if kind is int:
        return b"%d" % value
    if value is None:
        return b"NULL"
    if kind is bool:
        return b"1" if value else b"0"
    if kind is float:
        return repr(value).encode("ascii")
    if kind is bytes:
        return b"'" + conn.escape_string(value) + b"'"
    if hasattr(value, "isoformat"):  # a datetime as 'YYYY-MM-DD HH:MM:SS', a date or time as itself
        text = value.isoformat(" ") if hasattr(value, "date") else value.isoformat()
    else:
        text = str(value)
    return b"'" + conn.escape_string(text) + b"'"


def _literal(conn: Any, value: Any) -> bytes:
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
