"""Request parsing: query string and body become one Params object, once per request.

GET endpoints read their parameters from the query string; POST endpoints from the body
(JSON, or form-encoded as a convenience). The API key and decrypt password may come from
either place or a header; limit/offset from the query first, then the body.
"""
from __future__ import annotations

import builtins
import json
from typing import Any
from urllib.parse import parse_qsl

import falcon
from falcon.uri import parse_query_string

from ..core import messages
from ..core.envelope import BadRequest, PayloadTooLarge, Refused
from ..core.values import intval, one_value, parse_int
from ..itflow import php_text as text

DEFAULT_LIMIT = 50


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) else value


def _read_body(req: falcon.Request, max_bytes: builtins.int) -> bytes:
    length = req.content_length
    if length is not None and length > max_bytes:
        raise PayloadTooLarge(messages.BODY_TOO_LARGE.format(max_bytes=max_bytes))
    raw = req.bounded_stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise PayloadTooLarge(messages.BODY_TOO_LARGE.format(max_bytes=max_bytes))
    return raw


def _parse_body(req: falcon.Request, raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    content_type = (req.content_type or "").split(";")[0].strip().lower()
    decoded = text.decode_bytes(raw)
    # ITFlow decodes the body as JSON whatever the Content-Type says (curl -d labels JSON
    # as a form), so a body that opens like JSON is JSON; a real form is accepted too.
    if content_type == "application/x-www-form-urlencoded" and not decoded.lstrip().startswith(("{", "[")):
        return {k: v for k, v in parse_qsl(decoded, keep_blank_values=True)}
    try:
        body = json.loads(decoded)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than any client sends
        raise BadRequest(messages.BODY_NOT_JSON) from None
    if not isinstance(body, dict):
        raise BadRequest(messages.BODY_NOT_OBJECT)
    return body


class Params:
    def __init__(self, method: str, query: dict[str, Any], body: dict[str, Any],
                 headers: dict[str, str | None]) -> None:
        self.method = method
        self.query = query
        self.body = body
        # Where an endpoint's own fields come from.
        self.values = body if method == "POST" else query
        self._headers = headers

    @classmethod
    def from_request(cls, req: falcon.Request, max_body_bytes: builtins.int) -> Params:
        query = {k: _first(v) for k, v in parse_query_string(req.query_string, keep_blank=True).items()}
        body = _parse_body(req, _read_body(req, max_body_bytes))
        headers = {
            "x-api-key": req.get_header("X-API-KEY"),
            "authorization": req.get_header("Authorization"),
            "x-api-decrypt-password": req.get_header("X-API-Decrypt-Password"),
            # Conditional requests (lib/core/versions.py): opt-in, absent for ITFlow's clients.
            "if-match": req.get_header("If-Match"),
            "if-none-match": req.get_header("If-None-Match"),
            "if-unmodified-since": req.get_header("If-Unmodified-Since"),
        }
        return cls(req.method, query, body, headers)

    # --- credentials of the caller -----------------------------------------------------

    def _secret(self, name: str, header: str) -> str | None:
        for source in (self.body, self.query):
            value = source.get(name)
            if value not in (None, ""):
                return str(value)
        return self._headers.get(header) or None

    @property
    def api_key(self) -> str | None:
        key = self._secret("api_key", "x-api-key")
        if key:
            return key
        auth = self._headers.get("authorization") or ""
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None

    @property
    def decrypt_password(self) -> str | None:
        return self._secret("api_key_decrypt_password", "x-api-decrypt-password")

    # --- conditional requests ----------------------------------------------------------

    @property
    def if_match(self) -> str | None:
        return self._headers.get("if-match")

    @property
    def if_none_match(self) -> str | None:
        return self._headers.get("if-none-match")

    @property
    def if_unmodified_since(self) -> str | None:
        return self._headers.get("if-unmodified-since")

    # --- endpoint fields ---------------------------------------------------------------

    def has(self, name: str) -> bool:
        """Given and not JSON null (null means "not given")."""
        return self.values.get(name) is not None

    def get(self, name: str, default: Any = None) -> Any:
        """The value sent; a JSON list where one value belongs gives its first element (noted,
        lib/core/values.py one_value)."""
        value = one_value(name, self.values.get(name))
        return default if value is None else value

    def int(self, name: str, default: builtins.int | None = None) -> builtins.int | None:
        return parse_int(name, self.values[name]) if self.has(name) else default

    def paging(self, max_limit: builtins.int) -> tuple[builtins.int, builtins.int]:
        """(limit, offset): query string first, then body; defaults 50 and 0. Read as ITFlow
        reads them (validate_api_key.php:99-114): isset() then intval(), so an empty,
        non-numeric or zero limit is LIMIT 0, which finds nothing ("No resource")."""
        def pick(name: str, default: builtins.int) -> builtins.int:
            for source in (self.query, self.body):
                if source.get(name) is not None:
                    return intval(source[name])
            return default

        limit, offset = pick("limit", DEFAULT_LIMIT), pick("offset", 0)
        # ITFlow sends a negative one into LIMIT/OFFSET and answers an empty 500 (SQL
        # syntax error); ours says which (docs/contract.md section 2).
        if limit < 0:
            raise Refused("Parameter 'limit' must be 0 or more.")
        if offset < 0:
            raise Refused("Parameter 'offset' must be 0 or more.")
        return min(limit, max_limit), offset
