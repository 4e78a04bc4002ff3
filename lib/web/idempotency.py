"""The Idempotency-Key request header: a POST sent again (a retry after a timeout, a lost
answer) gets the first answer again instead of running twice.

How it works, per POST that carries the header:

1. A claim row is inserted, and committed at once in a short transaction of its own, into
   our table `itflow_api_idempotency` (shared by every process and host on the database).
   Its primary key is the *scope*: HMAC-SHA256 under the server's key hash secret of the
   presented API key and the Idempotency-Key, so a key never sees another key's entries and
   no API key is stored. Beside it: a hash of the request (path + body, see `fingerprint`).
2. The request runs. Its answer (status, the headers that matter such as ETag, the exact
   body bytes) is written onto the claim inside the write's own transaction, so the write
   and its remembered answer commit together or not at all.
3. A repeat fails to insert the claim (the primary key is taken) and looks at the row:
   answered + same request → the stored answer, plus `Idempotent-Replayed: true`;
   answered + another request → 422; still running → 409 with Retry-After: 1.
   A claim still "running" after LEASE_SECONDS belongs to a process that died: a repeat
   takes it over (and the old holder, should it still be alive, cannot record its answer:
   its write is rolled back instead).
4. A request that raises (a refusal, a database error: nothing was written) deletes its
   claim, so a retry runs again.
5. Rows live TTL_SECONDS (24 h). An expired row is ignored (a repeat starts afresh) and
   about one claim in PURGE_EVERY deletes a batch of expired rows; no background thread.

The request hash is taken over the *parsed* body written canonically (sorted keys, compact)
rather than over its raw bytes: clients that rebuild the same body with another key order
(PowerShell's @{} hashtables do, from one session to the next) still match. A caller that
has the raw bytes only may pass bytes instead.

Using it (lib/web/app.py EndpointResource.respond does this for every single endpoint):

    requested = idempotency.requested(req)          # None without the header; 400 if malformed
    if requested is None:
        result = run(None)
    else:
        result = idempotency.guarded(service, path, presented_key, requested, body, run)
    if isinstance(result, idempotency.Replay):      # the stored answer
        result.send(resp)
    else:
        ...                                          # the fresh answer, as usual

`run(record)` does the request and returns whatever the caller wants back (`record` is
None when the request runs unguarded). It must call `record(status, headers, envelope)`
once with the answer: best inside the write's transaction (Pipeline.single's before_commit
hook: `lambda session, body: record(session.status, session.headers, body)`), where a
crash can never leave the write without its answer; a caller with several transactions
calls it after the last one, where it runs in a transaction of its own. A run that
returns without recording releases the key (nothing is remembered).

The batch endpoint (lib/web/batch.py): the whole batch is the request, its path and body
the fingerprint. In BatchResource.on_post, around run_batch:

    def run(record):
        session, status, body = run_batch(service, self.routes, params, caller, atomic, ...)
        if record is not None:
            record(status, session.headers, body)
        return session, status, body

    requested = idempotency.requested(req)
    result = run(None) if requested is None else idempotency.guarded(
        service, "/api/v1/batch.php", params.api_key, requested, params.body, run, lease=300)
    if isinstance(result, idempotency.Replay):
        result.send(resp)
        return
    session, status, body = result

Recorded after the items' transactions, a batch is remembered once it has run; a process
that dies between its last commit and the record leaves a claim that a repeat takes over
when the lease ends, and runs again (an atomic batch can close that gap by recording inside
its one transaction, once its answer is known). A batch may run longer than a single call:
give it a longer `lease`.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import falcon

from ..core import envelope
from ..core.envelope import ApiError, BadRequest, Body, Unauthorized
from ..core.messages import AUTH_FAILED
from ..db.classify import is_duplicate
from ..db.errors import DatabaseError

log = logging.getLogger("itflow_api")

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
TABLE = "itflow_api_idempotency"
MAX_LENGTH = 255
TTL_SECONDS = 24 * 3600
LEASE_SECONDS = 60
PURGE_EVERY = 100     # about one claim in this many deletes expired rows
PURGE_BATCH = 200     # at most this many rows per purge
CLAIM_ATTEMPTS = 5
RELEASE_ATTEMPTS = 3
# Per-request headers that a replay must not repeat (a replay takes no quota).
_NOT_STORED = ("x-ratelimit-", "retry-after")

# Plain SQL that MariaDB/MySQL and SQLite both run unchanged (the database's own charset:
# the stored body is always ASCII, lib/core/envelope.encode escapes everything else).
CREATE_TABLE = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    idem_scope CHAR(64) NOT NULL PRIMARY KEY,
    idem_request CHAR(64) NOT NULL,
    idem_token CHAR(32) NOT NULL,
    idem_done INT NOT NULL DEFAULT 0,
    idem_claimed_at BIGINT NOT NULL,
    idem_expires_at BIGINT NOT NULL,
    idem_status INT NOT NULL DEFAULT 0,
    idem_headers TEXT NULL,
    idem_body LONGTEXT NULL
)"""
CREATE_INDEX = f"CREATE INDEX IF NOT EXISTS {TABLE}_expires ON {TABLE} (idem_expires_at)"  # SQLite, MariaDB

_INSERT = (f"INSERT INTO {TABLE} (idem_scope, idem_request, idem_token, idem_done, idem_claimed_at, "
           "idem_expires_at, idem_status) VALUES (:scope, :request, :token, 0, :now, :expires, 0)")
_READ = (f"SELECT idem_request, idem_token, idem_done, idem_claimed_at, idem_expires_at, idem_status, "
         f"idem_headers, idem_body FROM {TABLE} WHERE idem_scope = :scope")
_TAKE_OVER = (f"UPDATE {TABLE} SET idem_request = :request, idem_token = :token, idem_done = 0, "
              "idem_claimed_at = :now, idem_expires_at = :expires, idem_status = 0, idem_headers = NULL, "
              "idem_body = NULL WHERE idem_scope = :scope AND idem_token = :old")
_RECORD = (f"UPDATE {TABLE} SET idem_done = 1, idem_status = :status, idem_headers = :headers, "
           "idem_body = :body WHERE idem_scope = :scope AND idem_token = :token AND idem_done = 0")
_RELEASE = f"DELETE FROM {TABLE} WHERE idem_scope = :scope AND idem_token = :token AND idem_done = 0"
_EXPIRED = f"SELECT idem_scope FROM {TABLE} WHERE idem_expires_at <= :now LIMIT {PURGE_BATCH}"

MALFORMED = ("Header Idempotency-Key must be 1 to 255 printable ASCII characters "
             "(a UUID is a good choice); send the request again with a valid one or without it.")
OTHER_REQUEST = ("This Idempotency-Key was already used with a different request (another body or "
                 "endpoint) in the last 24 hours: use a new key for a new request.")
STILL_RUNNING = ("A request with this Idempotency-Key is still being processed: "
                 "try again in a second to get its answer.")
TAKEN_OVER = ("This request took longer than the Idempotency-Key lease and a repeat took over the key: "
              "nothing was written; send it again to get the answer.")

T = TypeVar("T")
Record = Callable[[int, dict[str, str], Body], None]


def ensure(db: Any) -> None:
    """Create our table when missing (create_app runs it; safe on an ITFlow database too)."""
    with db.transaction(write=True):
        db.execute(CREATE_TABLE)
        db.execute(CREATE_INDEX)


def requested(req: Any) -> str | None:
    """The Idempotency-Key of a POST, checked; None when absent or not a POST (a GET ignores
    it). Raises BadRequest (400) when it is empty, too long or not printable ASCII."""
    if req.method != "POST":
        return None
    value = req.get_header(HEADER)
    if value is None:
        return None
    if not valid(value):
        raise BadRequest(MALFORMED)
    return str(value)


def valid(value: str) -> bool:
    return 0 < len(value) <= MAX_LENGTH and all(" " <= c <= "~" for c in value) and bool(value.strip())


def scope(secret: bytes, presented: str, key: str) -> str:
    """What the row is found by: the API key and the Idempotency-Key, under the server's secret.
    The label keeps it apart from the key hash itself (HMAC of the bare API key)."""
    message = b"itflow-api idempotency\x00" + presented.encode("utf-8") + b"\x00" + key.encode("utf-8")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def fingerprint(path: str, body: Any) -> str:
    """Hash of what was asked: the endpoint path and the body (parsed: written canonically;
    bytes: as they are)."""
    if isinstance(body, bytes | bytearray):
        data = bytes(body)
    else:
        data = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str).encode("ascii")
    return hashlib.sha256(path.encode("utf-8") + b"\x00" + data).hexdigest()


@dataclass
class Replay:
    """A stored answer, sent again byte for byte."""
    status: int
    headers: dict[str, str]
    body: bytes

    def send(self, resp: Any) -> None:
        resp.status = falcon.code_to_http_status(self.status)
        if self.status != 304:
            resp.content_type = "application/json"
            resp.data = self.body
        for name, value in {**self.headers, REPLAYED: "true"}.items():
            resp.set_header(name, value)


@dataclass
class Claim:
    """This request's hold on its scope; `record()` writes the answer onto it."""
    db: Any
    scope: str
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    recorded: bool = False

    def record(self, status: int, headers: dict[str, str], body: Body) -> None:
        """Store the answer, in the caller's transaction when there is one (else its own).
        Raises ApiError 409 (so the write rolls back) when a repeat took the claim over."""
        kept = {k: v for k, v in headers.items() if not k.lower().startswith(_NOT_STORED)}
        data = b"" if status == 304 else envelope.encode(body)
        with self.db.transaction(write=True):
            changed = self.db.execute(_RECORD, {"scope": self.scope, "token": self.token, "status": status,
                                                "headers": json.dumps(kept), "body": data.decode("ascii")})
        if not changed:
            raise ApiError(TAKEN_OVER, status=409, headers={"Retry-After": "1"})
        self.recorded = True

    def release(self) -> None:
        """Forget the claim (nothing was written): a retry runs again. A claim that cannot be
        deleted now (the database is down) is taken over once its lease ends."""
        for attempt in range(RELEASE_ATTEMPTS):  # a busy database (SQLite's lock) may refuse once
            try:
                with self.db.transaction(write=True):
                    self.db.execute(_RELEASE, {"scope": self.scope, "token": self.token})
                return
            except DatabaseError as exc:
                if attempt + 1 == RELEASE_ATTEMPTS:
                    log.warning("could not release an Idempotency-Key claim (a repeat takes it over "
                                "when its lease ends): %s", exc)
                else:
                    time.sleep(0.05 * (attempt + 1))


def guarded(service: Any, path: str, presented: str | None, key: str, body: Any,
            run: Callable[[Record | None], T], lease: int = LEASE_SECONDS,
            clock: Callable[[], float] = time.time) -> T | Replay:
    """Run `run(record)` at most once per (API key, Idempotency-Key) in TTL_SECONDS; a repeat
    gets the stored answer as a Replay. Raises ApiError 422 (another request under this key)
    or 409 (the first one still runs). Without an API key the request runs unguarded (the
    pipeline refuses it). `lease`: seconds after which a claim still running is taken to
    belong to a process that died, and a repeat may take it over."""
    if not presented:
        return run(None)
    db = service.db
    found = claim(db, scope(service.keys.secret, presented, key), fingerprint(path, body), lease, clock)
    if isinstance(found, Replay):
        if service.keys.authenticate(presented) is None:  # revoked or expired since: no replay
            raise Unauthorized(AUTH_FAILED)
        return found
    try:
        result = run(found.record)
    except BaseException:
        found.release()
        raise
    if not found.recorded:
        found.release()
    return result


def claim(db: Any, where: str, request: str, lease: int = LEASE_SECONDS,
          clock: Callable[[], float] = time.time) -> Claim | Replay:
    """Take the scope for this request, or the answer of the request that took it first."""
    for _ in range(CLAIM_ATTEMPTS):
        now = int(clock())
        mine = Claim(db, where)
        binds = {"scope": where, "request": request, "token": mine.token, "now": now, "expires": now + TTL_SECONDS}
        if _insert(db, binds):
            if random.randrange(PURGE_EVERY) == 0:
                purge(db, now)
            return mine
        row = db.row(_READ, {"scope": where})
        if row is None:  # released meanwhile: try again
            continue
        done = int(row["idem_done"])
        if int(row["idem_expires_at"]) <= now or (not done and int(row["idem_claimed_at"]) + lease <= now):
            with db.transaction(write=True):
                taken = db.execute(_TAKE_OVER, {**binds, "old": row["idem_token"]})
            if taken:
                return mine
            continue
        if row["idem_request"] != request:
            raise ApiError(OTHER_REQUEST, status=422)
        if not done:
            raise ApiError(STILL_RUNNING, status=409, headers={"Retry-After": "1"})
        return Replay(int(row["idem_status"]), json.loads(row["idem_headers"] or "{}"),
                      (row["idem_body"] or "").encode("ascii"))
    raise ApiError(STILL_RUNNING, status=409, headers={"Retry-After": "1"})


def _insert(db: Any, binds: dict[str, Any]) -> bool:
    """Insert the claim row in a transaction of its own; False when the scope is taken."""
    try:
        with db.transaction(write=True):
            db.execute(_INSERT, binds)
        return True
    except DatabaseError:
        raise
    except Exception as exc:  # the primary key exists: another request claimed the scope
        if not is_duplicate(exc):
            raise
        return False


def purge(db: Any, now: int) -> int:
    """Delete up to PURGE_BATCH expired rows (by primary key, so no range is locked)."""
    try:
        stale = [r["idem_scope"] for r in db.rows(_EXPIRED, {"now": now})]
        if not stale:
            return 0
        binds: dict[str, Any] = {f"s{i}": s for i, s in enumerate(stale)}
        marks = ", ".join(f":s{i}" for i in range(len(stale)))
        with db.transaction(write=True):
            return int(db.execute(f"DELETE FROM {TABLE} WHERE idem_expires_at <= :now AND idem_scope IN ({marks})",
                                  {**binds, "now": now}))
    except DatabaseError as exc:  # housekeeping only: the next purge tries again
        log.warning("could not purge expired Idempotency-Key rows: %s", exc)
        return 0
