"""Field parsers: the one place where a request value becomes what is stored.

Values are read the way ITFlow + MariaDB read them (docs/contract.md section 2), because real
clients send what that pair accepts: PHP's intval() makes "12", " 12", 12 and 12.7 the
same and "" 0; MariaDB takes dates with any punctuation, YYYYMMDD, one-digit parts and
the zero date. Only what ITFlow + MariaDB would refuse or mangle beyond recognition
("abc" for an id, 2024-13-45 for a date) is refused, with HTTP 200 and a "False" envelope
naming the field (section 4), before anything is written.

A parser takes (field name, raw value from JSON/query/form) and returns the value to
store. `fit()` then holds it to its column's type and size, taken from the ITFlow layout,
so every column is checked in the same place whatever field feeds it.

Where ITFlow stores something other than what was sent without a word (a list where one value
belongs, a number with no digits), ours stores what ITFlow stores but says so: `note()`
collects one sentence per such value for the request, and a successful write answers them in
its `message` (docs/contract.md section 4). A write with nothing to note keeps ITFlow's
envelope byte for byte.
"""
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from ..itflow import php_text as text
from .envelope import Refused

_INT_PREFIX = re.compile(r"^[ \t\n\r\v\f]*([+-]?\d+)")
_NUMBER = re.compile(r"^[ \t\n\r\v\f]*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


_NOTES: ContextVar[dict[str, None] | None] = ContextVar("itflow_api_notes", default=None)


@contextmanager
def noting() -> Iterator[dict[str, None]]:
    """Collect the notes of one request (or one attempt of a write), in order, once each."""
    notes: dict[str, None] = {}
    token = _NOTES.set(notes)
    try:
        yield notes
    finally:
        _NOTES.reset(token)


def note(sentence: str) -> None:
    """Something stored other than as sent, for the answer's message (outside a request: dropped)."""
    notes = _NOTES.get()
    if notes is not None:
        notes[sentence] = None


def one_value(name, value):
    """A JSON list where one value belongs: its first element, "" for an empty list, noted.
    ITFlow stores the word "Array" (PHP's string of an array, functions/sanitize.php:12-33)
    or intval's 1; the first element is what the client meant."""
    if not isinstance(value, list):
        return value
    first = value[0] if value else ""
    first = "" if first is None else first
    if isinstance(first, (list, dict)):
        raise _refuse(name, "must be a single value, not a list of lists or objects")
    note(f"{name} was sent as a list of {len(value)}; "
         + (f"its first value {_show(str(first))} was stored" if value else "it was stored empty"))
    return first


def _refuse(name, problem):
    return Refused(f"Field '{name}' {problem}.")


def _show(raw):
    return repr(raw[:40])


def _scalar(name, value):
    """A JSON/form value as the text PHP would see; a list gives its first element, an
    object (or a list inside a list) is refused."""
    value = one_value(name, value)
    if isinstance(value, (list, dict)):
        raise _refuse(name, "must be a single value, not an object or a list of lists")
    if isinstance(value, bool):
        return "1" if value else ""  # PHP's (string)true and (string)false
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise _refuse(name, "must be a finite number")
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    raw = str(value)
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:  # a lone UTF-16 surrogate from JSON "\ud800"
        raise _refuse(name, "contains text that is not valid Unicode (a lone surrogate)") from None
    return raw


def parse_int(name, value):
    """PHP intval(): leading number, '' and whitespace 0, true 1; no digits at all is 0 (noted),
    as ITFlow's models store it (e.g. clients/client_model.php net terms, asset ids)."""
    value = one_value(name, value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return _in_64_bits(name, value)
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        return _in_64_bits(name, int(value))
    raw = _scalar(name, value)
    if not raw.strip():
        return 0
    match = _NUMBER.match(raw)
    if match and (match.group(2) or "." in match.group(1)):  # "12.7", "1e3": PHP 8 reads the number
        try:
            return _in_64_bits(name, int(Decimal(match.group(0).strip())))
        except (InvalidOperation, OverflowError, ValueError):
            raise _refuse(name, f"must be an integer, got {_show(raw)}") from None
    match = _INT_PREFIX.match(raw)
    if not match:
        note(f"{name} {_show(raw)} has no number in it and was stored as 0")
        return 0
    return _in_64_bits(name, int(match.group(1)))


def intval(value):
    """PHP's intval() itself, which never refuses: the leading integer of the text (with a
    fraction or exponent read as PHP 8 reads a numeric string), 0 when there is none, held
    to 64 bits as PHP saturates it. Used where ITFlow interpolates intval() into SQL with no
    further check (limit, offset: validate_api_key.php:99-114)."""
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, dict):
        return 1 if value else 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return 0
        number = int(value)
    elif isinstance(value, int):
        number = value
    else:
        raw = str(value)
        match = _NUMBER.match(raw)
        number = 0
        if match and (match.group(2) or "." in match.group(1)):
            try:
                number = int(Decimal(match.group(0).strip()))
            except (InvalidOperation, OverflowError, ValueError):
                number = 0
        else:
            match = _INT_PREFIX.match(raw)
            number = int(match.group(1)) if match else 0
    return max(-2 ** 63, min(2 ** 63 - 1, number))


def _in_64_bits(name, number):
    # Beyond any column and any bound parameter either database takes.
    if not -2 ** 63 <= number < 2 ** 63:
        raise _refuse(name, "is out of range")
    return number


def parse_flag(name, value):
    # ITFlow stores intval() of a flag as sent (location_primary 12 stays 12); the column
    # (tinyint) bounds it. Rules that test a flag test it for non-zero.
    return parse_int(name, value)


def parse_text(name, value):
    """Plain text: tags stripped and trimmed, as ITFlow's sanitizeInput does."""
    return text.clean(_scalar(name, value))


def parse_html(name, value):
    """Rich text stored as given (ticket details, document content, replies)."""
    return _scalar(name, value)


def parse_phone(name, value):
    return text.digits_only(_scalar(name, value))


def parse_decimal(name, value):
    """PHP floatval(), as ITFlow's models read a rate or an amount (clients/client_model.php
    client_rate): the leading number, '' 0, '12abc' 12, and no number at all 0 (noted)."""
    raw = _scalar(name, value).strip()
    if raw == "":
        return 0
    match = _NUMBER.match(raw)
    if not match:
        note(f"{name} {_show(raw)} has no number in it and was stored as 0")
        return 0
    try:
        number = Decimal(match.group(0).strip())
    except InvalidOperation:  # pragma: no cover - the pattern only matches what Decimal reads
        raise _refuse(name, f"must be a number, got {_show(raw)}") from None
    if not number.is_finite():
        raise _refuse(name, f"must be a number, got {_show(raw)}")
    return str(number)


def parse_list(name, value):
    """A JSON list of objects (an invoice's lines), taken as sent; each object is parsed by
    the operation that takes it. Nothing, null or "" is an empty list."""
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _refuse(name, "must be a JSON list of objects")
    return value


# --- dates: what MariaDB's str_to_datetime takes (default sql_mode: zero dates allowed) ---

_DELIMITED_DATE = re.compile(r"^(\d{1,4})[^\w\s](\d{1,2})[^\w\s](\d{1,2})")
_COMPACT_DATE = re.compile(r"^(\d{8}|\d{6})")
_TIME = re.compile(r"^(\d{1,2})[^\w\s](\d{1,2})(?:[^\w\s](\d{1,2})(?:\.\d+)?)?$")


def _year(digits):
    year = int(digits)
    if len(digits) <= 2:  # MariaDB: 70-99 are 19xx, 00-69 are 20xx
        year += 1900 if year >= 70 else 2000
    return year


def _date_parts(raw):
    """(year, month, day, rest of the text) or None."""
    match = _DELIMITED_DATE.match(raw)
    if match:
        y, m, d = match.groups()
        return _year(y), int(m), int(d), raw[match.end():]
    match = _COMPACT_DATE.match(raw)
    if match:
        digits = match.group(1)
        if len(digits) == 8:
            y, m, d = digits[:4], digits[4:6], digits[6:]
        else:
            y, m, d = digits[:2], digits[2:4], digits[4:]
        return _year(y), int(m), int(d), raw[match.end():]
    return None


def _valid_date(year, month, day):
    if (year, month, day) == (0, 0, 0):
        return True  # the zero date, stored and read back as 0000-00-00
    if not (0 <= year <= 9999 and 0 <= month <= 12 and 0 <= day <= 31):
        return False
    if month and day:  # a zero month or day is allowed (NO_ZERO_IN_DATE is off); else a real date
        try:
            date(year or 2000, month, day)
        except ValueError:
            return False
    return True


def _time_part(rest):
    """(h, m, s) from what follows a date (' 13:05', 'T13:05:00'), None when nothing does."""
    rest = rest.strip()
    if not rest:
        return None
    if rest[0] in "Tt":
        rest = rest[1:]
    match = _TIME.match(rest.strip())
    if not match:
        return False
    h, m, s = (int(x or 0) for x in match.groups())
    if h > 23 or m > 59 or s > 59:
        return False
    return h, m, s


def _temporal(name, value, with_time):
    raw = text.clean(_scalar(name, value))
    if raw == "":
        return None  # ITFlow stores an empty date as NULL
    parts = _date_parts(raw)
    clock = _time_part(parts[3]) if parts else False
    if parts is None or not _valid_date(*parts[:3]) or clock is False:
        kind = "date and time (YYYY-MM-DD HH:MM:SS)" if with_time else "date (YYYY-MM-DD)"
        raise _refuse(name, f"must be a {kind}, got {_show(raw)}")
    year, month, day = parts[:3]
    stamp = f"{year:04d}-{month:02d}-{day:02d}"
    if with_time:
        h, m, s = clock or (0, 0, 0)
        stamp += f" {h:02d}:{m:02d}:{s:02d}"
    return stamp  # a DATE column drops a time part, as MariaDB does (with a note, not an error)


def parse_date(name, value):
    return _temporal(name, value, with_time=False)


def parse_datetime(name, value):
    return _temporal(name, value, with_time=True)


def parse_time(name, value):
    raw = text.clean(_scalar(name, value))
    match = re.match(r"^(\d{1,3}):([0-5]\d)(?::([0-5]\d))?$", raw)
    if not match:
        raise _refuse(name, f"must be a duration HH:MM:SS, got {_show(raw)}")
    hours, minutes, seconds = match.group(1), match.group(2), match.group(3) or "00"
    return f"{int(hours):02d}:{minutes}:{seconds}"


def parse_ids(name, value):
    """A list of record ids: a JSON list, or one text of ids separated by commas or spaces
    (a recurring ticket's additional assets, its tasks' estimates). Each is read as intval reads
    it, an empty one as 0, each in its place (a list sent beside another lines up with it)."""
    if isinstance(value, list):
        items = value
    else:
        items = re.split(r"[,\s]+", _scalar(name, value).strip())
    found = []
    for item in items:
        if isinstance(item, (list, dict)):
            raise _refuse(name, "must be a list of ids, not a list of lists or objects")
        found.append(parse_int(name, item) if str(item).strip() else 0)
    return found


def parse_lines(name, value):
    """A list of plain texts: a JSON list, or one text with one per line (a recurring ticket's
    tasks). Each loses its tags and surrounding space, as parse_text; empty ones are kept (in
    their place) for the caller to skip, so that a list sent beside it lines up."""
    if isinstance(value, list):
        items = value
    else:
        items = _scalar(name, value).split("\n")
    found = []
    for item in items:
        if isinstance(item, (list, dict)):
            raise _refuse(name, "must be a list of texts, not a list of lists or objects")
        found.append(text.clean("" if item is None else _scalar(name, item)))
    return found


LIST_KINDS = frozenset({"ids", "lines"})  # kinds that take a list as sent (crud.Operation.parse_given)
PARSERS = {
    "int": parse_int,
    "flag": parse_flag,
    "text": parse_text,
    "html": parse_html,
    "phone": parse_phone,
    "decimal": parse_decimal,
    "date": parse_date,
    "datetime": parse_datetime,
    "time": parse_time,
    "list": parse_list,
    "ids": parse_ids,
    "lines": parse_lines,
}


# --- the column's own limits, from the ITFlow layout ------------------------------------

_INT_BITS = {"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "bigint": 64}


def fit(name, column, value):
    """Refuse `value` when its column (a schema.Column, or None) cannot hold it: MariaDB in
    strict mode would fail the statement (1264 out of range, 1406 too long)."""
    if column is None or value is None:
        return value
    base = column.base_type
    if base in _INT_BITS and isinstance(value, int):
        bits = _INT_BITS[base]
        low, high = (0, 2 ** bits - 1) if "unsigned" in column.type else (-2 ** (bits - 1), 2 ** (bits - 1) - 1)
        if not low <= value <= high:
            raise _refuse(name, f"is out of range for its column ({low} to {high})")
    elif base == "decimal":
        match = re.match(r"decimal\((\d+),(\d+)\)", column.type)
        if match:
            whole_digits = int(match.group(1)) - int(match.group(2))
            number = Decimal(str(value))
            if abs(number) >= Decimal(10) ** whole_digits:
                raise _refuse(name, f"is out of range for its column (at most {whole_digits} digits "
                                    "before the decimal point)")
    elif base in ("float", "double") and isinstance(value, str):
        if abs(Decimal(value)) > Decimal("3.4e38" if base == "float" else "1.79e308"):
            raise _refuse(name, "is out of range for its column")
    elif isinstance(value, str) and column.max_length:
        # varchar(N) counts characters; TEXT and binary columns count bytes
        size = len(value) if base in ("varchar", "char") else len(value.encode("utf-8"))
        if size > column.max_length:
            unit = "characters" if base in ("varchar", "char") else "bytes"
            raise _refuse(name, f"is longer than the {column.max_length} {unit} its column holds")
    return value


def today():
    return date.today().isoformat()


def now():
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S")
