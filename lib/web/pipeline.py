"""The one path every request takes, whoever sends it: a single endpoint call, each item of a
batch, a replayed retry. Key → quota → role → scope → endpoint, inside one transaction that
lib/core/retry.py may run again, with the `logs` rows written by the endpoint in the same
transaction (and the events captured by the database's triggers as they commit).

`Pipeline.single()` is one HTTP request to one endpoint. A batch (lib/web/batch.py) uses the
two halves on their own: `authenticate()` once for the request, then `perform()` for each
item, in one transaction (atomic) or one each.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..access.permissions import authorize, load_access, required_level
from ..access.scope import scope_for
from ..core import envelope, messages, retry
from ..core.endpoint import Call, Caller
from ..core.envelope import ApiError, Body, TooManyRequests, Unauthorized
from ..core.values import noting
from ..db.errors import DatabaseError
from ..itflow import audit

log = logging.getLogger("itflow_api")


@dataclass(frozen=True)
class Target:
    """One endpoint as the pipeline sees it: its path, what it is, and the role it needs."""
    path: str
    endpoint: Any
    api_module: str
    function: str
    level: str

    @classmethod
    def of(cls, path: str, endpoint: Any) -> Target:
        # /api/v1/<module>/<function>.php: what a user key's role is checked against.
        parts = path.split("/")
        function = parts[4][:-len(".php")]
        return cls(path, endpoint, parts[3], function, required_level(endpoint.method, function))


@dataclass
class Session:
    """An authenticated key for one HTTP request, and what its items share."""
    key: Any
    caller: Caller
    headers: dict[str, str] = field(default_factory=dict)  # response headers (quota, ETag, cursors)
    sync_due: bool = False
    access: Any = None       # a user key's roles, loaded once per transaction that needs them
    status: int = 200        # an endpoint may ask for another (304 Not Modified)


class Pipeline:
    def __init__(self, service: Any) -> None:
        self.service = service

    # --- the halves ----------------------------------------------------------------------

    def authenticate(self, presented: str | None, caller: Caller, path: str, session: Session | None = None,
                     cost: int = 1) -> Session | None:
        """The key behind `presented`, its quota taken (`cost` units), inside the caller's
        transaction. None when no key matches (the failure is logged in that transaction);
        raises when there is no key at all, the address is blocked, or the quota is spent.
        `session` is the one an earlier attempt of the same request made: the quota is
        counted once however often the transaction runs."""
        service = self.service
        if not presented:
            raise Unauthorized(messages.NO_KEY)
        wait = service.limits.auth_blocked(caller.ip, presented)
        if wait:  # known here to be guessing: refused before the key is even looked at
            raise too_many_failures(wait)
        key = service.keys.authenticate(presented)
        if key is None:
            audit.auth_failed(service.db, caller, path)  # committed even though the caller is refused
            return None
        if session is None:  # the first attempt: the quota is taken once
            session = Session(key, caller)
            quota, session.sync_due = service.limits.quota(key.id, cost)
            if quota is not None:
                session.headers.update(quota.headers)
                if not quota.allowed:
                    raise TooManyRequests(messages.QUOTA_USED.format(limit=quota.limit, wait=quota.reset),
                                          headers={"Retry-After": str(quota.reset), **quota.headers})
        session.key = key
        session.access = None  # roles are read again in each transaction
        return session

    def perform(self, session: Session, target: Target, params: Any, memo: dict[str, Any]) -> Body:
        """Run one endpoint for an authenticated session, inside the caller's transaction:
        the user key's role, the scope, the endpoint itself, and the notes of a write."""
        db, key = self.service.db, session.key
        if key.user_id is not None:  # ITFlow 2.4.7+: the key acts as its user
            if session.access is None:
                session.access = load_access(db, key)
            authorize(db, session.access, target.api_module, target.level)
        endpoint = target.endpoint
        with noting() as notes:
            call = Call(db, params, key, scope_for(key, params, session.access), session.caller, target.path,
                        self.service.settings, memo, session)
            body = endpoint(call)
        return envelope.with_notes(body, target.function, list(notes)) if endpoint.writes else body

    def finish(self, session: Session | None) -> None:
        """After the request's transactions: share the quota count (never inside one)."""
        if session is not None and session.sync_due:
            try:
                self.service.limits.sync_quota(session.key.id)
            except DatabaseError as exc:  # the request itself went through; the count catches up next time
                log.warning("could not share the request count of key %s: %s", session.key.id, exc)

    # --- one request, one endpoint --------------------------------------------------------

    def single(self, target: Target, params: Any, caller: Caller,
               before_commit: Callable[[Session, Body], None] | None = None,
               on_key: Callable[[Any], None] | None = None) -> tuple[Session, Body]:
        """Authenticate and run one endpoint in one transaction (run again on a conflict).
        `before_commit(session, body)` runs inside that transaction after the endpoint, so
        what it writes commits or rolls back with the endpoint's own writes. `on_key(key)`
        hears of the key as soon as it is known (the access log names it)."""
        service, endpoint = self.service, target.endpoint
        presented = params.api_key
        if not presented:
            raise Unauthorized(messages.NO_KEY)
        session: Session | None = None
        memo: dict[str, Any] = {}

        def attempt() -> Body | None:  # one whole transaction: lib/core/retry.py may run it again
            nonlocal session
            with service.db.transaction(write=endpoint.writes):
                session = self.authenticate(presented, caller, target.path, session)
                if session is None:
                    return None
                if on_key is not None:
                    on_key(session.key)
                body = self.perform(session, target, params, memo)
                if before_commit is not None:
                    before_commit(session, body)
                return body

        try:
            body = retry.run(attempt, service.write_attempts if endpoint.writes else 1)
        except ApiError as exc:  # a refusal after the key was known still carries its quota headers
            if session is not None:
                exc.headers = {**session.headers, **exc.headers}
            raise
        finally:
            self.finish(session)
        if session is None or body is None:
            wait = service.limits.auth_failed(caller.ip, presented)
            if wait:
                raise too_many_failures(wait)
            raise Unauthorized(messages.AUTH_FAILED)
        return session, body


def too_many_failures(wait: int) -> TooManyRequests:
    return TooManyRequests(messages.TOO_MANY_FAILURES.format(wait=wait), headers={"Retry-After": str(wait)})
