"""itflow_api_meta: the one table of our own, (meta_name, meta_value) rows beside ITFlow's.

It holds what this server must remember about a database and ITFlow has no place for: the
fingerprint of the key hash secret (auth.check_secret) and whether `init-db` created the
schema (then a later `init-db` may add what is missing; on ITFlow's own database it never
touches ITFlow's tables). Created by `init-db` and `serve`; nothing in ITFlow reads it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .database import Database

TABLE = "itflow_api_meta"
SCHEMA_OWNER = "schema_owner"  # "itflow-api" when init-db created the ITFlow tables

# Plain SQL both MySQL/MariaDB (InnoDB, the database's charset) and SQLite accept.
_CREATE = (f"CREATE TABLE IF NOT EXISTS {TABLE} ("
           "meta_name VARCHAR(64) NOT NULL PRIMARY KEY, meta_value VARCHAR(255) NOT NULL)")


def ensure(db: Database) -> None:
    with db.transaction(write=True):
        db.execute(_CREATE)


def get(db: Database, name: str) -> str | None:
    if TABLE not in db.table_names():
        return None
    with db.transaction():
        return db.scalar(f"SELECT meta_value FROM {TABLE} WHERE meta_name = :name", {"name": name})


def put(db: Database, name: str, value: str) -> None:
    ensure(db)
    with db.transaction(write=True):
        db.delete(TABLE, {"meta_name": name})
        db.insert(TABLE, {"meta_name": name, "meta_value": value})
