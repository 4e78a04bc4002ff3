"""Capture: database triggers that write one event row for every change to a served table,
in the writer's own transaction, whoever the writer is (this server, ITFlow's pages, its
cron jobs, plain SQL). `itflow-api init-db --events` installs them, `--no-events` removes
them, `itflow-api version` says whether they are there; docs/events.md explains them.

What a trigger writes is never a column value (no secrets, no text): the module, the
action, the record's id, its client and the time. The order events are *assigned* in
(event_id) is not the order they become visible in; lib/events/feed.py sequence() gives
them their commit-visibility order (event_seq).

Each served table gets three triggers, named itflow_api_<table>_insert / _update / _delete:

* AFTER INSERT: created;
* AFTER UPDATE: archived when *_archived_at went from NULL to a date, unarchived the other
  way, else updated. An UPDATE that only stamps *_accessed_at (ITFlow records views of a
  client, an asset, a credential that way) writes no event. On SQLite an UPDATE that
  changed nothing writes none either (there every column is compared; on MariaDB the
  triggers name only the id, client, archived and accessed columns, so that ITFlow's
  upgrades, which drop and rename other columns, can never break a write);
* AFTER DELETE: deleted, a tombstone with the id and the client.

ticket_replies take their client from their ticket, payments from their invoice (a
sub-select in the trigger).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..db.drivers import driver_errors
from ..itflow import schema
from ..modules import (
    assets,
    certificates,
    clients,
    contacts,
    credentials,
    documents,
    domains,
    invoices,
    locations,
    networks,
    software,
    tickets,
    vendors,
)

if TYPE_CHECKING:
    from ..db.database import Database

EVENTS = "itflow_api_events"
STATE = "itflow_api_event_state"
PREFIX = "itflow_api_"
ACTIONS = ("created", "updated", "archived", "unarchived", "deleted")
OPERATIONS = {"insert": "INSERT", "update": "UPDATE", "delete": "DELETE"}


@dataclass(frozen=True)
class Captured:
    """One served table: the module name its events carry and the columns its triggers read."""
    module: str
    table: str
    id_column: str
    client_column: str | None          # on the row itself
    client_via: tuple[str, str, str, str] | None = None  # (table, its client column, its id, our column)
    archived_column: str | None = None
    accessed_column: str | None = None

    def client(self, row: str) -> str:
        """SQL for the record's client id, read from the trigger's NEW or OLD row."""
        if self.client_via:
            table, client_column, id_column, ours = self.client_via
            return (f"COALESCE((SELECT {client_column} FROM {table} "
                    f"WHERE {id_column} = {row}.{ours}), 0)")
        return f"COALESCE({row}.{self.client_column}, 0)"


def _with_suffix(table: str, id_column: str, suffix: str) -> str | None:
    name = id_column.rsplit("_id", 1)[0] + suffix
    return name if name in {c.name for c in schema.tables().get(table, ())} else None


def _from_module(m: Any, **overrides: Any) -> Captured:
    """The Captured for a module definition (lib/core/definitions.Module)."""
    values = {
        "module": m.name, "table": m.table, "id_column": m.id_column, "client_column": m.client_column,
        "archived_column": m.archived_column or _with_suffix(m.table, m.id_column, "_archived_at"),
        "accessed_column": _with_suffix(m.table, m.id_column, "_accessed_at"),
    }
    values.update(overrides)
    return Captured(**values)


# The served tables, in the order the contract lists them. Columns come from the module
# definitions (lib/modules/), so a module and its events never disagree.
CAPTURED: tuple[Captured, ...] = (
    _from_module(clients.MODULE),
    _from_module(contacts.MODULE),
    _from_module(assets.MODULE),
    _from_module(tickets.MODULE),
    Captured("ticket_replies", "ticket_replies", "ticket_reply_id", None,
             ("tickets", "ticket_client_id", "ticket_id", "ticket_reply_ticket_id"),
             archived_column="ticket_reply_archived_at"),
    _from_module(locations.MODULE),
    _from_module(documents.MODULE),
    _from_module(credentials.MODULE),
    _from_module(domains.MODULE),
    _from_module(certificates.MODULE),
    _from_module(software.MODULE),
    _from_module(networks.MODULE),
    _from_module(vendors.MODULE),
    _from_module(invoices.MODULE),
    # A payment's client is its invoice's (payments/create and delete: lib/modules/payments.py).
    Captured("payments", "payments", "payment_id", None,
             ("invoices", "invoice_client_id", "invoice_id", "payment_invoice_id"),
             archived_column="payment_archived_at"),
)
MODULES = tuple(c.module for c in CAPTURED)


def trigger_name(table: str, operation: str) -> str:
    return f"{PREFIX}{table}_{operation}"


# --- our tables -------------------------------------------------------------------------

def table_statements(dialect: str) -> list[str]:
    """CREATE statements for the event table and the sequencer's row (idempotent)."""
    if dialect == "mysql":
        return [
            f"CREATE TABLE IF NOT EXISTS {EVENTS} ("
            "event_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
            "event_seq BIGINT NULL DEFAULT NULL, "
            "event_module VARCHAR(32) NOT NULL, "
            "event_action VARCHAR(16) NOT NULL, "
            "event_record_id INT NOT NULL DEFAULT 0, "
            "event_client_id INT NOT NULL DEFAULT 0, "
            "event_at DATETIME NOT NULL DEFAULT current_timestamp(), "
            "UNIQUE KEY event_seq (event_seq), KEY event_at (event_at)"
            ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            f"CREATE TABLE IF NOT EXISTS {STATE} ("
            "state_id INT NOT NULL PRIMARY KEY, last_seq BIGINT NOT NULL DEFAULT 0"
            ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        ]
    return [
        f'CREATE TABLE IF NOT EXISTS "{EVENTS}" ('
        '"event_id" INTEGER PRIMARY KEY AUTOINCREMENT, '
        '"event_seq" BIGINT NULL DEFAULT NULL UNIQUE, '
        '"event_module" VARCHAR(32) NOT NULL, '
        '"event_action" VARCHAR(16) NOT NULL, '
        '"event_record_id" INT NOT NULL DEFAULT 0, '
        '"event_client_id" INT NOT NULL DEFAULT 0, '
        """"event_at" DATETIME NOT NULL DEFAULT (datetime('now','localtime')))""",
        f'CREATE INDEX IF NOT EXISTS "{EVENTS}_event_at" ON "{EVENTS}" ("event_at")',
        f'CREATE TABLE IF NOT EXISTS "{STATE}" ('
        '"state_id" INT NOT NULL PRIMARY KEY, "last_seq" BIGINT NOT NULL DEFAULT 0)',
    ]


def _now(dialect: str) -> str:
    # MySQL's NOW() is the server's local time, as ITFlow's own columns; SQLite's is UTC.
    return "NOW()" if dialect == "mysql" else "datetime('now','localtime')"


def _insert_event(dialect: str, c: Captured, action_sql: str, row: str) -> str:
    # INSERT ... VALUES, one row: InnoDB then takes the next event_id under a short mutex; an
    # INSERT ... SELECT would hold the table's AUTO-INC lock to the end of the writer's statement.
    return (f"INSERT INTO {EVENTS} (event_module, event_action, event_record_id, event_client_id, event_at) "
            f"VALUES ('{c.module}', {action_sql}, {row}.{c.id_column}, {c.client(row)}, {_now(dialect)})")


def _update_action(c: Captured) -> str:
    if not c.archived_column:
        return "'updated'"
    a = c.archived_column
    return (f"CASE WHEN OLD.{a} IS NULL AND NEW.{a} IS NOT NULL THEN 'archived' "
            f"WHEN OLD.{a} IS NOT NULL AND NEW.{a} IS NULL THEN 'unarchived' ELSE 'updated' END")


def _mysql_same(a: str) -> str:
    return f"OLD.{a} <=> NEW.{a}"


def _sqlite_same(a: str) -> str:
    # BINARY: a change of case is a change (text columns compare NOCASE otherwise).
    return f'OLD."{a}" IS NEW."{a}" COLLATE BINARY'


def _update_condition(dialect: str, c: Captured, columns: Iterable[str]) -> str:
    """SQL that is true when the UPDATE is worth an event."""
    if dialect == "sqlite":
        # Every column but the stamps: an UPDATE that changed none of them (a no-op, an
        # *_accessed_at stamp, the *_updated_at trigger of lib/itflow/schema.py) is not a change.
        compared = [col for col in columns if not col.endswith(("_updated_at", "_accessed_at"))]
        return "NOT (" + " AND ".join(_sqlite_same(col) for col in compared) + ")" if compared else "1"
    if c.accessed_column:
        # A view stamped by ITFlow (only *_accessed_at set); an archive that stamps it too still counts.
        conditions = [_mysql_same(c.accessed_column)]
        if c.archived_column:
            conditions.append(f"NOT ({_mysql_same(c.archived_column)})")
        return " OR ".join(conditions)
    return "1"


def trigger_statements(dialect: str, c: Captured, columns: Iterable[str]) -> dict[str, str]:
    """{operation: CREATE TRIGGER statement} for one captured table whose live columns are `columns`."""
    columns = list(columns)
    condition = _update_condition(dialect, c, columns)
    bodies = {
        "insert": _insert_event(dialect, c, "'created'", "NEW"),
        "update": _insert_event(dialect, c, _update_action(c), "NEW"),
        "delete": _insert_event(dialect, c, "'deleted'", "OLD"),
    }
    found = {}
    for operation, body in bodies.items():
        name = trigger_name(c.table, operation)
        head = f"AFTER {OPERATIONS[operation]} ON {c.table} FOR EACH ROW"
        if dialect == "mysql":
            if operation == "update" and condition != "1":
                # One statement to the server (DELIMITER is only the mysql client's affair).
                body = f"BEGIN IF {condition} THEN {body}; END IF; END"
            found[operation] = f"CREATE TRIGGER {name} {head} {body}"
        else:
            when = f" WHEN {condition}" if operation == "update" and condition != "1" else ""
            found[operation] = f'CREATE TRIGGER "{name}" {head}{when} BEGIN {body}; END'
    return found


# --- installing and removing ----------------------------------------------------------------

class CaptureError(Exception):
    """The triggers cannot be installed or removed; the message is one line saying why and what to do."""


def _trigger_names(db: Database) -> set[str]:
    """Every trigger in the database whose name starts with our prefix."""
    if db.dialect == "mysql":
        sql = "SELECT trigger_name AS name FROM information_schema.triggers WHERE trigger_schema = DATABASE()"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    with db.transaction():
        return {r["name"] for r in db.rows(sql) if r["name"].startswith(PREFIX)}


ALL_TRIGGERS = frozenset(trigger_name(c.table, op) for c in CAPTURED for op in OPERATIONS)


def expected_triggers(db: Database) -> dict[str, Captured]:
    """{trigger name: table} for the captured tables this database has."""
    tables = db.table_names()
    return {trigger_name(c.table, op): c for c in CAPTURED if c.table in tables for op in OPERATIONS}


def installed_triggers(db: Database) -> set[str]:
    """Names of our capture triggers present in the database."""
    return _trigger_names(db) & ALL_TRIGGERS


def installed(db: Database) -> bool:
    """Whether the capture triggers are in this database (all of them, for every captured
    table it has, and our event tables)."""
    if EVENTS not in db.table_names():
        return False
    expected = set(expected_triggers(db))
    return bool(expected) and expected <= installed_triggers(db)


def status(db: Database) -> str:
    """One line for `itflow-api version`."""
    if EVENTS not in db.table_names():
        return "events: off (capture triggers not installed; `itflow-api init-db --events` installs them)"
    expected = expected_triggers(db)
    present = installed_triggers(db)
    if expected and set(expected) <= present:
        return f"events: on ({len(expected)} capture triggers on {len(expected) // 3} tables)"
    if not present:
        return "events: off (event tables present, no capture triggers; `itflow-api init-db --events` installs them)"
    missing = sorted({expected[name].table for name in set(expected) - present})
    return (f"events: INCOMPLETE, triggers missing on {', '.join(missing)} (an ITFlow upgrade that "
            "recreated a table drops them): run `itflow-api init-db --events` again")


def _is_mariadb(db: Database) -> bool:
    with db.transaction():
        return "mariadb" in str(db.scalar("SELECT VERSION() AS v") or "").lower()


def _privilege_error(db: Database, exc: BaseException) -> CaptureError | None:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    if code == 1419 or "log_bin_trust_function_creators" in str(exc):
        return CaptureError(
            "binary logging is on, so MariaDB/MySQL lets only a user with SUPER create triggers: "
            "run `init-db --events` as such a user, or set the server variable "
            "log_bin_trust_function_creators = 1 (SET GLOBAL, and in the server's config)")
    if code in (1142, 1227, 1044) or "TRIGGER command denied" in str(exc):
        user = ""
        try:
            with db.transaction():
                user = str(db.scalar("SELECT CURRENT_USER() AS u") or "")
        except Exception:  # noqa: BLE001 (the name is a courtesy; the reason stands without it)
            pass
        return CaptureError(
            f"the database user {user or '(this one)'} may not create triggers: "
            "GRANT TRIGGER ON <database>.* TO that user (or run `init-db --events` as one who may)")
    return None


def install(db: Database) -> list[str]:
    """Create our event tables (when missing) and (re)create every capture trigger; safe to
    repeat. Returns the captured tables. Raises CaptureError with a one-line reason."""
    try:
        with db.transaction(write=True):
            for statement in table_statements(db.dialect):
                db.execute(statement)
        with db.transaction(write=True):
            if db.scalar(f"SELECT COUNT(*) AS n FROM {STATE} WHERE state_id = 1") in (0, "0"):
                db.execute(f"INSERT INTO {STATE} (state_id, last_seq) VALUES (1, 0)")
        tables = db.table_names()
        done = []
        replace = db.dialect == "mysql" and _is_mariadb(db)
        for c in CAPTURED:
            if c.table not in tables:
                continue
            statements = trigger_statements(db.dialect, c, db.columns_of(c.table))
            if db.dialect == "sqlite":
                with db.transaction(write=True):  # one transaction: no write is ever missed
                    for operation, create in statements.items():
                        db.execute(f'DROP TRIGGER IF EXISTS "{trigger_name(c.table, operation)}"')
                        db.execute(create)
            else:
                for operation, create in statements.items():
                    with db.transaction(write=True):
                        if replace:  # MariaDB swaps it in one step, so no write slips through
                            db.execute(create.replace("CREATE TRIGGER", "CREATE OR REPLACE TRIGGER", 1))
                        else:
                            db.execute(f"DROP TRIGGER IF EXISTS {trigger_name(c.table, operation)}")
                            db.execute(create)
            done.append(c.table)
        return done
    except driver_errors() as exc:
        reason = _privilege_error(db, exc)
        if reason is not None:
            raise reason from None
        raise


def uninstall(db: Database) -> list[str]:
    """Drop every capture trigger; our event tables and their rows stay (nothing writes to
    them any more). Returns the names dropped."""
    present = sorted(installed_triggers(db))
    try:
        with db.transaction(write=True):
            for name in present:
                db.execute(f"DROP TRIGGER IF EXISTS {name}" if db.dialect == "mysql"
                           else f'DROP TRIGGER IF EXISTS "{name}"')
    except driver_errors() as exc:
        reason = _privilege_error(db, exc)
        if reason is not None:
            raise reason from None
        raise
    return present


def add_event(db: Database, module: str, action: str, record_id: int, client_id: int) -> None:
    """Write one event row inside the caller's transaction (the triggers' rows, written from Python)."""
    db.execute(f"INSERT INTO {EVENTS} (event_module, event_action, event_record_id, event_client_id, event_at) "
               f"VALUES (:module, :action, :record_id, :client_id, {_now(db.dialect)})",
               {"module": module, "action": action, "record_id": int(record_id), "client_id": int(client_id or 0)})
