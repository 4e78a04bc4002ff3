"""Cursor paging for list reads: `cursor=` (empty) starts at the first page, `cursor=<opaque>`
continues after the last row of the page before, whatever was inserted or deleted meanwhile.

Keyset paging: the page after a row is the rows that sort after it, on the read's order
(sort=, then the module's own order) ended by the id column, which makes the order total.
The cursor holds that last row's sort values and id, so the row itself may be gone by the
next request and nothing is skipped or repeated.

NULLs: MariaDB and SQLite both sort NULL before every value in ascending order and after
every value in descending order. The condition "after this row" is spelt out column by
column with that rule (IS NULL / IS NOT NULL where the last row's value was NULL), so any
column, nullable or not, can be a cursor's sort column, with no sentinel values.

A cursor is URL-safe base64 of compact JSON: [version, module, fingerprint, values], then a
short checksum. The fingerprint is a hash of the read's order and its whole WHERE clause
(scope, look-up, filter= and their values), so a cursor made for another module, sort,
filter or key is refused (400), as is one that was cut or altered. It carries nothing a
client could not read anyway, and its values are only ever bound as parameters.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from typing import Any

from .envelope import BadRequest

VERSION = 1
MAX_LENGTH = 16384    # characters of a cursor we take back
_CHECK = 6            # bytes of checksum after the JSON
_ORDER_ITEM = re.compile(r"\s*(?:\w+\.)?(\w+)(?:\s+(ASC|DESC))?\s*", re.IGNORECASE)

Key = tuple[str, bool]   # (column of the module's table, descending)


def _refuse(message: str) -> BadRequest:
    return BadRequest(f"Parameter 'cursor': {message}")


def keys(sort: list[Key], default_order: str, id_column: str) -> list[Key]:
    """The keyset of a read: the request's sort, then the module's own order, ended by the id
    column (anything after the first mention of the id is already decided)."""
    default: list[Key] = []
    for item in default_order.split(","):
        match = _ORDER_ITEM.fullmatch(item)
        if match is None:
            raise ValueError(f"order {default_order!r}: cannot page by cursor on {item!r}")
        default.append((match.group(1), (match.group(2) or "").upper() == "DESC"))
    found: list[Key] = []
    seen: set[str] = set()
    for name, descending in [*sort, *default, (id_column, False)]:
        if name in seen:
            continue
        seen.add(name)
        found.append((name, descending))
        if name == id_column:
            break
    return found


def order_by(table: str, keyset: list[Key]) -> str:
    return ", ".join(f"{table}.{name} {'DESC' if descending else 'ASC'}" for name, descending in keyset)


def fingerprint(module: str, keyset: list[Key], where: list[str], binds: dict[str, Any]) -> str:
    """What a cursor must have been made for: this module, order and WHERE clause (with values)."""
    text = json.dumps([module, keyset, where, sorted((k, str(v)) for k, v in binds.items())],
                      separators=(",", ":"), ensure_ascii=True)
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode("ascii")).digest()[:12]).decode("ascii")


def encode(module: str, mark: str, values: list[Any]) -> str:
    payload = json.dumps([VERSION, module, mark, values], separators=(",", ":"), ensure_ascii=True).encode("ascii")
    check = hashlib.blake2b(payload, digest_size=_CHECK).digest()
    return base64.urlsafe_b64encode(payload + check).decode("ascii").rstrip("=")


def decode(text: str, module: str, mark: str, width: int) -> list[Any]:
    """The values a cursor continues after; BadRequest when it is not one of ours or was made
    for another read."""
    again = "Start again with cursor= (empty) for the first page."
    if len(text) > MAX_LENGTH:
        raise _refuse(f"longer than {MAX_LENGTH} characters, so not one this server gave out. {again}")
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    payload, check = raw[:-_CHECK], raw[-_CHECK:]
    if len(raw) <= _CHECK or hashlib.blake2b(payload, digest_size=_CHECK).digest() != check:
        raise _refuse(f"not a cursor this server gave out (cut or altered?). Send the X-Next-Cursor value of "
                      f"the page before exactly as it came. {again}")
    try:
        version, made_for, made_mark, values = json.loads(payload)
    except (ValueError, TypeError):
        raise _refuse(f"not a cursor this server gave out. {again}") from None
    if version != VERSION:
        raise _refuse(f"made by another version of this server. {again}")
    if made_for != module:
        raise _refuse(f"made for {made_for!r}, not {module}. {again}")
    if made_mark != mark or not isinstance(values, list) or len(values) != width:
        raise _refuse("made for another sort, filter, look-up or API key than this request's: send the same "
                      f"sort=, order=, filter= and look-up parameters on every page (limit= may change). {again}")
    if any(v is not None and not isinstance(v, str | int) for v in values):
        raise _refuse(f"not a cursor this server gave out. {again}")
    return values


def after(table: str, keyset: list[Key], values: list[Any], typed: Any, binds: dict[str, Any]) -> str:
    """The SQL condition "sorts after the row with these values" on the keyset, NULL-aware;
    its values are added to `binds`. `typed(name, value)` turns a value into its bind form."""
    disjuncts: list[str] = []
    equal: list[str] = []
    for n, ((name, descending), value) in enumerate(zip(keyset, values, strict=True)):
        column = f"{table}.{name}"
        bind = None
        if value is not None:
            bind = f"cursor_{n}"
            binds[bind] = typed(name, value)
        if value is None:
            # NULL comes first ascending (then every non-NULL is after it), last descending (nothing is).
            later = None if descending else f"{column} IS NOT NULL"
        elif descending:
            later = f"({column} < :{bind} OR {column} IS NULL)"
        else:
            later = f"{column} > :{bind}"
        if later is not None:
            disjuncts.append(" AND ".join([*equal, later]))
        equal.append(f"{column} IS NULL" if value is None else f"{column} = :{bind}")
    if not disjuncts:
        return "1 = 0"
    return "(" + " OR ".join(f"({d})" for d in disjuncts) + ")"
