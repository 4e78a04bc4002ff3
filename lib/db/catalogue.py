"""What the database holds (tables, columns) and creating ITFlow's schema in it."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..itflow import schema


class Catalogue:
    """Mixed into Database: catalogue queries and the DDL, through its rows/execute/insert."""

    dialect: str

    def table_names(self) -> set[str]:
        if self.dialect == "mysql":
            sql = "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()"
        else:
            sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
        return {r["name"] for r in self.rows(sql)}

    def columns_of(self, table: str) -> list[str]:
        """The table's column names in their order ([] for a missing table)."""
        if self.dialect == "mysql":
            return [r["name"] for r in self.rows(
                "SELECT column_name AS name FROM information_schema.columns "
                "WHERE table_schema = DATABASE() AND table_name = :t ORDER BY ordinal_position", {"t": table})]
        return [r["name"] for r in self.rows(f"PRAGMA table_info(\"{table}\")")]

    def create_schema(self, layout: str = schema.LAYOUT_CLIENT_KEYS) -> None:
        """Create every ITFlow table that is missing and the seed rows that are missing.
        `layout` picks the api_keys columns of ITFlow 2.4.6 ("client") or 2.4.7+ ("user")."""
        with self.transaction(write=True):
            for statement in schema.create_statements(self.dialect, layout):
                self.execute(statement)
        with self.transaction(write=True):
            for table, key, row in schema.seed_rows():
                if not self.count(table, {key: row[key]}):
                    self.insert(table, row)

    # provided by the Database class
    rows: Callable[..., list[dict]]
    execute: Callable[..., int]
    insert: Callable[..., int]
    count: Callable[..., int]
    transaction: Callable[..., Any]
