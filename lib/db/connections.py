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
* A COMMIT whose answer never came (the server restarted, or froze past the read timeout)
  may or may not have happened. On MySQL it is settled before the caller hears anything:
  the old session is killed on a new connection, and a row the transaction inserted (its
  witness: every write through the API inserts `logs` rows) is looked up. Found: the commit
  happened and the caller goes on as if it had been answered. Absent: nothing was written
  (a 503 says so). Still unreachable after a bounded wait: CommitUnknown, whose 503 says
  the write may have been saved.
"""
from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

from ..itflow import schema
from .classify import is_lost, typed_error, unavailable_error
from .drivers import run_on_connector, run_on_cursor, run_on_mysqlclient
from .errors import CommitUnknown, GatheredRowsFailed, ValueRefused
from .pool import Pool, close_quietly

log = logging.getLogger("itflow_api")

# Words of a statement that may be table names (for rows held back by insert_later()).
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LATER_CHUNK = 200  # rows per multi-row INSERT (binds stay far below SQLite's limit)
_WORDS: dict[str, frozenset[str]] = {}  # statement text -> the words in it that may name tables

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
    _connector: bool
    _statements: dict
    insert_many: Callable[[str, list[dict]], None]  # lib/db/statements.py
    many_rows: Callable[..., tuple[str, dict]]

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
                local.witness = None  # (table, id) of a row this transaction inserted
                local.later, local.known = {}, {}  # rows insert_later() holds back; remembered answers
                local.ahead, local.writes = {}, 0  # rows read ahead (read_ahead); statements that wrote
                local.soon, local.gathering = {}, set()  # insert_soon(): rows held back, tables that may
            yield self
            if began:
                self.flush_soon()
                self.flush_later()
        except BaseException:
            if began:
                local.later, local.known, local.ahead, local.soon = {}, {}, {}, {}
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
        session = _thread_id(local.conn) if how == "commit" and self.dialect == "mysql" else None
        try:
            getattr(local.conn, how)()
        except self._errors as exc:
            # A connection whose rollback failed may still hold the transaction: it is closed
            # (the server then drops the transaction) rather than pooled for the next request.
            local.broken = local.broken or is_lost(exc) or how == "rollback"
            if how != "commit":
                return
            witness = getattr(local, "witness", None)
            if session is None or witness is None or not is_lost(exc):
                raise unavailable_error(exc, self._secret) from exc
            committed = self._settle(session, witness)
            log.warning("a COMMIT went unanswered (%s); settled: %s", exc,
                        {True: "it happened", False: "it did not happen", None: "unknown"}[committed])
            if committed:
                return  # it happened: the caller carries on as if the answer had come
            if committed is None:
                raise CommitUnknown(unavailable_error(exc, self._secret).args[0]) from exc
            raise unavailable_error(exc, self._secret) from exc

    def _settle(self, session: int, witness: tuple[str, int, dict | None, float, float]) -> bool | None:
        """Did the transaction of server session `session` commit? Asked on new connections
        until the server answers, for at most a few read timeouts. The witness is the row
        this transaction inserted, and when: the statement was sent at `sent` and answered at
        `seen`, so the session was alive then. It is looked up by its id *and* the values
        inserted, so a row that reused the id after a restart does not count.

        Whether the server is still the one that ran that statement decides what can be done
        (its uptime comes in whole seconds, hence the three cases):
        * up since before `sent`: the same server, so the session is ours to kill. It is killed
          (a COMMIT still waiting in its socket then either finishes first or never runs) and,
          once it is gone, the witness is looked up: found or not, that is the answer;
        * started after `seen`: it restarted and the session died with it (after a restart
          session ids start again, so nothing is killed); the witness decides;
        * too close to tell: a session with the old id, if one is there, may be ours and still
          about to commit, or a stranger's. Without such a session the witness decides; with
          one, a witness found means it happened, and none leaves the answer unknown.
        None when the server never answered."""
        table, row_id, inserted, sent, seen = witness
        started = time.monotonic()
        deadline = started + 3 * self.read_timeout + 1
        alive = self._native("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST "
                             "WHERE ID = :id AND ID <> CONNECTION_ID()")
        where, binds = _same_row(table, row_id, inserted)
        found = self._native(f"SELECT COUNT(*) AS n FROM {table} WHERE {where}")

        def count(conn: Any, sql: str, params: dict) -> int:
            return int(_first(self._run(conn, sql, params, True)) or 0)  # rows come as text

        while time.monotonic() < deadline:
            conn = None
            try:
                conn = self._pool.connect()
                asked = time.monotonic()
                uptime = _first(self._run(conn, "SHOW GLOBAL STATUS LIKE 'Uptime'", None, True), column=1)
                answered = time.monotonic()
                known = uptime is not None
                same_server = known and answered - float(uptime) < sent          # booted before `sent`
                restarted = known and asked - float(uptime) - 1 > seen           # booted after `seen`
                if same_server:
                    with contextlib.suppress(*self._errors):  # 1094: the session has already ended
                        self._run(conn, f"KILL CONNECTION {int(session)}", None, False)
                    # The killed session may be finishing its COMMIT (a kill does not stop one under
                    # way): it is given its own read timeout to end, and a session still there after
                    # it leaves the answer unknown, since looking now could miss a commit to come.
                    ends_by = max(deadline, time.monotonic() + self.read_timeout + 1)
                    while count(conn, alive, {"id": session}):
                        if time.monotonic() >= ends_by:
                            return None
                        time.sleep(0.05)
                    return count(conn, found, binds) > 0
                there = count(conn, alive, {"id": session})
                committed = count(conn, found, binds) > 0
                if committed or not there or restarted:
                    return committed
                return None
            except self._errors:
                time.sleep(0.2)
            finally:
                if conn is not None:
                    close_quietly(conn)
        return None

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
        if local.in_write and (local.later or local.known or local.soon):
            self._before_statement(local, sql)
        if local.in_write and local.gathering and params:  # ids insert_soon() handed out are known now
            params = {name: _settled(value) for name, value in params.items()}
        native = self._native(sql)
        started = time.monotonic()
        if local.in_write and local.pristine:
            retry, local.pristine = True, False
        try:
            result = self._run(local.conn, native, params, fetch)
            if local.in_write and not fetch:
                local.writes += 1
            if local.in_write and not fetch and result[1] and native.startswith("INSERT INTO "):
                table = native.split(None, 3)[2]
                if table in schema.tables():  # and when the session was seen alive: sent, answered
                    local.witness = (table, int(result[1]), params, started, time.monotonic())
            return result
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

    # --- rows held back until the transaction needs them ---------------------------------
    # A write transaction may hold back rows nothing reads or refers to before it commits
    # (the `logs` rows of every write, an asset's history line): insert_later() keeps them and
    # they go in as one multi-row INSERT per table before the COMMIT, or as soon as a
    # statement names their table. A batch of 500 creates then sends 500 fewer round trips.
    # Answers remembered with remember() (does client 7 exist?) hold until a statement
    # changes their table.

    def insert_later(self, table: str, values: dict) -> None:
        """Insert a row whose id nobody needs, before this write transaction commits (at once
        outside one)."""
        local = self._local
        if not getattr(local, "in_write", False):
            self.insert_many(table, [values])
            return
        local.later.setdefault(table, []).append(values)

    def flush_later(self, tables: Any = None) -> None:
        """Insert the held-back rows (of `tables`, or all) now."""
        later = self._local.later
        for table in [t for t in later if tables is None or t in tables]:
            for rows in _statement_groups(later.pop(table), tuple):
                self.insert_many(table, rows)

    # --- new rows whose ids are handed out before the rows go in ----------------------------
    # A batch group of creates (assets, say) needs each new id only for rows that are held
    # back anyway (the `logs` rows, an asset's interface) and for the answer, written after
    # the commit. insert_soon() then holds the row too and hands out a PendingId; the rows go
    # in as one multi-row INSERT ... RETURNING per table before any other statement runs (so
    # nothing can read around them) or before the COMMIT, and each PendingId learns its id.

    def gather(self, table: str) -> bool:
        """Let insert_soon() hold back new rows of `table` for the rest of this write
        transaction, where the database hands back the ids of a multi-row INSERT (RETURNING:
        MariaDB 10.5+, SQLite 3.35+). Whether it does."""
        local = self._local
        if not getattr(local, "in_write", False) or not self.returns_inserted_ids():
            return False
        local.gathering.add(table)
        return True

    def returns_inserted_ids(self) -> bool:
        """Whether INSERT ... RETURNING is there (asked of the server once per process)."""
        found = getattr(self, "_returning", None)
        if found is None:
            if self.dialect == "sqlite":
                import sqlite3
                found = sqlite3.sqlite_version_info >= (3, 35, 0)
            else:
                version = str(self.scalar("SELECT VERSION() AS v") or "")  # type: ignore[attr-defined]
                numbers = [int(part) for part in re.findall(r"\d+", version)[:2]] or [0, 0]
                found = "mariadb" in version.lower() and tuple(numbers) >= (10, 5)
            self._returning = found
        return found

    def insert_soon(self, table: str, values: dict) -> Any:
        """Insert a row and return its id: at once (an int), or, where gather() was asked for
        `table` in this transaction, a PendingId that holds the id once the row is in."""
        local = self._local
        if table not in getattr(local, "gathering", ()) or not local.in_write:
            return self.insert(table, values)  # type: ignore[attr-defined]
        pending = PendingId()
        local.soon.setdefault(table, []).append((schema.filled_row(table, values), pending))
        return pending

    def flush_soon(self) -> None:
        """Insert the rows insert_soon() holds, in order, and settle their PendingIds. A
        failure here belongs to no one item: it is raised as GatheredRowsFailed (a
        DatabaseError), and a batch then runs its items again one by one."""
        local = self._local
        while local.soon:
            table, entries = next(iter(local.soon.items()))
            del local.soon[table]
            key = schema.primary_key(table)
            for same in _statement_groups(entries, lambda entry: tuple(entry[0])):
                rows = [row for row, _ in same]
                sql, binds = self.many_rows(table, list(rows[0]), rows, returning=key)
                try:
                    returned = self.rows(sql, binds)  # type: ignore[attr-defined]
                except ValueRefused as exc:
                    raise GatheredRowsFailed(f"a held-back row of {table} was refused: {exc}") from exc
                ids = sorted(int(found[key]) for found in returned)  # ascending: the order inserted
                if len(ids) != len(same):
                    raise GatheredRowsFailed(f"{len(same)} rows of {table} went in, {len(ids)} ids came back")
                for (_, pending), new_id in zip(same, ids, strict=True):
                    pending.value = new_id

    def remember(self, table: str, key: Any, answer: Callable[[], Any]) -> Any:
        """answer(), asked once per write transaction until a statement changes `table`."""
        local = self._local
        if not getattr(local, "in_write", False):
            return answer()
        known = local.known.setdefault(table, {})
        if key not in known:
            known[key] = answer()
        return known[key]

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """A part of this write transaction that an exception undoes alone (the rows it held
        back for later too); the transaction goes on. A batch item that is refused this way
        leaves the items before it in place."""
        local = self._local
        self._on_connection("SAVEPOINT batch_item", None, fetch=False)
        mark = self.mark()
        try:
            yield
        except BaseException:
            self._on_connection("ROLLBACK TO SAVEPOINT batch_item", None, fetch=False)
            self.undo_held(mark)
            local.known = {}
            raise

    def mark(self) -> Mark:
        """Where this write transaction stands: the statements that wrote so far, and the
        rows held back per table (by insert_later() and insert_soon()). undo_held() goes back
        to it."""
        local = self._local
        return local.writes, _counts(local.later), _counts(local.soon)

    def wrote_since(self, mark: Mark) -> bool:
        """Whether a statement has changed the database since `mark` (rows merely held back
        by insert_later() do not count: undo_held() drops them)."""
        return self._local.writes != mark[0]

    def undo_held(self, mark: Mark) -> None:
        """Drop the rows held back since `mark`. No round trip: where nothing was written since
        (wrote_since() is False) nothing of that part is left; inside a savepoint, its
        rollback undoes the rest."""
        local = self._local
        for kept, held in ((local.later, mark[1]), (local.soon, mark[2])):
            for table in list(kept):
                del kept[table][held.get(table, 0):]
                if not kept[table]:
                    del kept[table]

    def read_ahead(self, table: str, id_column: str, ids: Any) -> None:
        """Say which records of `table` this write transaction is about to look up one by one
        (a batch group's updates): the first look-up of one of them reads all of them in one
        statement (ahead()). Only for tables whose writes change no other row of the table
        (Module.independent_writes): each row read ahead is handed out once, as it was then."""
        local = self._local
        if getattr(local, "in_write", False):
            local.ahead[table] = (id_column, sorted({int(i) for i in ids}), {})

    def ahead(self, table: str, record_id: int, where: list[str], params: dict[str, Any]) -> dict | None | Literal[False]:
        """The row read ahead for `record_id` under the conditions `where` (beside the id), or
        False when none was asked for (the caller reads it itself). None: the row is not there,
        or not under those conditions. The row is handed out once; a second look-up reads it."""
        local = self._local
        wanted = getattr(local, "ahead", None) if getattr(local, "in_write", False) else None
        if not wanted or table not in wanted:
            return False
        id_column, ids, read = wanted[table]
        if record_id not in ids:
            return False
        key = (tuple(where), tuple(sorted((k, v) for k, v in params.items() if k != "record_id")))
        if key not in read:
            binds = {**params, **{f"ahead{n}": value for n, value in enumerate(ids)}}
            names = ", ".join(f":ahead{n}" for n in range(len(ids)))
            conditions = " AND ".join([f"{id_column} IN ({names})", *where])
            rows = self.rows(f"SELECT * FROM {table} WHERE {conditions}", binds)  # type: ignore[attr-defined]
            read[key] = ({int(row[id_column]): row for row in rows}, set())
        found, served = read[key]
        if record_id in served:
            return False
        served.add(record_id)
        return found.get(record_id)

    def _before_statement(self, local: Any, sql: str) -> None:
        if local.soon:  # whatever the statement reads or binds, the rows insert_soon() holds go first
            self.flush_soon()
        named = _WORDS.get(sql)
        if named is None:  # the words of a statement text, found once (a multi-row INSERT is long)
            named = frozenset(_TABLE_NAME.findall(sql))
            if len(_WORDS) < 4096:
                _WORDS[sql] = named
        if local.later and not named.isdisjoint(local.later):
            self.flush_later(named)
        if local.known and not sql.lstrip()[:6].upper() == "SELECT":
            for table in named.intersection(local.known):
                del local.known[table]

    def _run(self, conn: Any, native: str, params: dict | None, fetch: bool) -> Any:
        if self._dict_rows:
            return run_on_mysqlclient(conn, native, params, fetch)
        if self._connector:
            return run_on_connector(conn, native, params, fetch)
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


Mark = tuple[int, dict[str, int], dict[str, int]]  # Connections.mark(): writes, rows held back per table


def _counts(held: dict[str, list]) -> dict[str, int]:
    return {table: len(rows) for table, rows in held.items()}


def _statement_groups(items: list, shape: Callable[[Any], tuple]) -> Iterator[list]:
    """`items` (held-back rows) in the lists one multi-row INSERT takes: the same columns
    (`shape` of each), at most _LATER_CHUNK, in the order they came."""
    shapes: dict[tuple, list] = {}
    for item in items:
        shapes.setdefault(shape(item), []).append(item)
    for same in shapes.values():
        for start in range(0, len(same), _LATER_CHUNK):
            yield same[start:start + _LATER_CHUNK]


class PendingId:
    """The id of a row insert_soon() holds back; int() of it works once the row is in."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: int | None = None

    def __int__(self) -> int:
        if self.value is None:
            raise RuntimeError("the row has not been inserted yet (Connections.flush_soon)")
        return self.value

    __index__ = __int__

    def __repr__(self) -> str:
        return f"PendingId({self.value})"


def _settled(value: Any) -> Any:
    return int(value) if type(value) is PendingId else value


def _thread_id(conn: Any) -> int | None:
    """The server's id of this connection's session (both drivers keep it; no round trip)."""
    try:
        return int(conn.thread_id())
    except Exception:  # noqa: BLE001 - a driver without it: the commit is not settled
        return None


def _first(result: tuple[Any, Any], column: int = 0) -> Any:
    """A value (the first, or the `column`th) of the first row of a read's (keys, rows)."""
    keys, rows = result
    if not rows:
        return None
    row = rows[0]
    return row[keys[column]] if isinstance(row, dict) else row[column]


_EXACT_TYPES = {"varchar", "char", "text", "mediumtext", "longtext", "tinytext", "int", "bigint", "tinyint",
                "smallint", "mediumint"}


def _same_row(table: str, row_id: int, inserted: dict | None) -> tuple[str, dict]:
    """WHERE text and binds matching the witness row: its id and the text and integer values
    the INSERT bound (insert() binds by column name, insert_many() the first row as r0_<column>)."""
    # Only columns that store exactly what was bound: text and whole numbers.
    columns = {c.name for c in schema.tables()[table] if c.base_type in _EXACT_TYPES}
    where, binds = [f"{schema.primary_key(table)} = :witness_id"], {"witness_id": row_id}
    for name, value in (inserted or {}).items():
        column = name[3:] if name.startswith("r0_") else name
        if column in columns and type(value) in (str, int) and len(where) < 8:
            where.append(f"{column} = :w_{column}")
            binds[f"w_{column}"] = value
    return " AND ".join(where), binds
