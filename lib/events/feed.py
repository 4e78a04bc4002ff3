"""The change feed: events in the order they became visible, and what a key may see of them.

Events are written by the capture triggers (lib/events/capture.py) with an auto-increment
event_id, which is the order ids were *assigned*, not the order the writers committed: a
transaction that began first may commit last, and a reader that had moved its cursor past
the later id would never see it. So the feed never hands out event_id. sequence() gives each
committed, not yet sequenced event the next event_seq, in event_id order, under a lock on
the one row of itflow_api_event_state; readers only see sequenced events, and a cursor is an
event_seq. An event that commits late is sequenced late, after everything the reader
already has: nothing is skipped.

* MariaDB/MySQL: the lock is SELECT ... FOR UPDATE on the state row inside a write
  transaction; the unsequenced rows are then read with a consistent read, which sees only
  committed rows and never waits for a writer's open transaction. On Galera, where a row
  lock is local to its node, two sequencers on different nodes both change the state row and
  the one certified second fails with a deadlock error (WriteConflict): it runs again.
* SQLite: a write transaction holds the database's one write lock, so sequencers and
  writers are serialised already.

This module is B's interface too (webhooks): sequence, events_after, visibility, add_event,
installed, oldest_seq, prune keep the names and signatures of /tmp/events/CONTRACT.md.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from ..access import keys as key_store
from ..access.permissions import PERMISSION_MODULE, READ, load_access
from ..core import envelope, retry
from ..core.envelope import Refused, Unauthorized
from ..core.messages import AUTH_FAILED
from ..db.errors import WriteConflict
from . import capture
from .capture import EVENTS, STATE
from .capture import add_event as add_event  # noqa: PLC0414 (re-exported: the contract names it here)
from .capture import installed as installed  # noqa: PLC0414

if TYPE_CHECKING:
    from ..core.endpoint import Call
    from ..db.database import Database

BATCH = 400            # events sequenced per UPDATE (two binds each: under SQLite's old 999)
SEQUENCE_ATTEMPTS = 10  # a sequencer that lost to another one (Galera) runs again, after a random pause
PRUNE_EVERY = 60.0     # seconds: the feed prunes at most this often per process
PRUNE_BATCH = 5000     # rows deleted per statement, so no delete holds locks for long
DEFAULT_RETENTION_DAYS = 30
OWN_MODULES = ("webhooks",)  # events the server writes itself (B: a subscription disabled)
# Modules whose permission is not in lib/access/permissions.py PERMISSION_MODULE (no endpoint).
EXTRA_PERMISSION = {"payments": "module_financial"}


# --- sequencing -------------------------------------------------------------------------------

def _last_seq(db: Database, lock: bool = False) -> int:
    sql = f"SELECT last_seq FROM {STATE} WHERE state_id = 1"
    if lock and db.dialect == "mysql":
        sql += " FOR UPDATE"
    value = db.scalar(sql)
    if value is None:
        db.execute(f"INSERT INTO {STATE} (state_id, last_seq) VALUES (1, 0)")
        return 0
    return int(value)


def _pending(db: Database) -> bool:
    return db.row(f"SELECT event_id FROM {EVENTS} WHERE event_seq IS NULL LIMIT 1") is not None


def _sequence_locked(db: Database) -> int:
    last = _last_seq(db, lock=True)  # the lock: every other sequencer waits here (or loses, on Galera)
    while True:
        # A consistent read taken after the lock: committed rows only, never waiting for an
        # open transaction's rows (those are sequenced by a later run, once committed).
        ids = [int(r["event_id"]) for r in db.rows(
            f"SELECT event_id FROM {EVENTS} WHERE event_seq IS NULL ORDER BY event_id LIMIT {BATCH}")]
        if not ids:
            break
        binds: dict[str, Any] = {}
        cases = []
        for n, event_id in enumerate(ids):
            binds[f"i{n}"], binds[f"s{n}"] = event_id, last + n + 1
            cases.append(f"WHEN :i{n} THEN :s{n}")
        names = ", ".join(f":i{n}" for n in range(len(ids)))
        changed = db.execute(f"UPDATE {EVENTS} SET event_seq = CASE event_id {' '.join(cases)} END "
                             f"WHERE event_id IN ({names}) AND event_seq IS NULL", binds)
        if changed != len(ids):  # another sequencer got there first: start over on fresh data
            raise WriteConflict(f"{len(ids) - changed} events were sequenced concurrently")
        last += len(ids)
    db.execute(f"UPDATE {STATE} SET last_seq = :last WHERE state_id = 1", {"last": last})
    return last


def sequence(db: Database) -> int:
    """Give every committed, not yet sequenced event its event_seq, in the order they became
    visible; returns the highest event_seq. Safe from many processes and hosts at once (the
    state row's lock serialises it); one cheap read when nothing is new."""
    with db.transaction():
        if not _pending(db):
            return _last_seq(db)

    def run() -> int:
        with db.transaction(write=True):
            return _sequence_locked(db)
    if getattr(getattr(db, "_local", None), "in_write", False):
        return run()  # inside the caller's transaction: a conflict is the caller's to retry
    return retry.again(run, SEQUENCE_ATTEMPTS)


def last_seq(db: Database) -> int:
    """The highest event_seq handed out so far (0: none)."""
    with db.transaction():
        return _last_seq(db)


# --- reading ----------------------------------------------------------------------------------

def _in_list(column: str, values: Iterable[Any], prefix: str, binds: dict[str, Any]) -> str:
    names = []
    for n, value in enumerate(sorted(values)):
        binds[f"{prefix}{n}"] = value
        names.append(f":{prefix}{n}")
    return f"{column} IN ({', '.join(names)})"


def _row(r: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": int(r["event_seq"]), "event_module": r["event_module"],
            "event_action": r["event_action"], "event_record_id": int(r["event_record_id"]),
            "event_client_id": int(r["event_client_id"]), "event_at": str(r["event_at"])[:19]}


def events_after(db: Database, after: int, limit: int, *, modules: Iterable[str] | None = None,
                 actions: Iterable[str] | None = None, client_ids: Iterable[int] | None = None) -> list[dict]:
    """Sequenced events with event_seq > after, ascending, at most `limit`. modules/actions:
    names, or None for all; client_ids: ids, or None for every client. Each event's
    "event_id" is its event_seq (the cursor)."""
    where, binds = ["event_seq > :after"], {"after": int(after), "limit": int(limit)}
    for column, values, prefix in (("event_module", modules, "m"), ("event_action", actions, "a"),
                                   ("event_client_id", client_ids, "c")):
        if values is None:
            continue
        wanted = set(values)
        if not wanted:
            return []
        where.append(_in_list(column, wanted, prefix, binds))
    if limit <= 0:
        return []
    with db.transaction():
        rows = db.rows("SELECT event_seq, event_module, event_action, event_record_id, event_client_id, event_at "
                       f"FROM {EVENTS} WHERE {' AND '.join(where)} ORDER BY event_seq LIMIT :limit", binds)
    return [_row(r) for r in rows]


def oldest_seq(db: Database) -> int | None:
    """The smallest retained event_seq, or None when no sequenced event is kept."""
    with db.transaction():
        # ORDER BY ... LIMIT 1 is one index seek; MIN() over "IS NOT NULL" scans the range on MariaDB.
        value = db.scalar(f"SELECT event_seq FROM {EVENTS} WHERE event_seq > 0 ORDER BY event_seq LIMIT 1")
    return None if value is None else int(value)


# --- retention --------------------------------------------------------------------------------

def prune(db: Database, retention_days: int) -> int:
    """Delete sequenced events older than `retention_days` (never an unsequenced one: no
    reader has had it); returns the rows deleted. Deletes in batches."""
    if db.dialect == "mysql":
        older = "event_at < NOW() - INTERVAL :days DAY"
        sql = f"DELETE FROM {EVENTS} WHERE {older} AND event_seq IS NOT NULL ORDER BY event_id LIMIT {PRUNE_BATCH}"
    else:
        older = "event_at < datetime('now', 'localtime', '-' || :days || ' days')"
        sql = (f"DELETE FROM {EVENTS} WHERE event_id IN (SELECT event_id FROM {EVENTS} "
               f"WHERE {older} AND event_seq IS NOT NULL ORDER BY event_id LIMIT {PRUNE_BATCH})")
    total = 0
    while True:
        with db.transaction(write=True):
            deleted = db.execute(sql, {"days": int(retention_days)})
        total += deleted
        if deleted < PRUNE_BATCH:
            return total


class _Pruner:
    """Prunes from the feed at most once every PRUNE_EVERY seconds per process."""

    def __init__(self) -> None:
        self.retention_days = DEFAULT_RETENTION_DAYS
        self._next = 0.0
        self._lock = threading.Lock()

    def maybe(self, db: Database) -> None:
        now = time.monotonic()
        if now < self._next or not self._lock.acquire(blocking=False):
            return
        try:
            self._next = now + PRUNE_EVERY
            prune(db, self.retention_days)
        finally:
            self._lock.release()


PRUNER = _Pruner()


def configure(events_config: Any) -> None:
    """Take the [events] settings (lib/web/config.py EventsConfig) this process serves with."""
    PRUNER.retention_days = int(events_config.retention_days)


# --- what a key may see ---------------------------------------------------------------------

@dataclass(frozen=True)
class Visibility:
    """What a key may see of the feed. None: no restriction."""
    modules: frozenset[str] | None
    client_ids: frozenset[int] | None

    def narrowed(self, modules: set[str] | None, client_id: int | None) -> tuple[set[str] | None, set[int] | None]:
        """(modules, client ids) for events_after: what the request asks for, within this."""
        if modules is None:
            mods = None if self.modules is None else set(self.modules)
        else:
            mods = set(modules) if self.modules is None else set(modules) & self.modules
        if client_id is None:
            clients = None if self.client_ids is None else set(self.client_ids)
        else:
            clients = {client_id} if self.client_ids is None or client_id in self.client_ids else set()
        return mods, clients


def _current_key(db: Database, key: Any) -> Any:
    """The key as stored now: a Key, or an api_key_id; Unauthorized when it was revoked or expired."""
    if isinstance(key, int):
        key_id, layout = key, key_store.detect_layout(db)
    else:  # a Key says which layout it came from (a catalogue query less per request)
        key_id, layout = key.id, key_store.LAYOUT_CLIENT if key.user_id is None else key_store.LAYOUT_USER
    owner = "api_key_user_id" if layout == key_store.LAYOUT_USER else "api_key_client_id"
    row = db.row(f"SELECT api_key_id, api_key_name, api_key_decrypt_hash, api_key_expire, {owner} AS owner "
                 "FROM api_keys WHERE api_key_id = :id", {"id": key_id})
    if row is None or str(row["api_key_expire"]) <= date.today().isoformat():
        raise Unauthorized(AUTH_FAILED)
    owner_id = int(row["owner"] or 0)
    if layout == key_store.LAYOUT_USER:
        return key_store.Key(key_id, row["api_key_name"], 0, row["api_key_decrypt_hash"], owner_id)
    return key_store.Key(key_id, row["api_key_name"], owner_id, row["api_key_decrypt_hash"])


def _readable_modules(db: Database, role_id: int) -> frozenset[str]:
    levels = {r["module_name"]: int(r["level"] or 0) for r in db.rows(
        "SELECT module_name, MAX(user_role_permission_level) AS level FROM user_role_permissions "
        "JOIN modules ON modules.module_id = user_role_permissions.module_id "
        "WHERE user_role_id = :role GROUP BY module_name", {"role": role_id})}
    guards = {**PERMISSION_MODULE, **EXTRA_PERMISSION}
    readable = {m for m in capture.MODULES if levels.get(guards.get(m, ""), 0) >= READ}
    return frozenset(readable | set(OWN_MODULES))


def visibility(db: Database, key: Any) -> Visibility:
    """What `key` (a lib/access/keys.Key, or an api_key_id) may see, checked against the
    database now: a revoked or expired key raises Unauthorized, a key whose user is
    inactive or archived Forbidden.

    * a key for all clients: everything; a key for one client: that client's events;
    * a key acting as a user (ITFlow 2.4.7+): the modules the user's role may read, and the
      clients the user may reach (an allow list plus client 0, never a denied one); admins
      see everything."""
    with db.transaction():
        key = _current_key(db, key)
        if key.user_id is None:
            return Visibility(None, None if key.all_clients else frozenset({key.client_id}))
        access = load_access(db, key)
        if access.is_admin:
            return Visibility(None, None)
        modules = _readable_modules(db, access.role_id)
        if access.allowed:
            clients: frozenset[int] | None = frozenset((access.allowed | {0}) - access.denied)
        elif access.denied:
            every = {int(r["client_id"]) for r in db.rows("SELECT client_id FROM clients")}
            clients = frozenset((every | {0}) - access.denied)
        else:
            clients = None
        return Visibility(modules, clients)


# --- the endpoint ---------------------------------------------------------------------------

def _cursor(call: Call) -> int:
    raw = call.params.get("after")
    text = "0" if raw is None else str(raw).strip()
    if not text.isdigit():
        raise Refused("Parameter 'after' must be a cursor: 0 or the event_id of the last event you read.")
    return int(text)


def _names(call: Call, name: str, known: Iterable[str]) -> set[str] | None:
    raw = call.params.get(name)
    if raw is None or str(raw).strip() == "":
        return None
    wanted = {part.strip() for part in str(raw).split(",") if part.strip()}
    unknown = sorted(wanted - set(known))
    if unknown:
        raise Refused(f"Parameter '{name}': unknown {', '.join(unknown)} (one or more of "
                      f"{', '.join(known)}, comma-separated).")
    return wanted


def _client(call: Call) -> int | None:
    raw = call.params.get("client_id")
    if raw is None or str(raw).strip() == "":
        return None
    text = str(raw).strip()
    if not text.isdigit():
        raise Refused("Parameter 'client_id' must be a client id.")
    return int(text)


def too_old(after: int, oldest: int | None, last: int) -> bool:
    """Whether events right after cursor `after` were pruned. Cursor 0 means "from the oldest
    kept" and is never too old; sequence numbers have no gaps, so anything between the
    cursor and the oldest kept event is gone."""
    if after <= 0:
        return False
    first_kept = oldest if oldest is not None else last + 1
    return after < first_kept - 1


_READY: set[int] = set()  # id() of each Database found to have the event tables


def _has_events(db: Database) -> bool:
    if id(db) not in _READY:
        if EVENTS not in db.table_names():
            return False
        _READY.add(id(db))
    return True


EVENTS_OFF = ("Events are not set up in this database: the administrator turns them on with "
              "`itflow-api init-db --events` (docs/events.md).")


def read_feed(call: Call) -> envelope.Body:
    """GET events/read.php: the events after a cursor that this key may see, oldest first."""
    if not _has_events(call.db):
        raise Refused(EVENTS_OFF)
    after = _cursor(call)
    limit, _ = call.paging()
    modules = _names(call, "module", capture.MODULES + OWN_MODULES)
    actions = _names(call, "action", capture.ACTIONS + ("disabled",))
    client_id = _client(call)
    db = call.db
    seen = visibility(db, call.key)
    PRUNER.maybe(db)
    try:
        last = sequence(db)  # everything committed before now gets its place in the order
    except WriteConflict:
        # Other sequencers kept winning (Galera, heavy load): they are placing the new events,
        # and this answer has what is placed so far; the next read has the rest, in order.
        last = last_seq(db)
    oldest = oldest_seq(db)
    if too_old(after, oldest, last):
        first = oldest if oldest is not None else last + 1
        raise Refused(
            f"Cursor {after} is too old: events up to {first - 1} were deleted (kept "
            f"{PRUNER.retention_days} days). Resync: note the latest cursor ({last}), read the records "
            f"again from their modules, then read events with after={last}. The oldest cursor still "
            f"available is {first - 1}.")
    mods, clients = seen.narrowed(modules, client_id)
    rows = events_after(db, after, limit, modules=mods, actions=actions, client_ids=clients)
    if not rows:
        return envelope.failure(f"No events after cursor {after} (the latest cursor is {last}).")
    return envelope.read_ok(rows)
