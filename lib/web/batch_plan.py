"""What a batch asks for: the `operations` of a /api/v1/batch.php request checked and turned
into the items to run, before the key is looked at and before anything runs.

An operation names an endpoint (`module`, `function`) and gives its fields in `body` (for a
GET endpoint, its query parameters). `ids` is the bulk form of update/delete/archive/unarchive:
one item per id, the id put in the body under the module's id column. A malformed request is
refused whole (400) with what to change; an endpoint that does not exist is only that item's
failure (404), as a single call to it would be.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core import envelope, messages
from ..core.envelope import BadRequest, Body
from .params import Params
from .pipeline import Target

OPERATION_FIELDS = ("module", "function", "body", "ids")
BULK_FUNCTIONS = ("update", "delete", "archive", "unarchive")
EXAMPLE = '{"module": "assets", "function": "create", "body": {"asset_name": "PC-01"}}'


@dataclass(frozen=True)
class Item:
    """One endpoint call of a batch: an operation, or one id of an operation's `ids`."""
    index: int
    module: str
    function: str
    target: Target | None  # None: no such endpoint
    params: Params

    def unknown(self) -> Body:
        """The answer a single call to a path that is no endpoint gets (404)."""
        return envelope.failure(messages.UNKNOWN_ENDPOINT.format(path=_path(self.module, self.function)))


def atomic_flag(value: Any) -> bool:
    """`atomic`: JSON true/false (1/0 and "true"/"false" are taken too); absent is false."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, (int, str)) and str(value).strip().lower() in ("1", "0", "true", "false"):
        return str(value).strip().lower() in ("1", "true")
    raise BadRequest("'atomic' must be true (all operations or none) or false (each on its own).")


def plan(operations: Any, routes: dict[str, Any], max_batch: int, decrypt_password: str | None) -> list[Item]:
    """The items to run, in order; raises BadRequest (nothing runs) for a malformed request."""
    if operations is None:
        raise BadRequest(f"Send the batch as a JSON body with 'operations': a list of operations such as {EXAMPLE}.")
    if not isinstance(operations, list):
        raise BadRequest(f"'operations' must be a JSON list of operations such as {EXAMPLE}.")
    if not operations:
        raise BadRequest("'operations' is empty: send at least one operation.")
    checked = [_check(n, op, routes) for n, op in enumerate(operations)]
    count = sum(len(ids) if ids else 1 for _, _, _, ids in checked)
    if count > max_batch:
        raise BadRequest(f"This batch has {count} items (operations with their 'ids' expanded); this server "
                         f"takes at most {max_batch} in one batch: split it into several batches.")
    headers: dict[str, str | None] = {"x-api-decrypt-password": decrypt_password}
    items: list[Item] = []
    for module, function, body, ids in checked:
        target = _target(routes, module, function)
        column = _id_column(target)
        for record_id in ids or [0]:  # 0: no ids, the body as sent
            given = body if not record_id or column is None else {**body, column: record_id}
            items.append(Item(len(items), module, function, target, _params(target, given, headers)))
    return items


def _path(module: str, function: str) -> str:
    return f"/api/v1/{module}/{function}.php"


def _target(routes: dict[str, Any], module: str, function: str) -> Target | None:
    path = _path(module, function)
    endpoint = routes.get(path)
    return None if endpoint is None else Target.of(path, endpoint)


def _id_column(target: Target | None) -> str | None:
    """The body field that names the record, for endpoints built on a module definition."""
    module = getattr(target.endpoint, "module", None) if target is not None else None
    return getattr(module, "id_column", None)


def _check(n: int, op: Any, routes: dict[str, Any]) -> tuple[str, str, dict[str, Any], list[int] | None]:
    """(module, function, body, ids) of operation `n`, or BadRequest saying what is wrong."""
    where = f"operations[{n}]"
    if not isinstance(op, dict):
        raise BadRequest(f"{where} must be a JSON object such as {EXAMPLE}.")
    extra = sorted(str(k) for k in op if k not in OPERATION_FIELDS)
    if extra:
        raise BadRequest(f"{where} has unknown field(s) {', '.join(extra)}: an operation takes "
                         f"{', '.join(OPERATION_FIELDS)}.")
    names = []
    for name in ("module", "function"):
        value = op.get(name)
        if not isinstance(value, str) or not value.strip():
            raise BadRequest(f"{where}: '{name}' is missing; name the endpoint as in "
                             f"/api/v1/<module>/<function>.php, e.g. {EXAMPLE}.")
        names.append(value.strip())
    module, function = names
    if module == "batch" or function == "batch":
        raise BadRequest(f"{where}: a batch cannot contain another batch; put its operations in this list.")
    body = op.get("body")
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise BadRequest(f"{where}: 'body' must be a JSON object of the endpoint's fields.")
    body = {k: v for k, v in body.items() if k != "api_key"}  # the batch's key is the one used
    return module, function, body, _ids(where, op.get("ids"), module, function, body, routes)


def _ids(where: str, ids: Any, module: str, function: str, body: dict[str, Any],
         routes: dict[str, Any]) -> list[int] | None:
    if ids is None:
        return None
    if function not in BULK_FUNCTIONS:
        raise BadRequest(f"{where}: 'ids' works with {', '.join(BULK_FUNCTIONS)} only; for {function}, "
                         "send one operation per record with its id in 'body'.")
    if not isinstance(ids, list) or not ids:
        raise BadRequest(f"{where}: 'ids' must be a non-empty JSON list of record ids, e.g. [4, 5, 6].")
    target = _target(routes, module, function)
    column = _id_column(target)
    if target is not None and column is None:
        raise BadRequest(f"{where}: 'ids' is not available for {module}/{function}; send one operation per "
                         "record with its id in 'body'.")
    if column is not None and body.get(column) is not None:
        raise BadRequest(f"{where}: the record is named both by 'ids' and by '{column}' in 'body'; "
                         "give the ids in one place.")
    found = []
    for value in ids:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BadRequest(f"{where}: 'ids' holds {value!r}, which is not a record id (a whole number above 0).")
        found.append(value)
    return found if target is not None else found[:1]  # no such endpoint: one 404 for the operation


def _params(target: Target | None, body: dict[str, Any], headers: dict[str, str | None]) -> Params:
    """The item's request as its single call would have it: a GET endpoint's fields in the
    query string (so as text, as a query string carries them), a POST one's in the body."""
    if target is None or target.endpoint.method == "POST":
        return Params("POST", {}, body, headers)
    return Params("GET", {k: _as_text(v) for k, v in body.items() if v is not None}, {}, headers)


def _as_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return str(value)
    return value
