"""ITFlow's table layout (from itflow_schema.json) and what we derive from it.

The layout is the compatibility contract: the same names, order, types, nullability and
defaults as a database ITFlow created, so the server runs unchanged on either.
"""
import json
import os
import re
from functools import lru_cache

_SCHEMA_FILE = os.path.join(os.path.dirname(__file__), "itflow_schema.json")
# The tables the newest ITFlow (database 2.6.7) has differently or in addition: SLAs and more.
_NEWER_FILE = os.path.join(os.path.dirname(__file__), "itflow_schema_newer.json")
NEWEST_VERSION = "2.6.7"

TICKET_STATUSES = [  # (id, name, color, order) as ITFlow's setup writes them
    (1, "New", "#dc3545", 1),
    (2, "Open", "#007bff", 2),
    (3, "On Hold", "#28a745", 3),
    (4, "Resolved", "#343a40", 4),
    (5, "Closed", "#343a40", 5),
]


PERMISSION_MODULES = [  # the modules a role's permissions refer to (ITFlow 2.4.7+)
    ("module_client", "Clients, contacts, locations and vendors"),
    ("module_support", "Tickets, assets, documentation and the rest of support"),
    ("module_credential", "Credentials"),
    ("module_sales", "Quotes, invoices and products"),
    ("module_financial", "Payments, expenses and accounting"),
    ("module_reporting", "Reports"),
]


class Column:
    __slots__ = ("name", "type", "nullable", "default", "auto_increment", "on_update_now", "primary_key")

    def __init__(self, spec):
        self.name = spec["name"]
        self.type = spec["type"]
        self.nullable = spec["null"]
        self.default = spec.get("default")
        extra = spec.get("extra") or ""
        self.auto_increment = extra == "auto_increment"
        self.on_update_now = "on update" in extra
        self.primary_key = bool(spec.get("primary_key"))

    @property
    def base_type(self):
        return self.type.split("(", 1)[0].lower()

    @property
    def scale(self):
        match = re.match(r"decimal\(\d+,(\d+)\)", self.type)
        return int(match.group(1)) if match else None

    @property
    def max_length(self):
        """Characters a varchar column holds, or bytes a TEXT holds; None when unbounded here."""
        match = re.match(r"(?:var)?(?:char|binary)\((\d+)\)", self.type)
        if match:
            return int(match.group(1))
        return 65535 if self.base_type == "text" else None

    @property
    def is_integer(self):
        return self.base_type in ("int", "tinyint", "smallint", "mediumint", "bigint")

    @property
    def is_numeric(self):
        return self.is_integer or self.base_type in ("decimal", "float", "double")

    @property
    def is_text(self):
        return self.base_type in ("varchar", "char", "text", "mediumtext", "longtext", "tinytext", "enum")

    @property
    def is_temporal(self):
        return self.base_type in ("date", "datetime", "time", "timestamp")

    def empty_value(self):
        """What an omitted NOT NULL column without default receives: '' or 0 (ITFlow's empties)."""
        if self.is_numeric:
            return 0
        if self.is_temporal:
            return None  # the few NOT NULL dates (invoice_date, ...) are set by their endpoint
        return ""


def _load(path):
    with open(path, encoding="utf-8") as handle:
        raw = json.load(handle)["tables"]
    return {name: [Column(c) for c in cols] for name, cols in raw.items()}


@lru_cache(maxsize=2)
def tables(version=None):
    """{table name: [Column, ...]} in ITFlow's column order: the 2.4.6 layout, or with
    version=NEWEST_VERSION the newest ITFlow's (its changed tables replace the old ones)."""
    found = _load(_SCHEMA_FILE)
    if version not in (None, "2.4.6"):
        if version != NEWEST_VERSION:
            raise ValueError(f"no schema data for ITFlow database version {version}")
        found.update(_load(_NEWER_FILE))
    return found


@lru_cache(maxsize=1)
def column_types():
    """{column name: Column} over every table of either layout. ITFlow prefixes its column
    names, so a name is unique enough to tell how to render a value (the few shared names
    agree on type; the 2.4.6 definition wins where a later one was widened)."""
    found = {}
    for cols in list(tables().values()) + list(tables(NEWEST_VERSION).values()):
        for col in cols:
            found.setdefault(col.name, col)
    return found


def columns(table):
    """The 2.4.6 layout's columns of `table`, or the newest layout's for a table 2.4.6 has not
    (files, document_files, tasks, ...)."""
    found = tables().get(table)
    return found if found is not None else tables(NEWEST_VERSION)[table]


def primary_key(table):
    return next(c.name for c in columns(table) if c.primary_key)


def owner_column(table):
    """The column naming the client a row of `table` belongs to (contact_id → contact_client_id)."""
    name = primary_key(table).rsplit("_id", 1)[0] + "_client_id"
    if name not in {c.name for c in columns(table)}:
        raise KeyError(f"{table} has no client column {name}")
    return name


# --- DDL -------------------------------------------------------------------------------

def _mysql_column(col):
    parts = [f"`{col.name}`", col.type, "NULL" if col.nullable else "NOT NULL"]
    if col.auto_increment:
        parts.append("AUTO_INCREMENT")
    elif col.default is not None:
        parts.append(f"DEFAULT {col.default}")
    elif col.nullable:
        parts.append("DEFAULT NULL")
    if col.on_update_now:
        parts.append("ON UPDATE current_timestamp()")
    return " ".join(parts)


def _sqlite_type(col):
    if col.base_type == "enum":
        return "TEXT"
    # SQLite takes no word after a type's parenthesis (files.file_size is bigint(20) unsigned).
    return col.type.removesuffix(" unsigned")


def _sqlite_default(default):
    if default == "current_timestamp()":
        # MySQL's CURRENT_TIMESTAMP is the server's local time; SQLite's is UTC.
        return "(datetime('now','localtime'))"
    return default


def _sqlite_column(col):
    if col.auto_increment:
        return f'"{col.name}" INTEGER PRIMARY KEY AUTOINCREMENT'
    parts = [f'"{col.name}"', _sqlite_type(col), "NULL" if col.nullable else "NOT NULL"]
    if col.default is not None:
        parts.append(f"DEFAULT {_sqlite_default(col.default)}")
    if col.is_text:
        # MariaDB's default collation ignores case; without this SQLite would not, and a
        # look-up or duplicate check would answer differently on the two backends.
        parts.append("COLLATE NOCASE")
    return " ".join(parts)


LAYOUT_CLIENT_KEYS = "client"  # ITFlow <= 2.4.6: api_keys.api_key_client_id
LAYOUT_USER_KEYS = "user"      # ITFlow 2.4.7+: api_keys.api_key_user_id


def _with_key_layout(table, cols, layout):
    if table != "api_keys" or layout != LAYOUT_USER_KEYS:
        return cols
    user_column = Column({"name": "api_key_user_id", "type": "int(11)", "null": False, "default": "0"})
    return [user_column if c.name == "api_key_client_id" else c for c in cols]


def _indexed(cols):
    """Columns that point at another row (ticket_client_id, interface_asset_id, ...): reads
    filter and join on them, so each gets an index, as ITFlow's own schema has (without the
    one on interface_asset_id, an asset list over 20,000 assets takes seconds)."""
    return [c.name for c in cols if c.name.endswith("_id") and not c.primary_key and c.is_integer]


def create_statements(dialect, layout=LAYOUT_CLIENT_KEYS, version=None):
    """Every CREATE statement for the layout, idempotent (IF NOT EXISTS). A newer `version`
    (NEWEST_VERSION) has the newest ITFlow's tables, and its keys act as users (2.4.7+)."""
    if version not in (None, "2.4.6"):
        layout = LAYOUT_USER_KEYS
    statements = []
    for table, cols in tables(version).items():
        cols = _with_key_layout(table, cols, layout)
        if dialect == "mysql":
            body = ",\n  ".join(_mysql_column(c) for c in cols)
            keys = [c.name for c in cols if c.primary_key]
            if keys:
                body += ",\n  PRIMARY KEY (" + ", ".join(f"`{k}`" for k in keys) + ")"
            body += "".join(f",\n  KEY `{name}` (`{name}`)" for name in _indexed(cols))
            statements.append(
                f"CREATE TABLE IF NOT EXISTS `{table}` (\n  {body}\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
            )
        else:
            body = ",\n  ".join(_sqlite_column(c) for c in cols)
            keys = [c.name for c in cols if c.primary_key and not c.auto_increment]
            if keys:
                body += ",\n  PRIMARY KEY (" + ", ".join(f'"{k}"' for k in keys) + ")"
            statements.append(f'CREATE TABLE IF NOT EXISTS "{table}" (\n  {body}\n)')
            statements += [f'CREATE INDEX IF NOT EXISTS "{table}_{name}" ON "{table}" ("{name}")'
                           for name in _indexed(cols)]
            pk = next((c.name for c in cols if c.primary_key), None)
            for col in cols:
                if col.on_update_now and pk:
                    # SQLite has no ON UPDATE clause; a trigger stamps the row instead,
                    # unless the statement itself set the column.
                    statements.append(
                        f'CREATE TRIGGER IF NOT EXISTS "{table}_{col.name}_on_update" '
                        f'AFTER UPDATE ON "{table}" FOR EACH ROW '
                        f'WHEN NEW."{col.name}" IS OLD."{col.name}" BEGIN '
                        f'UPDATE "{table}" SET "{col.name}" = datetime(\'now\',\'localtime\') '
                        f'WHERE "{pk}" = NEW."{pk}"; END'
                    )
    return statements


def filled_row(table, values):
    """`values` plus ITFlow's empty value for every NOT NULL column that has no default,
    so that an insert succeeds under MySQL's strict mode the way ITFlow's own inserts do."""
    row = dict(values)  # every given value, including columns of later layouts (api_key_user_id)
    for col in tables().get(table, ()):
        if col.name not in row and not col.nullable and col.default is None and not col.auto_increment:
            empty = col.empty_value()
            if empty is not None:
                row[col.name] = empty
    return row


def seed_rows(version=None):
    """(table, key column, row) for what ITFlow's setup writes; inserted only when absent.
    With a `version`, settings say so (config_current_database_version), as ITFlow's do."""
    settings = {"company_id": 1, "config_ticket_prefix": "TCK-", "config_ticket_next_number": 1}
    if version:
        settings["config_current_database_version"] = version
    seeds = [
        ("companies", "company_id", {"company_id": 1, "company_name": "My Company", "company_currency": "USD"}),
        ("settings", "company_id", settings),
    ]
    for module_id, (name, description) in enumerate(PERMISSION_MODULES, start=1):
        seeds.append(("modules", "module_name", {"module_id": module_id, "module_name": name,
                                                 "module_description": description}))
    for status_id, name, color, order in TICKET_STATUSES:
        seeds.append(("ticket_statuses", "ticket_status_id", {
            "ticket_status_id": status_id, "ticket_status_name": name,
            "ticket_status_color": color, "ticket_status_active": 1, "ticket_status_order": order,
        }))
    return [(table, key, filled_row(table, row)) for table, key, row in seeds]
