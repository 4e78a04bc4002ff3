"""The database layer's typed errors: what every other layer catches, without importing a driver."""
from __future__ import annotations


class DatabaseError(Exception):
    """The database cannot be reached or cannot serve now (lost connection, timeout, locked,
    deadlock): a 503 for the caller. The message names the driver's error class and text."""


class WriteConflict(DatabaseError):
    """The transaction lost to another one (deadlock, lock wait timeout, a Galera certification
    conflict, which is reported as a deadlock) or the node is not ready (WSREP, 1047). It was
    rolled back whole, so running all of it again is safe (lib/core/retry.py)."""


class CommitUnknown(DatabaseError):
    """The server never answered a COMMIT and could not be asked afterwards whether it
    happened: the write may or may not have been saved (lib/db/connections.py)."""


class StorageFull(DatabaseError):
    """The database's disk (or an SQLite file system) is full: the transaction was rolled back
    and nothing was written. A 507 for the caller, until space is freed."""


class GatheredRowsFailed(DatabaseError):
    """Rows held back from several batch items (Connections.insert_soon) could not go in
    together; which item's row it was is not known, so the batch runs its items again one by
    one, where each item hears of its own row (lib/web/batch.py)."""


class ValueRefused(Exception):
    """The database refused a value from the request (out of range, too long, wrong type).
    `column` names the column when the database said which one, else None."""

    def __init__(self, message: str, column: str | None = None) -> None:
        super().__init__(message)
        self.column = column
