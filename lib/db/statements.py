"""SQL built from table and column names (identifiers come only from module definitions,
never from a request) with :named binds. Each statement text is built once per shape."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..itflow import schema
from .pool import close_quietly

T = TypeVar("T")


def conditions(where: dict) -> str:
    return " AND ".join(f"{c} = :w_{c}" for c in where) or "1 = 1"


def _where_binds(where: dict) -> dict:
    return {f"w_{c}": v for c, v in where.items()}


class Statements:
    """insert / update / delete / count / take_number, on top of the connection machinery
    (lib/db/connections.py) that the Database class mixes in."""

    dialect: str
    _texts: dict

    def execute(self, sql: str, params: dict | None = None) -> int:
        """Run a statement (never replayed); returns the number of rows it changed."""
        return self._on_connection(sql, params, fetch=False)[0]

    def _text(self, key: tuple, build: Callable[[], T]) -> T:
        """The statement for `key` (its kind, table and column names), built once."""
        found = self._texts.get(key)
        if found is None:
            found = build()
            if len(self._texts) < 4096:
                self._texts[key] = found
        return found

    def insert(self, table: str, values: dict) -> int:
        """Insert one row (NOT NULL columns without default get ITFlow's empty value); returns its id."""
        row = schema.filled_row(table, values)
        sql = self._text(("insert", table, *row), lambda: "INSERT INTO {} ({}) VALUES ({})".format(
            table, ", ".join(row), ", ".join(f":{c}" for c in row)))
        return self._on_connection(sql, row, fetch=False)[1]

    def insert_many(self, table: str, rows: list[dict]) -> None:
        """Insert rows that name the same columns, in one statement (one round trip)."""
        filled = [schema.filled_row(table, values) for values in rows]
        self.execute(*self.many_rows(table, list(filled[0]), filled))

    def many_rows(self, table: str, columns: list[str], rows: list[dict], returning: str = "") -> tuple[str, dict]:
        """(statement, binds) inserting `rows` (each naming `columns`, as filled_row() gives
        them) in one statement; `returning`: a column the statement hands back per row."""
        def build() -> tuple[str, list[str]]:  # the statement and its bind names, in order
            names = [f"r{i}_{c}" for i in range(len(rows)) for c in columns]
            width = len(columns)
            tuples = ", ".join("({})".format(", ".join(f":{name}" for name in names[i:i + width]))
                               for i in range(0, len(names), width))
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES {tuples}"
            return (sql + f" RETURNING {returning}" if returning else sql), names
        sql, names = self._text(("insert_many", table, len(rows), returning, *columns), build)
        return sql, dict(zip(names, [row[c] for row in rows for c in columns], strict=True))

    def take_number(self, table: str, column: str, where: dict) -> int | None:
        """Add 1 to the counter `column` of the row matching `where` and return the value it
        had (NULL counts as 1), or None when no row matches. Two callers never get the same
        number, and neither waits for the other's transaction:

        * MySQL: one autocommit statement on a connection of its own, so the row is locked
          for that statement only (ITFlow takes ticket numbers the same way). Held until the
          caller's COMMIT, every create would queue behind the one before it. A caller that
          then fails leaves a gap in the numbers, as ITFlow does.
        * SQLite: inside the caller's transaction, which already holds the database's one
          write lock."""
        conds = conditions(where)
        binds = _where_binds(where)
        if self.dialect == "sqlite":
            if not self.execute(f"UPDATE {table} SET {column} = COALESCE({column}, 1) + 1 WHERE {conds}", binds):
                return None
            return int(self.scalar(f"SELECT {column} - 1 AS number FROM {table} WHERE {conds}", binds))
        # LAST_INSERT_ID(x) hands x back in the statement's own reply, so no SELECT follows.
        native = self._native(f"UPDATE {table} SET {column} = LAST_INSERT_ID(COALESCE({column}, 1)) + 1 "
                              f"WHERE {conds}")
        conn = self._checkout()
        try:
            changed, number = self._run(conn, native, binds, fetch=False)
        except self._errors as exc:
            close_quietly(conn)  # never replayed: it may have counted before the connection broke
            raise self._translate(exc, binds, conn_is_local=False) from exc
        self._pool.put(conn)
        return int(number) if changed else None

    def update(self, table: str, values: dict, where: dict) -> int:
        """Set `values` on the rows matching every `where` column; returns the number of rows
        CHANGED, as MySQL counts them for ITFlow: a row already holding every value counts 0
        (5 for '5' and '10.5' for a stored 10.50 are no change; a change of case is one).
        No values: 0."""
        if not values:
            return 0

        def build() -> str:
            sets = ", ".join(f"{c} = :v_{c}" for c in values)
            conds = conditions(where)
            if self.dialect == "sqlite":
                # SQLite counts every row it matched, so leave out the rows that would not change.
                # IS is null-safe and compares with the column's affinity (5 IS '5'); BINARY
                # overrides the NOCASE text columns, as MySQL compares the stored bytes.
                same = " AND ".join(f"{c} IS :v_{c} COLLATE BINARY" for c in values)
                conds += f" AND NOT ({same})"
            return f"UPDATE {table} SET {sets} WHERE {conds}"
        params = {f"v_{c}": v for c, v in values.items()}
        params.update(_where_binds(where))
        return self.execute(self._text(("update", table, *values, "", *where), build), params)

    def delete(self, table: str, where: dict) -> int:
        if not where:  # never every row by accident
            raise ValueError("delete() needs at least one where column")
        sql = self._text(("delete", table, *where), lambda: f"DELETE FROM {table} WHERE {conditions(where)}")
        return self.execute(sql, _where_binds(where))

    def count(self, table: str, where: dict) -> int:
        sql = self._text(("count", table, *where),
                         lambda: f"SELECT COUNT(*) AS n FROM {table} WHERE {conditions(where)}")
        return int(self.scalar(sql, _where_binds(where)))

    # provided by the Database class
    _errors: tuple
    _pool: Any
    _on_connection: Callable[..., Any]
    _native: Callable[[str], str]
    _checkout: Callable[..., Any]
    _run: Callable[..., Any]
    _translate: Callable[..., BaseException]
    scalar: Callable[..., Any]
