"""The response envelope: the one place that knows its shapes and statuses (the texts are
in messages.py).

ITFlow answers `success` as the *string* "True"/"False"; `count` is an int for reads,
updates and deletes but the string "1" for creates. Clients depend on both.
"""
from __future__ import annotations

import json
import re
from typing import Any

from .messages import NO_RESOURCE, ONLY_METHOD

Body = dict[str, Any]  # an envelope, before it is encoded


def read_ok(rows: list[dict[str, Any]]) -> Body:
    if not rows:
        return failure(NO_RESOURCE)
    return {"success": "True", "count": len(rows), "data": rows}


def created(insert_id: Any) -> Body:
    """An id, or a PendingId (lib/db/connections.py) that whoever held its row back settles
    before the answer is sent (lib/web/batch.py settle_ids)."""
    return {"success": "True", "count": "1",
            "data": [{"insert_id": int(insert_id) if isinstance(insert_id, (int, str)) else insert_id}]}


def changed(count: int) -> Body:
    return {"success": "True", "count": int(count)}


# How a successful write's message opens when it has notes (lib/core/values.py note()).
_DONE = {"create": "Created", "update": "Updated", "delete": "Deleted", "archive": "Archived",
         "unarchive": "Unarchived", "resolve": "Resolved"}


def with_notes(body: Body, function: str, notes: list[str]) -> Body:
    """A successful write that stored something other than as sent says so in `message`,
    after ITFlow's keys; with no notes the body is ITFlow's, unchanged. An update that
    changed nothing ("False") adds them to its own message."""
    if not notes:
        return body
    if body.get("success") != "True":
        return {**body, "message": f"{body.get('message', '')} Also: {'; '.join(notes)}.".strip()}
    return {**body, "message": f"{_DONE.get(function, 'Done')}; {'; '.join(notes)}."}


def failure(message: str) -> Body:
    return {"success": "False", "message": message, "count": 0, "data": []}


try:  # installed by default where it is a wheel: several times faster on list reads
    import orjson
except ImportError:
    orjson = None  # type: ignore[assignment]


# What json.dumps escapes besides the control characters orjson escapes too: DEL and non-ASCII.
_NON_ASCII = re.compile("[^\x00-\x7e]")


def _escaped(match: re.Match[str]) -> str:
    """One character (DEL or non-ASCII) as JSON's \\uXXXX (two of them, a surrogate pair, above U+FFFF)."""
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def encode(body: Body) -> bytes:
    """Compact like PHP's json_encode, non-ASCII escaped as \\uXXXX as PHP does by default.
    orjson writes UTF-8: its rare non-ASCII characters are escaped afterwards, which gives
    the same bytes as json.dumps (tests/test_envelope_encoding.py) in a fraction of the time."""
    if orjson is not None:
        try:
            data = orjson.dumps(body)
        except TypeError:  # a value orjson does not take (a str subclass, a huge int, a lone surrogate)
            data = None
        if data is not None:
            if data.isascii() and b"\x7f" not in data:
                return data
            return _NON_ASCII.sub(_escaped, data.decode("utf-8")).encode("ascii")
    return json.dumps(body, separators=(",", ":")).encode("ascii")


class ApiError(Exception):
    """A refusal that becomes a "False" envelope with this HTTP status."""

    status = 200

    def __init__(self, message: str, status: int | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.headers = headers or {}

    def body(self) -> Body:
        return failure(self.message)


class Refused(ApiError):
    """A write or look-up that cannot be done: ITFlow answers these with HTTP 200."""
    status = 200


class NotFound(Refused):
    """Nothing matched (or it is outside the key's scope, which looks the same)."""

    def __init__(self, message: str = NO_RESOURCE) -> None:
        super().__init__(message)


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class RouteNotFound(ApiError):
    status = 404


class MethodNotAllowed(ApiError):
    status = 405

    def __init__(self, allowed: str) -> None:
        super().__init__(ONLY_METHOD.format(method=allowed), headers={"Allow": allowed})


class PayloadTooLarge(ApiError):
    status = 413


class TooManyRequests(ApiError):
    status = 429


class ServerError(ApiError):
    status = 500


class Unavailable(ApiError):
    status = 503
