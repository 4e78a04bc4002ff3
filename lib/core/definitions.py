"""Module definitions: what a module *is*, as data (table, columns, fields, look-ups, rules).

Generic operations in crud.py read these; per-module behaviour that is not data (an
asset's primary interface, a ticket's number) is a Hooks subclass beside the definition.
The same definitions feed the endpoint table in the README and the docs.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..itflow import schema
from .values import PARSERS, fit

if TYPE_CHECKING:
    from .endpoint import Call

Row = dict[str, Any]

# What a field that is not sent gets on create (docs/contract.md section 5): '' for text,
# 0 for ids and flags, NULL for dates.
_EMPTY = {"text": "", "html": "", "phone": "", "int": 0, "flag": 0, "decimal": 0,
          "date": None, "datetime": None, "time": None, "list": [], "ids": None, "lines": None}


# Field.limits value for a field whose stored form is checked by its hooks (encrypted text).
CHECKED_BY_HOOKS = "(checked by hooks)"


@dataclass(frozen=True)
class Field:
    name: str                      # request name; also the column unless `column` is set
    kind: str = "text"             # a parser name from fields.PARSERS
    description: str = ""
    required: bool = False         # on create
    column: str | None = None   # where it is stored, when it differs from the name
    default: object = "__empty__"  # on create, when not sent
    stored: bool = True            # False: handled by hooks only (e.g. asset_ip)
    transform: Callable | None = None  # applied after parsing (e.g. strip "https://")
    limits: str | None = None   # the column whose type and size bound it, when not `target`
    references: str | None = None   # the table whose record id it holds (0: none)
    secret: bool = False            # stored encrypted: never filtered, sorted or shown without the password

    def __post_init__(self) -> None:
        if self.kind not in PARSERS:
            raise ValueError(f"field {self.name}: unknown kind {self.kind!r}")

    @property
    def target(self) -> str:
        return self.column or self.name

    @property
    def empty(self) -> Any:
        return _EMPTY[self.kind] if self.default == "__empty__" else self.default

    @property
    def column_spec(self) -> schema.Column | None:
        """The layout's Column this field is stored in (None for a value no column holds)."""
        return schema.column_types().get(self.limits or self.target)

    def parse(self, value: Any) -> Any:
        parsed = PARSERS[self.kind](self.name, value)
        if self.transform and parsed is not None:
            parsed = self.transform(parsed)
        return fit(self.name, self.column_spec, parsed)


@dataclass(frozen=True)
class Lookup:
    """A read parameter that selects records: WHERE <column> = :lookup (or `condition`)."""
    param: str
    kind: str = "text"
    column: str | None = None
    single: bool = False                     # by id: that one record, no paging
    first_only: bool = False                 # one row at most (ITFlow's LIMIT 1 look-ups)
    transform: Callable | None = None     # applied to the parsed value
    source: str | None = None             # FROM clause when it is not the bare table (joins)
    condition: str | None = None          # SQL using :lookup, when one column is not enough
    description: str = ""

    @property
    def target(self) -> str:
        return self.column or self.param

    @property
    def where(self) -> str:
        return self.condition or f"{self.target} = :lookup"


class Hooks:
    """Per-module behaviour around the generic operations. Each hook runs inside the
    request's transaction; raising an ApiError refuses the write and undoes it all."""

    def client_exists(self, call: Call, module: Module, client_id: int, values: Row) -> Any:
        """Whether a create of `values` may name this client: falsy when it may not, else
        anything truthy, which the create hands to before_create as `client`. A module whose
        create reads more about the client anyway can answer in that same query and pass
        what it read on (tickets: the prefix and the primary contact)."""
        return call.db.remember("clients", ("exists", client_id),
                                lambda: bool(call.db.count("clients", {"client_id": client_id})))

    def before_create(self, call: Call, module: Module, values: Row, client: Any = None) -> None:
        """`client`: what client_exists answered for the create's client (None: no client)."""

    def after_create(self, call: Call, module: Module, record_id: int, values: Row) -> None:
        pass

    def before_update(self, call: Call, module: Module, current: Row, values: Row) -> None:
        pass

    def after_update(self, call: Call, module: Module, current: Row, values: Row) -> None:
        pass

    def before_delete(self, call: Call, module: Module, current: Row) -> None:
        pass

    def on_archive(self, call: Call, module: Module, current: Row, archived: bool) -> None:
        pass

    def before_read(self, call: Call, module: Module) -> None:
        pass

    def display_name(self, module: Module, row: Row) -> str:
        """How the record is named in log lines."""
        return row.get(module.name_column) or ""

    def created_log_name(self, module: Module, name: str) -> str:
        """The record's log row on create: its name, as most of ITFlow's creates log it."""
        return name

    def read_row(self, call: Call, module: Module, row: Row) -> Row | None:
        """Adjust a row before it is returned (e.g. decrypt). Return None to hide it."""
        return row

    @property
    def adjusts_rows(self) -> bool:
        """Whether read_row is overridden (a list read skips the call per row otherwise)."""
        return type(self).read_row is not Hooks.read_row


@dataclass(eq=False)  # compared and hashed by identity: one definition per module
class Module:
    name: str                       # URL segment, e.g. "assets"
    table: str
    id_column: str
    client_column: str | None    # None: not client-scoped
    entity: str                     # log_type, e.g. "Asset"
    name_column: str                # names the record in log descriptions
    fields: list = field(default_factory=list)
    lookups: list = field(default_factory=list)
    archived_column: str | None = None
    list_from: str | None = None    # FROM clause for reads without a look-up (joins)
    select: str = "*"                  # what reads return (joined reads may want table.* only)
    order_by: str | None = None     # list order, default the id column
    lookup_required: str | None = None  # message of the 400 when a read names no look-up
    read_notes: str = ""               # read filters beyond look-ups, for the endpoint table
    create_needs_all_clients_key: bool = False
    client_optional: bool = False      # create may leave the client at 0 (tickets, documents)
    update_counts_found: bool = False  # update answers 1 even when nothing changed (ITFlow's documents)
    # Its creates, updates and deletes touch only their own record and rows of its own (no
    # running number, no "primary" flag moved between records): a batch may run them side by
    # side (lib/web/batch.py).
    independent_writes: bool = False
    # The columns ITFlow's update model rewrites from the stored row when they are not sent
    # (its UPDATE names them all), so a stored NULL comes back as '' (text) or 0 (numbers).
    # None: those its create writes (lib/itflow/create_columns.py), for modules ITFlow has no
    # update for. docs/contract.md section 5.
    update_model: tuple[str, ...] | None = None
    hooks: Hooks = field(default_factory=Hooks)
    description: str = ""
    # What the table holds, for a module whose table only some ITFlow databases have (one
    # made by init-db in the 2.4.6 layout has no recurring_tickets): every call on such a
    # database is refused, naming the table, and changes nothing.
    not_in_every_database: str = ""

    @property
    def secret_columns(self) -> tuple[str, ...]:
        """The columns stored encrypted, in field order (credentials' username and password)."""
        return tuple(f.target for f in self.fields if f.secret)

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields if f.required]


# --- fields from the table layout ---------------------------------------------------------

_KIND_OF_TYPE = {"int": "int", "smallint": "int", "mediumint": "int", "bigint": "int", "decimal": "decimal",
                 "float": "decimal", "double": "decimal", "date": "date", "datetime": "datetime", "time": "time"}
_MANAGED_SUFFIXES = ("_created_at", "_updated_at", "_archived_at", "_accessed_at")


def _kind_of(column: schema.Column) -> str:
    if column.type == "tinyint(1)":
        return "flag"
    return _KIND_OF_TYPE.get(column.base_type, "text")


def table_fields(table: str, client_column: str | None = None, skip: tuple[str, ...] = (),
                 overrides: dict[str, dict[str, Any]] | None = None, extra: Sequence[Field] = (),
                 references: dict[str, str] | None = None) -> list[Field]:
    """Every writable column of `table` as a Field (kind from its type), in table order.

    Left out: the id, the client column, timestamps the server manages (created, updated,
    archived, accessed) and `skip`. `overrides` maps a column to Field keyword arguments;
    `extra` adds request fields that are not columns of the table (handled by hooks).
    `references` maps a column to the table whose record id it holds: a write may only name
    a record of its own client (or one shared by all, client 0)."""
    overrides = {name: dict(options) for name, options in (overrides or {}).items()}
    for name, target in (references or {}).items():
        overrides.setdefault(name, {})["references"] = target
    found = []
    for column in schema.columns(table):
        name = column.name
        if column.auto_increment or name == client_column or name in skip or name.endswith(_MANAGED_SUFFIXES):
            continue
        options: dict[str, Any] = {"kind": _kind_of(column)}
        if column.default not in (None, "current_timestamp()"):
            # A declared default (document_client_visible = 1, product_type 'service') beats
            # the kind's empty value when the field is not sent.
            literal = column.default.strip("'")
            options["default"] = int(literal) if options["kind"] in ("int", "flag") else literal
        options.update(overrides.get(name, {}))
        found.append(Field(name, **options))
    unknown = set(overrides) - {f.name for f in found}
    if unknown:
        raise ValueError(f"{table}: overrides for columns it does not have: {sorted(unknown)}")
    return found + list(extra)
