"""POST /api/v1/batch.php: many endpoint calls in one request (ours; ITFlow has no batches).

The key is authenticated once, its quota charged one unit per item; each item then runs
through the same Pipeline.perform() as a single call (role, scope, the endpoint, its `logs`
rows), so an item answers exactly what its single call would have. Not atomic: a failure is
that item's alone (its writes are undone at a savepoint), and the items commit in groups of
EACH_GROUP, each group run again whole on a write conflict. Atomic: every
item in one transaction, run again whole on a write conflict; the first item that does not
succeed rolls all of it back and the rest do not run. The answer is HTTP 200 with one
envelope per item (index, module, function, status and the single call's envelope).
"""
from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import falcon

from ..core import envelope, messages, retry
from ..core.crud import Create, RecordOperation
from ..core.endpoint import Caller
from ..core.envelope import ApiError, Body, MethodNotAllowed, Unauthorized
from ..db.errors import CommitUnknown, DatabaseError, StorageFull, ValueRefused
from . import idempotency
from .batch_plan import Item, atomic_flag, plan
from .params import Params
from .pipeline import Session, too_many_failures

log = logging.getLogger("itflow_api")

PATH = "/api/v1/batch.php"
EACH_GROUP = 100  # items per transaction of a batch that is not atomic
SIDE_BY_SIDE = 3  # groups of such a batch run at once on MariaDB when no item can depend on another
BATCH_LEASE_SECONDS = 300  # a batch may run far longer than one call (lib/web/idempotency.py's lease)
_METHODS = ("get", "put", "patch", "delete", "options", "head", "trace", "connect")


class BatchResource:
    def __init__(self, service: Any, routes: dict[str, Any]) -> None:
        self.service = service
        self.routes = routes
        for method in _METHODS:  # a wrong method gets the envelope and Allow, as an endpoint's does
            setattr(self, f"on_{method}", self.refuse)

    def refuse(self, req: falcon.Request, resp: falcon.Response) -> None:
        raise MethodNotAllowed("POST")

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        service = self.service
        params = Params.from_request(req, service.settings.max_batch_bytes)
        caller = Caller(ip=req.context.client_ip, user_agent=req.user_agent or "")

        def seen(key: Any) -> None:  # the access log names the key
            req.context.key_name = key.name

        atomic = atomic_flag(params.body.get("atomic"))

        def run(record: Any) -> tuple[Session, int, Body]:
            # With an Idempotency-Key an atomic batch records its answer inside its one
            # transaction; one that is not atomic, after its last one (lib/web/idempotency.py).
            inside = None if record is None or not atomic else \
                (lambda session, status, body: record(status, session.headers, body))
            session, status, body = run_batch(service, self.routes, params, caller, atomic,
                                              params.body.get("operations"), on_key=seen, before_commit=inside)
            if record is not None and not atomic:  # what ran is remembered, failures too
                record(status, session.headers, body)
            return session, status, body

        requested = idempotency.requested(req)
        result = run(None) if requested is None else idempotency.guarded(
            service, PATH, params.api_key, requested, params.body, run, lease=BATCH_LEASE_SECONDS)
        if isinstance(result, idempotency.Replay):
            result.send(resp)
            return
        session, status, body = result
        resp.status = falcon.code_to_http_status(status)
        resp.content_type = "application/json"
        resp.data = envelope.encode(body)
        for name, value in session.headers.items():
            resp.set_header(name, value)


def run_batch(service: Any, routes: dict[str, Any], params: Params, caller: Caller, atomic: bool,
              operations: Any, on_key: Callable[[Any], None] | None = None,
              before_commit: Callable[[Session, int, Body], None] | None = None) -> tuple[Session, int, Body]:
    """Check, authenticate and run a batch; (session, HTTP status, answer). Raises ApiError
    for a request refused whole (malformed 400, key 401, quota 429, database 503).
    `before_commit(session, status, answer)` runs inside an atomic batch's transaction once
    every item succeeded (an Idempotency-Key's answer commits with the writes)."""
    items = plan(operations, routes, service.settings.max_batch, params.decrypt_password)
    presented = params.api_key
    if not presented:
        raise Unauthorized(messages.NO_KEY)
    run = _Run(service, presented, caller, len(items), on_key, before_commit)
    try:
        results = run.atomic(items) if atomic else run.each(items)
    except ApiError as exc:  # a refusal after the key was known still carries its quota headers
        if run.session is not None:
            exc.headers = {**run.session.headers, **exc.headers}
        raise
    finally:
        service.pipeline.finish(run.session)
    if run.session is None or results is None:
        wait = service.limits.auth_failed(caller.ip, presented)
        if wait:
            raise too_many_failures(wait)
        raise Unauthorized(messages.AUTH_FAILED)
    return run.session, 200, _answer(results, atomic, len(items))


class _Undone(Exception):
    """An atomic batch's item did not succeed: raised inside the transaction to roll it back."""

    def __init__(self, results: list[Body]) -> None:
        super().__init__("atomic batch rolled back")
        self.results = results


class _WroteThenRefused(Exception):
    """A batch item without a savepoint was refused after it had written: its group's
    transaction is rolled back and the group runs again with a savepoint per item."""


class _Run:
    def __init__(self, service: Any, presented: str, caller: Caller, cost: int,
                 on_key: Callable[[Any], None] | None,
                 before_commit: Callable[[Session, int, Body], None] | None = None) -> None:
        self.service, self.pipeline, self.db = service, service.pipeline, service.db
        self.presented, self.caller, self.cost, self.on_key = presented, caller, cost, on_key
        self.before_commit = before_commit
        self.session: Session | None = None

    def _authenticate(self) -> bool:
        self.session = self.pipeline.authenticate(self.presented, self.caller, PATH, self.session, self.cost)
        if self.session is not None and self.on_key is not None:
            self.on_key(self.session.key)
        return self.session is not None

    def each(self, items: list[Item]) -> list[Body] | None:
        """Every item on its own: a refused item is undone alone (a savepoint) and the others
        stand. The items run in groups of EACH_GROUP per transaction (one commit, not one per
        item), each group run again whole on a write conflict."""
        with self.db.transaction():
            if not self._authenticate():
                return None
        if self.db.dialect == "mysql" and len(items) > EACH_GROUP and _independent(items):
            results = self._side_by_side(items)
        else:
            results = self._groups(items, EACH_GROUP)
        for result in results:
            result.pop("database_error", None)
        return results

    def _groups(self, items: list[Item], size: int) -> list[Body]:
        results: list[Body] = []
        for start in range(0, len(items), size):
            if results and results[-1].get("database_error"):
                # The database stopped serving: the rest are not tried (each would wait out
                # its own timeout) and say so; nothing of them was written.
                results += [_result(later, results[-1]["status"], envelope.failure(messages.BATCH_NOT_RUN))
                            for later in items[len(results):]]
                break
            results += self._group(items[start:start + size])
        return results

    def _side_by_side(self, items: list[Item]) -> list[Body]:
        """The groups SIDE_BY_SIDE at a time, each on a thread and connection of its own: while
        one waits for the database the others run their Python; the next group starts as soon
        as one ends. Answers stay in item order. After a database failure, the groups not yet
        started are not run."""
        groups = [items[start:start + EACH_GROUP] for start in range(0, len(items), EACH_GROUP)]
        failed: list[Body] = []  # the first database failure's answer, once there is one

        def run(group: list[Item]) -> list[Body] | None:
            if failed:
                return None
            answers = self._group(group)
            failed.extend([r for r in answers if r.get("database_error")][:1])
            return answers

        results: list[Body] = []
        for group, answers in zip(groups, _threads().map(run, groups), strict=True):
            if answers is None:
                answers = [_result(later, failed[0]["status"], envelope.failure(messages.BATCH_NOT_RUN))
                           for later in group]
            results += answers
        return results

    def _group(self, group: list[Item]) -> list[Body]:
        assert self.session is not None
        # Its own copy of the session: groups may run side by side, and an item's headers
        # and status are set on the session while it runs.
        session = dataclasses.replace(self.session, headers={}, access=None)
        writes = any(item.target is not None and item.target.endpoint.writes for item in group)
        memos: list[dict[str, Any]] = [{} for _ in group]

        careful = not writes  # True: a savepoint per item; False: none unless an item needs one

        def attempt() -> list[Body]:  # one whole transaction: retry.run may run it again
            with self.db.transaction(write=writes):
                session.access = None  # the user key's roles are read in each transaction
                if writes and _independent(group):
                    for table, id_column, ids in _records_named(group):
                        self.db.read_ahead(table, id_column, ids)
                    if not careful and len(group) > 1:
                        for table in _tables_created(group):
                            self.db.gather(table)
                results = [self._guarded(item, memo, alone=writes, session=session, careful=careful)
                           for item, memo in zip(group, memos, strict=True)]
            return [settle_ids(result) for result in results]

        def attempts() -> list[Body]:
            nonlocal careful
            try:
                return retry.run(attempt, self.service.write_attempts if writes else 1)
            except _WroteThenRefused:
                # An item was refused after it had written: the group runs again, each item
                # inside a savepoint, so that only that item's writes are undone.
                careful = True
                return retry.run(attempt, self.service.write_attempts)

        try:
            return attempts()
        except DatabaseError as exc:  # the group's transaction is undone: none of it was written
            if len(group) > 1:
                # It may be one item's failure: run them again a transaction each, so that the
                # items before it stand, as they would have sent one by one.
                return self._groups(group, 1)
            log.error("database unavailable on batch item %d (%s/%s): %s", group[0].index, group[0].module,
                      group[0].function, exc)
            status, body = _database_answer(exc)
            return [{**_result(group[0], status, body), "database_error": True}]

    def atomic(self, items: list[Item]) -> list[Body] | None:
        """Every item in one transaction: the first that does not succeed undoes them all."""
        memos: list[dict[str, Any]] = [{} for _ in items]

        def attempt() -> list[Body] | None:  # one whole transaction: retry.run may run it again
            results: list[Body] = []
            with self.db.transaction(write=True):
                if not self._authenticate():
                    return None
                for item, memo in zip(items, memos, strict=True):
                    results.append(self._guarded(item, memo))
                    if results[-1]["success"] != "True":
                        raise _Undone(results)
                if self.before_commit is not None and self.session is not None:
                    self.before_commit(self.session, 200, _answer(results, True, len(items)))
            return results

        try:
            return retry.run(attempt, self.service.write_attempts)
        except _Undone as undone:
            *before, failed = undone.results
            return [{**result, "rolled_back": True} for result in before] + [failed]

    def _guarded(self, item: Item, memo: dict[str, Any], alone: bool = False, session: Session | None = None,
                 careful: bool = True) -> Body:
        """An item's result; a database that cannot serve fails its whole transaction.
        `alone`: a refusal undoes this item's writes only, not the transaction's: inside a
        savepoint when `careful`; otherwise with no savepoint (two round trips fewer), the
        refusal of an item that had not written yet costing nothing to undo, and one that had
        raising _WroteThenRefused (the group then runs again carefully)."""
        if item.target is None:
            return _result(item, 404, item.unknown())
        mark = self.db.mark() if alone and not careful else None
        try:
            if alone and careful:
                with self.db.savepoint():
                    return _result(item, *self._perform(item, memo, session))
            return _result(item, *self._perform(item, memo, session))
        except (ApiError, ValueRefused) as exc:
            if mark is not None:
                if self.db.wrote_since(mark):
                    raise _WroteThenRefused() from exc
                self.db.undo_held(mark)
            return self._refusal(item, exc)

    @staticmethod
    def _refusal(item: Item, exc: Exception) -> Body:
        if isinstance(exc, ApiError):
            return _result(item, exc.status, exc.body())
        return _result(item, 200, envelope.failure(messages.VALUE_REFUSED.format(reason=exc)))

    def _perform(self, item: Item, memo: dict[str, Any], session: Session | None = None) -> tuple[int, Body]:
        """pipeline.perform for one item; the headers and status it sets are the item's, not
        the batch's (an item's ETag or next cursor would mean nothing on the batch's answer)."""
        session = session or self.session
        assert session is not None and item.target is not None
        kept, session.headers, session.status = session.headers, {}, 200
        try:
            body = self.pipeline.perform(session, item.target, item.params, memo)
            return session.status, body
        finally:
            session.headers, session.status = kept, 200


def _independent(items: list[Item]) -> bool:
    """Whether no item of the batch can depend on another's outcome or order: every item a
    create, or a change of a record no other item names, of modules whose writes touch only
    their own record (Module.independent_writes)."""
    named: set[tuple[str, str]] = set()
    for item in items:
        endpoint = None if item.target is None else item.target.endpoint
        module = getattr(endpoint, "module", None)
        if module is None or not module.independent_writes:
            return False
        if isinstance(endpoint, Create):
            continue
        if not isinstance(endpoint, RecordOperation):
            return False
        record = (module.name, str(item.params.get(module.id_column)))
        if record in named:
            return False
        named.add(record)
    return True


def _tables_created(items: list[Item]) -> set[str]:
    """The tables the items' creates insert into: where the group may hold new rows back
    and insert them together (Connections.gather)."""
    return {item.target.endpoint.module.table for item in items
            if item.target is not None and isinstance(item.target.endpoint, Create)}


def settle_ids(result: Body) -> Body:
    """An item's answer with the id a create handed out before its row went in (a PendingId,
    settled by the commit) written as the number."""
    for entry in result.get("data") or ():
        if isinstance(entry, dict) and "insert_id" in entry and not isinstance(entry["insert_id"], int):
            entry["insert_id"] = int(entry["insert_id"])
    return result


def _records_named(items: list[Item]) -> list[tuple[str, str, list[int]]]:
    """(table, id column, ids) of the existing records the items name, per module (creates
    name none): what a group reads ahead in one statement per table."""
    named: dict[str, tuple[str, str, list[int]]] = {}
    created = set()  # a record the group creates could be named by a later item: read as it comes
    for item in items:
        endpoint = None if item.target is None else item.target.endpoint
        if isinstance(endpoint, Create):
            created.add(endpoint.module.table)
        if not isinstance(endpoint, RecordOperation):
            continue
        module = endpoint.module
        value = str(item.params.get(module.id_column) or "").strip()
        if value.isdigit():
            named.setdefault(module.table, (module.table, module.id_column, []))[2].append(int(value))
    return [entry for table, entry in named.items() if len(entry[2]) > 1 and table not in created]


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _threads() -> ThreadPoolExecutor:
    """The threads that run a batch's groups side by side, made on first use in each process."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(SIDE_BY_SIDE, thread_name_prefix="batch-group")
        return _pool


def _database_answer(exc: DatabaseError) -> tuple[int, Body]:
    """An item's status and envelope for a database that could not serve it (as the single
    call's error handler answers: lib/web/app.py)."""
    if isinstance(exc, StorageFull):
        return 507, envelope.failure(messages.STORAGE_FULL)
    if isinstance(exc, CommitUnknown):
        return 503, envelope.failure(messages.COMMIT_UNKNOWN)
    return 503, envelope.failure(messages.DATABASE_UNAVAILABLE)


def _result(item: Item, status: int, body: Body) -> Body:
    return {"index": item.index, "module": item.module, "function": item.function, "status": status, **body}


def _answer(results: list[Body], atomic: bool, planned: int) -> Body:
    failed = [r for r in results if r["success"] != "True"]
    if not failed:
        how = " in one transaction" if atomic else ""
        message = f"All {len(results)} items succeeded{how}."
    elif atomic:
        first, after = failed[0], planned - len(results)
        message = (f"Item {first['index']} ({first['module']}/{first['function']}) did not succeed: "
                   f"{first['message']} Nothing was written, as the batch is atomic")
        if first["index"]:
            message += f"; items 0 to {first['index'] - 1} were rolled back"
        if after:
            message += f"; the {after} item(s) after it were not run"
        message += "."
    else:
        shown = ", ".join(str(r["index"]) for r in failed[:20]) + (", ..." if len(failed) > 20 else "")
        message = (f"{len(results) - len(failed)} of {len(results)} items succeeded; item(s) {shown} "
                   "did not (see each item's message); the others went through.")
    return {"success": "False" if failed else "True", "message": message, "count": len(results),
            "data": results}
