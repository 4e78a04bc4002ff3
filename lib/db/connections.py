"""This thread's connection, its transaction, and what happens when the connection breaks.

* A read is its statement and nothing else: no ping before it, no BEGIN/COMMIT around it
  (the read pool is in autocommit mode). A write block, `transaction(write=True)`, is a real
  transaction ending in COMMIT or ROLLBACK. On MySQL it runs on a second pool of connections
  without autocommit, where the first statement begins the transaction (no BEGIN round trip);
  on SQLite it starts with BEGIN IMMEDIATE, so that it holds the write lock from its first read.
* A pooled connection is not checked before use. When it turns out dead (the server
  restarted, or dropped it while idle) the other idle ones are dropped too, and a read, a
  BEGIN or a transaction's first statement is tried once more on a new connection. Any
  other write is never replayed: it may have run before the connection broke.
"""
from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

from .classify import is_lost, typed_error, unavailable_error
from .drivers import run_on_cursor, run_on_mysqlclient
from .pool import Pool, close_quietly

# :name binds (not '::' casts, not '00:00:00' literals).
_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


class Connections:
    """The connection machinery the Database class is built on."""

    dialect: str
    read_timeout: float
    _pool: Pool
    _write_pool: Pool | None
    _errors: tuple
    _secret: str
    _dict_rows: bool
    _statements: dict

    def _start_connections(self) -> None:
        self._local = threading.local()

    def _checkout(self, pool: Pool | None = None) -> Any:
        try:
            return (pool or self._pool).get()
        except self._errors as exc:
            raise unavailable_error(exc, self._secret) from exc

    @contextlib.contextmanager
    def transaction(self, write: bool = False) -> Iterator[Any]:
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
                    close_quietly(conn)
                else:
                    local.pool.put(conn)

    def _begin(self) -> None:
        # Nothing has run on the connection yet, so a dead one may be swapped for a new one.
        self._on_connection("BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN", None, fetch=False, retry=True)

    def _end(self, local: Any, how: str) -> None:
        try:
            getattr(local.conn, how)()
        except self._errors as exc:
            # A connection whose rollback failed may still hold the transaction: it is closed
            # (the server then drops the transaction) rather than pooled for the next request.
            local.broken = local.broken or is_lost(exc) or how == "rollback"
            if how == "commit":  # the outcome is unknown to us: the caller must hear of it
                raise unavailable_error(exc, self._secret) from exc

    def _lost_connection(self) -> None:
        """This thread's connection broke: drop it and every idle one (they most likely
        broke with it, e.g. a server restart), and carry on with a new one."""
        local = self._local
        close_quietly(local.conn)
        local.broken = True  # until a new connection replaces it
        self._drop_idle()
        local.conn = self._checkout(local.pool)
        local.broken = False

    def _on_connection(self, sql: str, params: dict | None, fetch: bool, retry: bool = False) -> Any:
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
            if retry and is_lost(exc) and time.monotonic() - started < self.read_timeout / 2:
                self._lost_connection()
                try:
                    return self._run(local.conn, native, params, fetch)
                except self._errors as again:
                    raise self._translate(again, params) from again
            raise self._translate(exc, params) from exc

    def _run(self, conn: Any, native: str, params: dict | None, fetch: bool) -> Any:
        if self._dict_rows:
            return run_on_mysqlclient(conn, native, params, fetch)
        return run_on_cursor(conn, native, params, fetch, self.dialect == "mysql")

    def _translate(self, exc: BaseException, params: dict | None, conn_is_local: bool = True) -> BaseException:
        """The typed error for a driver error (lib/db/classify.py). A lost connection marks
        this thread's connection broken (unless the statement ran on one of its own) and
        drops the idle ones."""
        mysql = self.dialect == "mysql"
        if mysql and is_lost(exc):
            if conn_is_local:
                self._local.broken = True
            self._drop_idle()
        return typed_error(exc, mysql, params, self._secret)

    def _native(self, sql: str) -> str:
        found = self._statements.get(sql)
        if found is None:
            if self.dialect == "mysql":  # pyformat: %(name)s, literal % doubled
                found = _BIND.sub(r"%(\1)s", sql.replace("%", "%%"))
            else:  # sqlite3 reads :name itself
                found = sql
            if len(self._statements) < 4096:
                self._statements[sql] = found
        return found

    def close(self) -> None:
        """Close the idle connections (a connection in use is closed when it comes back)."""
        self._drop_idle()

    def _drop_idle(self) -> None:
        for pool in (self._pool, self._write_pool):
            if pool is not None:
                pool.drop_idle()

