"""Text cleaning as ITFlow applies it to stored fields: PHP strip_tags(), then trim().

strip_tags is reimplemented as the small state machine PHP runs, because clients rely on
its quirks (a '<' followed by a non-space starts a tag: "1<2 and 3>2" becomes "12").
"""
from __future__ import annotations

import re

# PHP trim()'s default set: space, tab, newline, carriage return, NUL, vertical tab.
_TRIM = " \t\n\r\0\x0b"
_TEXT, _TAG, _PHP, _BANG, _COMMENT = range(5)


def strip_tags(value: str) -> str:
    out: list[str] = []
    state = _TEXT
    depth = 0          # '<' seen inside a tag, each needs its own '>'
    quote = None       # quote character open inside a tag
    i = 0
    while i < len(value):
        if state == _TEXT:
            state, i = _in_text(value, i, out)
        elif state == _TAG:
            state, depth, quote = _in_tag(value[i], depth, quote)
        elif state == _PHP:
            state, quote = _in_php(value, i, quote)
        elif state == _BANG:
            state = _in_bang(value, i)
        else:
            state = _TEXT if value[i] == ">" and value[i - 2:i] == "--" else _COMMENT
        i += 1
    return "".join(out)


def _in_text(value: str, i: int, out: list[str]) -> tuple[int, int]:
    """Keep a text character, or open a tag; returns the state and the index of the last
    character read."""
    c = value[i]
    if c != "<":
        out.append(c)
        return _TEXT, i
    nxt = value[i + 1] if i + 1 < len(value) else ""
    if nxt.isspace():
        out.append(c)
        return _TEXT, i
    if nxt == "?":
        return _PHP, i + 1
    if nxt == "!":
        return _BANG, i + 1
    return _TAG, i


def _in_tag(c: str, depth: int, quote: str | None) -> tuple[int, int, str | None]:
    if quote:
        return _TAG, depth, (None if c == quote else quote)
    if c in "\"'":
        return _TAG, depth, c
    if c == "<":
        return _TAG, depth + 1, None
    if c == ">":
        return (_TAG, depth - 1, None) if depth else (_TEXT, 0, None)
    return _TAG, depth, None


def _in_php(value: str, i: int, quote: str | None) -> tuple[int, str | None]:
    c = value[i]
    if quote:
        return _PHP, (None if c == quote else quote)
    if c in "\"'":
        return _PHP, c
    if c == ">" and value[i - 1] == "?":
        return _TEXT, None
    return _PHP, None


def _in_bang(value: str, i: int) -> int:
    c = value[i]
    if c == "-" and value[i - 1] == "-" and value[i - 2] == "!":
        return _COMMENT
    return _TEXT if c == ">" else _BANG


def php_trim(value):
    return value.strip(_TRIM)


def clean(value):
    """What ITFlow stores for a plain text field."""
    return php_trim(strip_tags(value))


_NON_DIGITS = re.compile(r"\D")


def digits_only(value):
    return _NON_DIGITS.sub("", value)


def decode_bytes(raw):
    """Request bytes as text: UTF-8, or Windows-1252 when they are not valid UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")
