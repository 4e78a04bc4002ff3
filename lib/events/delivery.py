"""The delivery worker: sends each subscription its events, signed, in order, at least once.

How the work is shared (any number of processes and hosts, SQLite, MariaDB, Galera):

* A worker takes a subscription by a lease on its row, one conditional UPDATE
  (SET webhook_lease_owner = me, webhook_lease_until = now + lease WHERE webhook_lease_until
  < now): one worker wins, the others skip it. The lease is renewed with every delivered
  event; a worker killed with -9 just stops renewing, and after the lease runs out another
  one carries on.
* The subscription's cursor (webhook_event_seq: every event up to it is done) moves in the
  same transaction as the delivery's log row, and only if the cursor and the lease are still
  what this worker saw. So a crash between sending and recording means the event is sent
  again (at least once; the webhook-id header is the same, for the receiver to drop it), and
  never skipped.
* A subscription's next event waits until the previous one is delivered: a failure stops
  that subscription for a back-off (2 s doubling up to 1 hour, with jitter), and after
  [events] max_failures failures in a row it is disabled, which writes the event
  webhooks/disabled.
* Events go through the creating key's visibility (lib/events/feed.visibility) every time: a
  subscription never receives what its key could not read; a revoked or expired key
  disables it.
* Database trouble (a restart, a lost connection) is logged and retried with back-off; the
  thread never dies of it.

A worker sends to up to PARALLEL (4) subscriptions at the same time, each on a thread of
its own, so that a slow receiver does not hold up the others. One Worker runs as a daemon
thread in each serve process ([events] deliver_in_serve) or in the
foreground (`itflow-api deliver`).
"""
from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..core.envelope import ApiError
from ..db.errors import DatabaseError, WriteConflict
from . import feed as change_feed
from . import outbound, signing, webhooks
from .webhooks import TABLE

if TYPE_CHECKING:
    from ..db.database import Database

log = logging.getLogger("itflow_api.webhooks")

POLL_SECONDS = 0.5
BATCH = 100              # events read at once for one subscription
ROUND_SECONDS = 5.0      # time one subscription may hold the worker before the others get a turn
BACKOFF_BASE = 2.0       # seconds before the second attempt; doubles
BACKOFF_CAP = 3600.0
HOUSEKEEPING_SECONDS = 600
PARALLEL = 4             # subscriptions one worker sends to at the same time


def backoff(failures: int, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP) -> float:
    """Seconds to wait after the `failures`-th failure in a row: base, 2 base, 4 base, ...
    up to cap, each drawn between half and all of it (so that many subscriptions failing
    together do not retry together)."""
    full = min(cap, base * 2 ** max(0, failures - 1))
    return full / 2 + random.random() * full / 2


def _ms() -> int:
    return int(time.time() * 1000)


def worker_name() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{threading.get_ident() % 100000}:{random.randrange(10**6)}"


class Worker:
    def __init__(self, db: Database, settings: webhooks.Settings, *, owner: str | None = None,
                 feed: Any = None, retention_days: int = 30, poll: float = POLL_SECONDS,
                 backoff_base: float = BACKOFF_BASE, backoff_cap: float = BACKOFF_CAP,
                 lease_seconds: float | None = None, parallel: int = PARALLEL) -> None:
        self.db = db
        self.settings = settings
        self.owner = (owner or worker_name())[:64]
        self.feed = feed if feed is not None else change_feed  # tests may hand in a double
        self.retention_days = retention_days
        self.poll = poll
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        # Longer than one attempt can take (connect + read + the watchdog's second).
        self.lease_ms = int(1000 * (lease_seconds or max(30.0, 2 * (settings.connect_timeout + settings.read_timeout + 1))))
        self.stopping = threading.Event()
        self._housekept = 0.0
        self._ready = False
        self.parallel = max(1, parallel)
        self._pool: ThreadPoolExecutor | None = None

    # --- the loop ------------------------------------------------------------------------------

    def run(self) -> None:
        """Until stop(): poll, deliver, back off on database trouble."""
        trouble = 0
        while not self.stopping.is_set():
            try:
                if not self.ready():
                    self.stopping.wait(30)
                    continue
                busy = self.run_once()
                self.housekeeping()
                if trouble:
                    log.info("webhook delivery: the database answers again")
                trouble = 0
            except DatabaseError as exc:
                trouble += 1
                if trouble == 1 or trouble % 20 == 0:
                    log.warning("webhook delivery: database unavailable (%s); retrying", exc)
                self.stopping.wait(min(30.0, 0.5 * 2 ** min(trouble, 6)))
                continue
            except Exception:
                log.exception("webhook delivery: unexpected error; retrying in 5 s")
                self.stopping.wait(5)
                continue
            if not busy:
                self.stopping.wait(self.poll)

    def stop(self) -> None:
        self.stopping.set()
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def ready(self) -> bool:
        """Whether events are installed in this database (the webhook tables are added then,
        when missing). Once true it is not asked again."""
        if self._ready:
            return True
        try:
            feed = self.feed
        except ImportError:
            return False
        with self.db.transaction():
            if not feed.installed(self.db):
                return False
        webhooks.install(self.db)
        self._ready = True
        return True

    def run_once(self) -> int:
        """One pass over every subscription with work due; returns the attempts made."""
        db, now = self.db, _ms()
        head = int(self.feed.sequence(db) or 0)
        with db.transaction():
            due = db.rows(
                f"SELECT webhook_id FROM {TABLE} WHERE webhook_enabled = 1 AND webhook_next_at <= :now "
                "AND webhook_lease_until < :now AND (webhook_event_seq < :head OR webhook_replay_seq IS NOT NULL) "
                "ORDER BY webhook_id", {"now": now, "head": head})
        ids = [int(row["webhook_id"]) for row in due]
        if self.stopping.is_set():
            return 0
        if self.parallel == 1 or len(ids) < 2:
            return sum(self._turn(webhook_id, head) for webhook_id in ids)
        # Several subscriptions at once, each on a thread (and database connection) of its
        # own: a slow receiver does not hold up the others.
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="webhook-send")
        turns = [self._pool.submit(self._turn, webhook_id, head) for webhook_id in ids]
        return sum(turn.result() for turn in turns)

    def _turn(self, webhook_id: int, head: int) -> int:
        """One subscription's turn: lease it, send what is due, release it."""
        if self.stopping.is_set() or not self._lease(webhook_id):
            return 0
        try:
            return self._serve(webhook_id, head)
        except WriteConflict:
            # Galera: another node changed the row (an update, a replay) as this worker
            # recorded a delivery. Rolled back whole; the event is sent again next round.
            log.info("webhook %d: a concurrent change won; carrying on next round", webhook_id)
            return 0
        finally:
            self._release(webhook_id)

    def housekeeping(self) -> None:
        if time.monotonic() - self._housekept < HOUSEKEEPING_SECONDS:
            return
        self._housekept = time.monotonic()
        with self.db.transaction(write=True):
            webhooks.prune_deliveries(self.db, self.retention_days)
        prune = getattr(self.feed, "prune", None)
        if prune is not None:
            prune(self.db, self.retention_days)

    # --- leases ----------------------------------------------------------------------------------

    def _lease(self, webhook_id: int) -> bool:
        now = _ms()
        try:
            with self.db.transaction(write=True):
                return self.db.execute(
                    f"UPDATE {TABLE} SET webhook_lease_owner = :me, webhook_lease_until = :until "
                    "WHERE webhook_id = :id AND webhook_enabled = 1 AND webhook_lease_until < :now",
                    {"me": self.owner, "until": now + self.lease_ms, "id": webhook_id, "now": now}) == 1
        except DatabaseError:  # a Galera certification conflict: another worker won it
            return False

    def _release(self, webhook_id: int) -> None:
        try:
            with self.db.transaction(write=True):
                self.db.execute(f"UPDATE {TABLE} SET webhook_lease_owner = '', webhook_lease_until = 0 "
                                "WHERE webhook_id = :id AND webhook_lease_owner = :me", {"id": webhook_id, "me": self.owner})
        except DatabaseError as exc:  # the lease runs out by itself
            log.warning("webhook %d: could not release the lease (%s)", webhook_id, exc)

    # --- one subscription --------------------------------------------------------------------------

    def _serve(self, webhook_id: int, head: int) -> int:
        db = self.db
        with db.transaction():
            row = db.row(f"SELECT * FROM {TABLE} WHERE webhook_id = :id AND webhook_lease_owner = :me",
                         {"id": webhook_id, "me": self.owner})
            if row is None:
                return 0
            key = webhooks.current_key(db, int(row["webhook_key_id"]))
            visibility, why = None, "the API key that created it was revoked or has expired"
            if key is not None:
                try:
                    visibility = self.feed.visibility(db, key)
                except ApiError as exc:
                    why = f"the API key that created it may no longer read: {exc.message}"
        if visibility is None:
            self._disable(row, why, key.client_id if key else 0)
            return 0
        filters = _filters(row, visibility)
        try:
            secret = webhooks.secret_of(db, row)
        except Exception:  # sealed under another key hash secret, or damaged
            self._disable(row, "its signing secret cannot be opened with this server's key hash secret "
                               "([security] key_hash_secret / secret_file): create it again", key.client_id if key else 0)
            return 0
        state = _State(int(row["webhook_event_seq"]), int(row["webhook_failures"]))
        attempts = 0
        if row["webhook_replay_seq"] is not None:
            replay = int(row["webhook_replay_seq"])
            found = [] if filters is None else self.feed.events_after(db, replay - 1, 1, **filters)
            if found and int(found[0]["event_id"]) == replay:
                attempts += 1
                if not self._send(row, secret, found[0], state, replay=True):
                    return attempts
            else:
                self._clear_replay(webhook_id, replay)
        deadline = time.monotonic() + ROUND_SECONDS
        while not self.stopping.is_set() and time.monotonic() < deadline:
            events = [] if filters is None else self.feed.events_after(db, state.cursor, BATCH, **filters)
            for event in events:
                attempts += 1
                if not self._send(row, secret, event, state):
                    return attempts
                if time.monotonic() >= deadline or self.stopping.is_set():
                    return attempts
            if len(events) < BATCH:
                if state.cursor < head and not self._advance(webhook_id, state, head):
                    return attempts
                break
        return attempts

    def _send(self, row: dict[str, Any], secret: str, event: dict[str, Any], state: _State,
              replay: bool = False) -> bool:
        """Send one event; record it. True when it was delivered and the cursor moved."""
        webhook_id, seq = int(row["webhook_id"]), int(event["event_id"])
        msg_id = signing.message_id(webhook_id, seq)
        body = signing.encode(signing.event_payload(event))
        s = self.settings
        outcome = outbound.post(row["webhook_url"], body, signing.headers(secret, msg_id, body),
                                allowed=s.allowed, connect_timeout=s.connect_timeout, read_timeout=s.read_timeout)
        attempt = state.failures + 1
        if not outcome.ok:
            self._failed(row, seq, msg_id, attempt, outcome, state)
            return False
        db = self.db
        with db.transaction(write=True):
            webhooks.log_delivery(db, webhook_id, seq, msg_id, attempt, outcome)
            if replay:
                moved = db.execute(
                    f"UPDATE {TABLE} SET webhook_replay_seq = NULL, webhook_failures = 0, webhook_next_at = 0, "
                    "webhook_lease_until = :until WHERE webhook_id = :id AND webhook_lease_owner = :me "
                    "AND webhook_replay_seq = :seq", {"until": _ms() + self.lease_ms, "id": webhook_id,
                                                      "me": self.owner, "seq": seq}) == 1
            else:
                moved = self._move(webhook_id, state.cursor, seq)
        state.failures = 0
        if moved and not replay:
            state.cursor = seq
        return moved

    def _move(self, webhook_id: int, old: int, new: int) -> bool:
        return self.db.execute(
            f"UPDATE {TABLE} SET webhook_event_seq = :new, webhook_failures = 0, webhook_next_at = 0, "
            "webhook_lease_until = :until WHERE webhook_id = :id AND webhook_lease_owner = :me "
            "AND webhook_event_seq = :old AND webhook_enabled = 1",  # switched off: stop at once
            {"new": new, "until": _ms() + self.lease_ms, "id": webhook_id, "me": self.owner, "old": old}) == 1

    def _advance(self, webhook_id: int, state: _State, head: int) -> bool:
        """Nothing more for this subscription up to `head`: its cursor jumps there."""
        with self.db.transaction(write=True):
            moved = self._move(webhook_id, state.cursor, head)
        if moved:
            state.cursor = head
        return moved

    def _clear_replay(self, webhook_id: int, seq: int) -> None:
        with self.db.transaction(write=True):
            self.db.execute(f"UPDATE {TABLE} SET webhook_replay_seq = NULL WHERE webhook_id = :id "
                            "AND webhook_replay_seq = :seq", {"id": webhook_id, "seq": seq})

    def _failed(self, row: dict[str, Any], seq: int, msg_id: str, attempt: int, outcome: outbound.Outcome,
                state: _State) -> None:
        webhook_id, db = int(row["webhook_id"]), self.db
        failures = state.failures + 1
        state.failures = failures
        if failures >= self.settings.max_failures:
            with db.transaction(write=True):
                webhooks.log_delivery(db, webhook_id, seq, msg_id, attempt, outcome)
            key = webhooks.current_key(db, int(row["webhook_key_id"]))
            self._disable(row, f"{failures} failed attempts in a row (last: {outcome.error})", key.client_id if key else 0,
                          failures)
            return
        wait = backoff(failures, self.backoff_base, self.backoff_cap)
        with db.transaction(write=True):
            webhooks.log_delivery(db, webhook_id, seq, msg_id, attempt, outcome)
            db.execute(f"UPDATE {TABLE} SET webhook_failures = :failures, webhook_next_at = :next "
                       "WHERE webhook_id = :id AND webhook_lease_owner = :me",
                       {"failures": failures, "next": _ms() + int(wait * 1000), "id": webhook_id, "me": self.owner})
        log.info("webhook %d: event %d not delivered (attempt %d: %s); next try in %.0f s",
                 webhook_id, seq, attempt, outcome.error, wait)

    def _disable(self, row: dict[str, Any], reason: str, key_client: int, failures: int | None = None) -> None:
        webhook_id, db = int(row["webhook_id"]), self.db
        with db.transaction(write=True):
            done = db.execute(
                f"UPDATE {TABLE} SET webhook_enabled = 0, webhook_disabled_reason = :why, "
                "webhook_failures = :failures WHERE webhook_id = :id AND webhook_enabled = 1",
                {"why": reason[:255], "failures": int(row["webhook_failures"]) if failures is None else failures,
                 "id": webhook_id})
            if done:
                client = int(row["webhook_client_id"]) or key_client
                self.feed.add_event(db, "webhooks", "disabled", webhook_id, client)
        log.warning("webhook %d disabled: %s", webhook_id, reason)


class _State:
    __slots__ = ("cursor", "failures")

    def __init__(self, cursor: int, failures: int) -> None:
        self.cursor, self.failures = cursor, failures


def _filters(row: dict[str, Any], visibility: Any) -> dict[str, Any] | None:
    """events_after's filters: the subscription's, within what its key may see; None when
    nothing can match (then the cursor just follows the head)."""
    wanted = set(filter(None, (row["webhook_modules"] or "").split(","))) or None
    modules = visibility.modules if wanted is None else (wanted if visibility.modules is None else wanted & visibility.modules)
    client = int(row["webhook_client_id"] or 0)
    clients = visibility.client_ids if not client else (
        {client} if visibility.client_ids is None else {client} & set(visibility.client_ids))
    actions = set(filter(None, (row["webhook_actions"] or "").split(","))) or None
    if (modules is not None and not modules) or (clients is not None and not clients):
        return None
    return {"modules": None if modules is None else set(modules), "actions": actions,
            "client_ids": None if clients is None else set(clients)}


def send_test(db: Database, settings: webhooks.Settings, row: dict[str, Any]) -> outbound.Outcome:
    """Send a signed webhooks.test event to the subscription now (outside any transaction);
    the attempt is logged as event 0. Does not count towards failures."""
    msg_id = signing.test_message_id()
    body = signing.encode(signing.test_payload(int(row["webhook_id"])))
    try:
        secret = webhooks.secret_of(db, row)
    except Exception:
        return outbound.Outcome(None, 0, error="its signing secret cannot be opened with this server's key hash "
                                               "secret: create the webhook again")
    outcome = outbound.post(row["webhook_url"], body, signing.headers(secret, msg_id, body),
                            allowed=settings.allowed, connect_timeout=settings.connect_timeout,
                            read_timeout=settings.read_timeout)
    with db.transaction(write=True):
        webhooks.log_delivery(db, int(row["webhook_id"]), 0, msg_id, 1, outcome)
    return outcome


def start(db: Database, events_config: Any) -> Worker:
    """The worker as a daemon thread of this process (the serve start hook)."""
    worker = Worker(db, webhooks.settings_for(db), retention_days=events_config.retention_days)
    thread = threading.Thread(target=worker.run, name="webhook-delivery", daemon=True)
    thread.start()
    return worker
