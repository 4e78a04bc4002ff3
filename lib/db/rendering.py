"""Rows as MySQL's text protocol renders them (every value a string, NULL as None), because
that is what PHP's mysqli hands ITFlow and what API clients depend on. MySQL already sends
text; SQLite's values are rendered from the ITFlow column type of the same name (decimals
with their scale, integers without a fraction, floats as MySQL prints a FLOAT)."""
from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ..itflow import schema

Renderer = Callable[[Any], str]

# Columns the server sends as bytes (binary collation); everything else arrives as text.
BINARY_COLUMNS = {c.name for c in schema.column_types().values() if "binary" in c.type or "blob" in c.type}


def mysql_rows(keys: list[str], raw: Any, dict_rows: bool, built: bool = False) -> list[dict]:
    """Dicts from the MySQL drivers' rows: tuples (pymysql), mysqlclient's C dicts, or the
    finished dicts of mysql-connector (`built`: decoded and keyed already)."""
    if built:
        return raw
    if not dict_rows:
        rows = [dict(zip(keys, row, strict=True)) for row in raw]
    elif len(set(keys)) < len(keys):
        # The C dicts name a repeated column "table.column"; PHP's fetch_assoc keeps
        # the last value under the plain name, and so do we.
        rows = [dict(zip(keys, row.values(), strict=True)) for row in raw]
    else:
        rows = list(raw)
    binary = [k for k in keys if k in BINARY_COLUMNS]
    if binary:
        for row in rows:
            for k in binary:
                value = row[k]
                row[k] = value.decode("utf-8", "replace") if type(value) is bytes else value
    return rows


class SqliteRenderers:
    """The renderer of each column name, worked out once."""

    def __init__(self) -> None:
        self._found: dict[str, Renderer] = {}

    def rows(self, keys: list[str], raw: Any) -> list[dict]:
        renderers = [self._renderer(k) for k in keys]
        return [
            {k: (None if v is None else (v if type(v) is str else r(v))) for k, r, v in zip(keys, renderers, row, strict=True)}
            for row in raw
        ]

    def _renderer(self, name: str) -> Renderer:
        found = self._found.get(name)
        if found is None:
            found = self._found[name] = _sqlite_renderer(name)
        return found


def _render_decimal(scale: int) -> Renderer:
    quantum = Decimal(1).scaleb(-scale)

    def render(value: Any) -> str:
        if isinstance(value, str):
            value = Decimal(value)
        elif isinstance(value, float):
            value = Decimal(repr(value))
        else:
            value = Decimal(value)
        return str(value.quantize(quantum, rounding=ROUND_HALF_UP))  # as MySQL rounds DECIMAL
    return render


def _render_float(value: Any) -> str:
    # MySQL prints a FLOAT with up to 6 significant digits and no trailing zeros.
    return format(float(value), ".6g")


def _render_plain(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _sqlite_renderer(column_name: str) -> Renderer:
    col = schema.column_types().get(column_name)
    if col is not None and col.scale is not None:
        return _render_decimal(col.scale)
    if col is not None and col.base_type in ("float", "double"):
        return _render_float
    return _render_plain
