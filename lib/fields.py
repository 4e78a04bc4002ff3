"""Field parsers: one small named function per kind of value, looked up by name.

A parser takes (field name, raw value from JSON/query) and returns what is stored, or
raises BadRequest naming the field. ITFlow runs ids and flags through PHP intval(), so
12 and "12" are the same; unlike ITFlow, "abc" is refused instead of becoming 0.
"""
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from . import text
from .envelope import BadRequest

_INT = re.compile(r"^\s*[+-]?\d+\s*$")


def _scalar(name, value):
    if isinstance(value, (list, dict)):
        raise BadRequest(f"Field '{name}' must be a single value, not a list or object.")
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_int(name, value):
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raw = _scalar(name, value)
    if not _INT.match(raw):
        raise BadRequest(f"Field '{name}' must be an integer, got {raw[:40]!r}.")
    number = int(raw)
    if abs(number) > 2**31 - 1:
        raise BadRequest(f"Field '{name}' is out of range.")
    return number


def parse_flag(name, value):
    return 1 if parse_int(name, value) else 0


def parse_text(name, value):
    """Plain text: tags stripped and trimmed, as ITFlow's sanitizeInput does."""
    return text.clean(_scalar(name, value))


def parse_html(name, value):
    """Rich text stored as given (ticket details, document content, replies)."""
    return _scalar(name, value)


def parse_phone(name, value):
    return text.digits_only(_scalar(name, value))


def parse_decimal(name, value):
    raw = _scalar(name, value).strip()
    if raw == "":
        return 0
    try:
        number = Decimal(raw)
    except InvalidOperation:
        raise BadRequest(f"Field '{name}' must be a number, got {raw[:40]!r}.") from None
    if not number.is_finite():
        raise BadRequest(f"Field '{name}' must be a number, got {raw[:40]!r}.")
    return str(number)


def _temporal(name, value, formats, render, kind):
    raw = text.clean(_scalar(name, value))
    if raw == "":
        return None  # ITFlow stores an empty date as NULL
    for fmt in formats:
        try:
            return render(datetime.strptime(raw, fmt))
        except ValueError:
            continue
    raise BadRequest(f"Field '{name}' must be a {kind}, got {raw[:40]!r}.")


def parse_date(name, value):
    return _temporal(name, value, ("%Y-%m-%d",), lambda d: d.strftime("%Y-%m-%d"), "date (YYYY-MM-DD)")


def parse_datetime(name, value):
    return _temporal(
        name, value,
        ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d"),
        lambda d: d.strftime("%Y-%m-%d %H:%M:%S"), "date and time (YYYY-MM-DD HH:MM:SS)",
    )


def parse_time(name, value):
    raw = text.clean(_scalar(name, value))
    match = re.match(r"^(\d{1,3}):([0-5]\d)(?::([0-5]\d))?$", raw)
    if not match:
        raise BadRequest(f"Field '{name}' must be a duration HH:MM:SS, got {raw[:40]!r}.")
    hours, minutes, seconds = match.group(1), match.group(2), match.group(3) or "00"
    return f"{int(hours):02d}:{minutes}:{seconds}"


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
}


def today():
    return date.today().isoformat()


def now():
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S")
