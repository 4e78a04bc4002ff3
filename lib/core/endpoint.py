"""What an endpoint file declares, and what it is handed for one request.

An endpoint file `api/v1/<module>/<function>.py` defines `endpoint`: any object with
`method` ("GET" or "POST"), `writes` (bool) and `__call__(call) -> envelope body`.
Module endpoints build it from their module definition; a site's own endpoint can use
the `@function_endpoint(...)` decorator on a plain function.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..itflow import audit
from .envelope import Body

if TYPE_CHECKING:
    from ..db.database import Database


@dataclass
class Caller:
    """Who is calling over HTTP (address and user agent), as it goes into `logs`. Not an
    ITFlow client: those are the customers every record belongs to."""
    ip: str
    user_agent: str


class Call:
    """One authenticated request, as an endpoint sees it."""

    __slots__ = ("db", "params", "key", "scope", "caller", "path", "settings", "memo", "session")

    def __init__(self, db: Database, params: Any, key: Any, scope: Any, caller: Caller, path: str,
                 settings: Any, memo: dict[str, Any] | None = None, session: Any = None) -> None:
        # params (lib/web/params.Params), key (lib/access/keys.Key), scope (lib/access/scope.Scope)
        # and settings (the [server] section) come from the floors above: this one hands them
        # on without importing them.
        self.db = db
        self.params = params
        self.key = key
        self.scope = scope
        self.caller = caller
        self.path = path
        self.settings = settings  # ServerConfig
        # Values an endpoint works out once per request (a master key, a ticket number); one
        # dict for every attempt of a write that runs again after a conflict (lib/core/retry.py).
        self.memo = {} if memo is None else memo
        # The request's lib/web/pipeline.Session: where an endpoint adds response headers
        # (ETag, the next cursor) or asks for another status (304).
        self.session = session

    @property
    def headers(self) -> dict[str, str]:
        """Response headers this endpoint adds (kept only when the request has a session)."""
        return self.session.headers if self.session is not None else {}

    def set_status(self, status: int) -> None:
        if self.session is not None:
            self.session.status = status

    def paging(self) -> tuple[int, int]:
        return self.params.paging(self.settings.max_limit)

    def log_change(self, entity: str, action: str, name: str, client_id: int, entity_id: int,
                   api_description: str | None = None) -> None:
        audit.record_change(self.db, self.caller, self.key, entity, action, name, client_id, entity_id,
                            api_description or f"{action} {entity.lower()} {name}")


class FunctionEndpoint:
    def __init__(self, func: Callable[[Call], Body], method: str, summary: str, writes: bool,
                 parameters: str = "") -> None:
        self.func = func
        self.method = method
        self.summary = summary or (func.__doc__ or "").strip().split("\n")[0]
        self.writes = writes
        self.parameters = parameters  # one line for the endpoint table

    def __call__(self, call: Call) -> Body:
        return self.func(call)


def function_endpoint(method: str = "GET", summary: str = "", writes: bool | None = None,
                      parameters: str = "") -> Callable[[Callable[[Call], Body]], FunctionEndpoint]:
    """Decorator for a hand-written endpoint function taking a Call."""
    def wrap(func: Callable[[Call], Body]) -> FunctionEndpoint:
        return FunctionEndpoint(func, method, summary, method != "GET" if writes is None else writes, parameters)
    return wrap
