"""Text cleaning as ITFlow applies it to stored fields: PHP strip_tags(), then trim().

strip_tags is reimplemented as the small state machine PHP runs, because clients rely on
its quirks (a '<' followed by a non-space starts a tag: "1<2 and 3>2" becomes "12").
"""
import re

# PHP trim()'s default set: space, tab, newline, carriage return, NUL, vertical tab.
_TRIM = " \t\n\r\0\x0b"
_TEXT, _TAG, _PHP, _BANG, _COMMENT = range(5)


def strip_tags(value):
    out = []
    state = _TEXT
    depth = 0          # '<' seen inside a tag, each needs its own '>'
    quote = None       # quote character open inside a tag
    n = len(value)
    i = 0
    while i < n:
        c = value[i]
        if state == _TEXT:
            if c == "<":
                nxt = value[i + 1] if i + 1 < n else ""
                if nxt.isspace():
                    out.append(c)
                elif nxt == "?":
                    state, i = _PHP, i + 1
                elif nxt == "!":
                    state, i = _BANG, i + 1
                else:
                    state = _TAG
            else:
                out.append(c)
        elif state == _TAG:
            if quote:
                if c == quote:
                    quote = None
            elif c in "\"'":
                quote = c
            elif c == "<":
                depth += 1
            elif c == ">":
                if depth:
                    depth -= 1
                else:
                    state = _TEXT
        elif state == _PHP:
            if quote:
                if c == quote:
                    quote = None
            elif c in "\"'":
                quote = c
            elif c == ">" and value[i - 1] == "?":
                state = _TEXT
        elif state == _BANG:
            if c == "-" and value[i - 1] == "-" and value[i - 2] == "!":
                state = _COMMENT
            elif c == ">":
                state = _TEXT
        elif state == _COMMENT:
            if c == ">" and value[i - 2:i] == "--":
                state = _TEXT
        i += 1
    return "".join(out)


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
