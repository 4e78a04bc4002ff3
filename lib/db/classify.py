"""What a driver error means: a lost connection, a busy or unreachable server, a write that
lost to another one, or a value the database refused. One place decides it for every driver."""
from __future__ import annotations

import re

from .drivers import interface_errors, loaded_sqlite3, lost_without_code
from .errors import DatabaseError, StorageFull, ValueRefused, WriteConflict

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
# A full disk: SQLite says "database or disk is full"; MariaDB 1021 (disk full), 1114 (table
# full), 3 (error writing a file), or error 28 (ENOSPC) from the storage engine (1030).
_FULL_CODES = {3, 1021, 1114}
_SQLITE_BUSY = ("locked", "busy", "unable to open", "disk i/o", "readonly")
# SQLite's size limits, reached only by what a request asked for (thousands of sort terms,
# filters nested hundreds deep): a refusal of the request, like a value out of range.
_SQLITE_LIMITS = ("too many", "too large", "too big", "too complex", "stack overflow")
_INT64 = (-(2 ** 63), 2 ** 63 - 1)


def _code(exc: BaseException) -> int | None:
    code = getattr(exc, "errno", None)  # mysql-connector keeps it there, pymysql and mysqlclient in args
    if not isinstance(code, int) or not code:
        code = exc.args[0] if exc.args else None
    return code if isinstance(code, int) else None


def _sqlite(exc: BaseException, kind: str) -> bool:
    """Whether `exc` is sqlite3's error of that kind (none is where sqlite3 is not loaded)."""
    sqlite3 = loaded_sqlite3()
    return sqlite3 is not None and isinstance(exc, getattr(sqlite3, kind))


def is_duplicate(exc: BaseException) -> bool:
    """True when `exc` is a unique key refusing a second row with the same value."""
    if _sqlite(exc, "IntegrityError"):
        return "unique" in str(exc).lower()
    return _code(exc) == 1062


def is_lost(exc: BaseException) -> bool:
    """True when `exc` says the connection itself is unusable."""
    if isinstance(exc, interface_errors()) or lost_without_code(exc):
        return True
    code = _code(exc)
    return code is not None and (2000 <= code < 3000 or code in _LOST_CODES)


def _unavailable(exc: BaseException) -> bool:
    if _sqlite(exc, "OperationalError"):
        return any(word in str(exc).lower() for word in _SQLITE_BUSY)
    return is_lost(exc) or _code(exc) in _BUSY_CODES


def unavailable_error(exc: BaseException, secret: str = "") -> DatabaseError:
    """The DatabaseError (or WriteConflict) for `exc`, with the password taken out of its text."""
    text = f"{type(exc).__name__}: {exc}"
    if secret:
        text = text.replace(secret, "***")
    return (WriteConflict if _code(exc) in _CONFLICT_CODES else DatabaseError)(text)


def typed_error(exc: BaseException, mysql: bool, params: dict | None, secret: str = "") -> BaseException:
    """The typed error for a driver error: ValueRefused, DatabaseError, or `exc` itself."""
    if isinstance(exc, OverflowError):  # sqlite3 binds 64-bit integers at most
        return ValueRefused(f"{_overflowing(params) or 'A value'} is out of range", _overflowing(params))
    if _sqlite(exc, "Error") and any(phrase in str(exc).lower() for phrase in _SQLITE_LIMITS):
        return ValueRefused(f"The request is more than the database can take ({exc}).")
    reason = _INPUT_CODES.get(_code(exc) or 0) if mysql else None
    if reason:
        found = _COLUMN_IN_MESSAGE.search(_message(exc))
        column = found.group(1) if found else None
        return ValueRefused(f"{column or 'A value'} {reason}", column)
    if _full(exc):
        return StorageFull(unavailable_error(exc, secret).args[0])
    if _unavailable(exc):
        return unavailable_error(exc, secret)
    return exc


def _full(exc: BaseException) -> bool:
    if _sqlite(exc, "OperationalError"):
        return "disk is full" in str(exc).lower()
    code = _code(exc)
    return code in _FULL_CODES or (code == 1030 and "28" in _message(exc))


def _message(exc: BaseException) -> str:
    """The server's message of a MySQL error, whichever driver raised it."""
    found = getattr(exc, "msg", None)
    if isinstance(found, str):
        return found
    return str(exc.args[1]) if len(exc.args) > 1 else ""


def _overflowing(params: dict | None) -> str | None:
    """The column whose integer is too large for SQLite (binds are named v_/w_<column> or <column>)."""
    for name, value in (params or {}).items():
        if isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
            return re.sub(r"^[vw]_", "", name)
    return None
