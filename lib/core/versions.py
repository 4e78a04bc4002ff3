"""Record versions for conditional requests: the ETag and Last-Modified of a stored row, and
the checks of If-None-Match (reads) and If-Match / If-Unmodified-Since (writes).

A record's ETag is strong: a hash of its stored table row (every column, as the database
renders it), so any change to the row changes it and the read by id and the write agree on
it. A list's ETag is weak: a hash of the encoded answer. All of it is opt-in: a request
without these headers is answered as ITFlow answers it, plus the ETag (and Last-Modified)
of a read by id.

Stored times (`*_updated_at`, `*_created_at`) carry no time zone; like ITFlow they are taken
to be in the server's local time zone, and turned into HTTP dates (GMT) from there.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from functools import cache, lru_cache
from typing import Any

from ..itflow import schema
from .envelope import ApiError, BadRequest, Body

Row = dict[str, Any]

_NULL = "\x00"  # a NULL column, never equal to any stored text


def row_etag(row: Row) -> str:
    """The strong ETag (with its quotes) of a stored table row: every column name and value,
    in the row's own order (SELECT * gives the same order on every read of the table)."""
    parts = []
    for name, value in row.items():
        parts.append(name)
        parts.append(_NULL if value is None else value if type(value) is str else repr(value))
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=16)
    return f'"{digest.hexdigest()}"'


def body_etag(data: bytes) -> str:
    """The weak ETag of an encoded answer (a list read)."""
    return f'W/"{hashlib.sha1(data, usedforsecurity=False).hexdigest()}"'


@cache
def time_columns(table: str) -> tuple[str, ...]:
    """The columns that say when a row last changed, most telling first: *_updated_at, then
    *_created_at ('()' for a table with neither)."""
    names = [c.name for c in schema.columns(table)]
    return tuple([n for n in names if n.endswith("_updated_at")] + [n for n in names if n.endswith("_created_at")])


def modified_at(table: str, row: Row) -> datetime | None:
    """When the row last changed (an aware datetime, whole seconds), or None when the table
    has no such column or the row leaves it empty."""
    for column in time_columns(table):
        value = row.get(column)
        if value:
            stamp = _stamp(value)
            if stamp is not None:
                return stamp
    return None


@lru_cache(maxsize=4096)  # a record read again and again has the same stored time
def _stamp(value: str) -> datetime | None:
    """A stored 'YYYY-MM-DD HH:MM:SS' (the server's local time) as UTC; None for none."""
    if value[:4] == "0000":
        return None
    try:
        stamp = datetime(int(value[0:4]), int(value[5:7]), int(value[8:10]),
                         int(value[11:13] or 0), int(value[14:16] or 0), int(value[17:19] or 0))
    except ValueError:
        return None
    return stamp.astimezone(timezone.utc)  # naive: the server's local time


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@lru_cache(maxsize=4096)
def http_date(stamp: datetime) -> str:
    """RFC 9110's IMF-fixdate, e.g. 'Tue, 01 Dec 2026 10:00:00 GMT' (no locale involved)."""
    stamp = stamp.astimezone(timezone.utc)
    return (f"{_DAYS[stamp.weekday()]}, {stamp.day:02d} {_MONTHS[stamp.month - 1]} {stamp.year:04d} "
            f"{stamp.hour:02d}:{stamp.minute:02d}:{stamp.second:02d} GMT")


def describe(call: Any, table: str, row: Row, etag: str | None = None) -> str:
    """Put the row's ETag (and Last-Modified, where known) in the response headers; returns
    the ETag."""
    etag = etag or row_etag(row)
    headers = call.headers
    headers["ETag"] = etag
    stamp = modified_at(table, row)
    if stamp is not None:
        headers["Last-Modified"] = http_date(stamp)
    return etag


# --- the request's conditions ---------------------------------------------------------------

def _tags(header: str, value: str) -> list[str] | None:
    """The entity tags of an If-Match / If-None-Match value; None for '*'. A tag sent without
    its quotes is taken as if quoted (PowerShell users often drop them)."""
    value = value.strip()
    if value == "*":
        return None
    tags = []
    for part in _split_tags(value):
        weak = part.startswith(("W/", "w/"))
        opaque = part[2:] if weak else part
        if not (len(opaque) >= 2 and opaque[0] == opaque[-1] == '"'):
            if '"' in opaque or not opaque:
                raise BadRequest(f"Header {header}: {part!r} is not an entity tag. Send the ETag of an earlier "
                                 'answer as it came, e.g. "5d41402abc4b2a76b9719d911017c592", or *.')
            opaque = f'"{opaque}"'
        tags.append(("W/" if weak else "") + opaque)
    if not tags:
        raise BadRequest(f"Header {header} is empty: send the ETag of an earlier answer, or leave the header out.")
    return tags


def _split_tags(value: str) -> list[str]:
    """'"a", W/"b,c"' → ['"a"', 'W/"b,c"']: commas inside quotes belong to the tag."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in value:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def _opaque(tag: str) -> str:
    return tag[2:] if tag.startswith("W/") else tag


def none_match(call: Any, etag: str) -> bool:
    """Whether the request's If-None-Match names `etag` (weak comparison, as RFC 9110 has it
    for If-None-Match): the read then answers 304 Not Modified."""
    sent = getattr(call.params, "if_none_match", None)
    if sent is None:
        return False
    tags = _tags("If-None-Match", sent)
    return tags is None or _opaque(etag) in {_opaque(t) for t in tags}


def not_modified(call: Any, etag: str) -> bool:
    """If-None-Match matched: answer 304 (no body is sent) and say so."""
    if none_match(call, etag):
        call.set_status(304)
        return True
    return False


class Conditions:
    """The preconditions a write was sent with (If-Match, If-Unmodified-Since)."""

    def __init__(self, if_match: list[str] | None, any_match: bool, unmodified_since: datetime | None) -> None:
        self.if_match = if_match        # the tags to match; None when not sent or '*'
        self.any_match = any_match      # If-Match: *
        self.unmodified_since = unmodified_since

    @classmethod
    def of(cls, params: Any) -> Conditions | None:
        """The conditions of the request, or None when it sends none (then nothing is checked
        and nothing is locked beyond what the write itself does)."""
        match, since = getattr(params, "if_match", None), getattr(params, "if_unmodified_since", None)
        if match is None and since is None:
            return None
        tags = _tags("If-Match", match) if match is not None else None
        stamp = None
        if since is not None and match is None:  # RFC 9110 13.2.2: If-Match, when sent, decides alone
            stamp = parse_http_date("If-Unmodified-Since", since)
        return cls(tags, match is not None and tags is None, stamp)

    def check(self, table: str, row: Row, secret_columns: tuple[str, ...] = ()) -> None:
        """Raise PreconditionFailed unless the stored row still is what the client saw."""
        if self.any_match:
            return
        etag = row_etag(row)
        if self.if_match is not None:
            # Strong comparison: a weak tag never matches (RFC 9110 13.1.1).
            if etag not in self.if_match:
                raise PreconditionFailed(
                    f"The record has changed since the ETag you sent (If-Match): its current ETag is {etag}. "
                    "Nothing was changed; read it again (its current state is in data), then retry.",
                    table, row, etag, secret_columns)
            return
        if self.unmodified_since is not None:
            stamp = modified_at(table, row)
            if stamp is not None and stamp > self.unmodified_since:
                raise PreconditionFailed(
                    f"The record was changed at {http_date(stamp)}, after If-Unmodified-Since. Nothing was "
                    "changed; read it again (its current state is in data), then retry.",
                    table, row, etag, secret_columns)


def parse_http_date(header: str, value: str) -> datetime:
    try:
        stamp = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        stamp = None
    if stamp is None:
        raise BadRequest(f"Header {header}: {value!r} is not an HTTP date. Send it as the Last-Modified "
                         "header of an earlier answer gave it, e.g. 'Tue, 01 Dec 2026 10:00:00 GMT'.")
    if stamp.tzinfo is None:  # '-0000' (RFC 2822's "unknown zone"): HTTP dates are GMT
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp


class PreconditionFailed(ApiError):
    """412: the record is not the version the client named. The answer carries the current
    ETag (header) and the record as stored (data), so the client can merge and retry."""

    status = 412

    def __init__(self, message: str, table: str, row: Row, etag: str, secret_columns: tuple[str, ...] = ()) -> None:
        headers = {"ETag": etag}
        stamp = modified_at(table, row)
        if stamp is not None:
            headers["Last-Modified"] = http_date(stamp)
        super().__init__(message, headers=headers)
        # Ciphertext means nothing to a client (a read with the password decrypts it).
        self.record = {k: v for k, v in row.items() if k not in secret_columns}

    def body(self) -> Body:
        return {"success": "False", "message": self.message, "count": 1, "data": [self.record]}
