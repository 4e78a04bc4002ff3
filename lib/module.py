"""Module definitions: what a module *is*, as data (table, columns, fields, look-ups, rules).

Generic operations in crud.py read these; per-module behaviour that is not data (an
asset's primary interface, a ticket's number) is a Hooks subclass beside the definition.
The same definitions feed the endpoint table in the README and the docs.
"""
from dataclasses import dataclass, field
from typing import Callable, Optional

from .fields import PARSERS

# What a field that is not sent gets on create (api-v1.md section 5): '' for text,
# 0 for ids and flags, NULL for dates.
_EMPTY = {"text": "", "html": "", "phone": "", "int": 0, "flag": 0, "decimal": 0,
          "date": None, "datetime": None, "time": None}


@dataclass(frozen=True)
class Field:
    name: str                      # request name; also the column unless `column` is set
    kind: str = "text"             # a parser name from fields.PARSERS
    description: str = ""
    required: bool = False         # on create
    column: Optional[str] = None   # where it is stored, when it differs from the name
    default: object = "__empty__"  # on create, when not sent
    stored: bool = True            # False: handled by hooks only (e.g. asset_ip)
    transform: Optional[Callable] = None  # applied after parsing (e.g. strip "https://")

    def __post_init__(self):
        if self.kind not in PARSERS:
            raise ValueError(f"field {self.name}: unknown kind {self.kind!r}")

    @property
    def target(self):
        return self.column or self.name

    @property
    def empty(self):
        return _EMPTY[self.kind] if self.default == "__empty__" else self.default

    def parse(self, value):
        parsed = PARSERS[self.kind](self.name, value)
        return self.transform(parsed) if self.transform and parsed is not None else parsed


@dataclass(frozen=True)
class Lookup:
    """A read parameter that selects records: WHERE <column> = <value>."""
    param: str
    kind: str = "text"
    column: Optional[str] = None
    single: bool = False                     # by id: that one record, no paging
    transform: Optional[Callable] = None     # applied to the parsed value
    description: str = ""

    @property
    def target(self):
        return self.column or self.param


class Hooks:
    """Per-module behaviour around the generic operations. Each hook runs inside the
    request's transaction; raising an ApiError refuses the write and undoes it all."""

    def before_create(self, call, module, values):
        pass

    def after_create(self, call, module, record_id, values):
        pass

    def before_update(self, call, module, current, values):
        pass

    def after_update(self, call, module, current, values):
        pass

    def before_delete(self, call, module, current):
        pass

    def on_archive(self, call, module, current, archived):
        pass

    def read_row(self, call, module, row):
        """Adjust a row before it is returned (e.g. decrypt). Return None to hide it."""
        return row


@dataclass
class Module:
    name: str                       # URL segment, e.g. "assets"
    table: str
    id_column: str
    client_column: Optional[str]    # None: not client-scoped
    entity: str                     # log_type, e.g. "Asset"
    name_column: str                # names the record in log descriptions
    fields: list = field(default_factory=list)
    lookups: list = field(default_factory=list)
    archived_column: Optional[str] = None
    list_from: Optional[str] = None    # FROM clause for list reads (joins), default the table
    single_from: Optional[str] = None  # FROM clause for by-id reads
    create_needs_all_clients_key: bool = False
    hooks: Hooks = field(default_factory=Hooks)
    description: str = ""

    def field(self, name):
        return next(f for f in self.fields if f.name == name)

    @property
    def required(self):
        return [f.name for f in self.fields if f.required]
