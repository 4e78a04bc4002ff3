"""Generic read / create / update / delete / archive over a module definition.

Each endpoint file is one line: `endpoint = Read(MODULE)` and so on. Every query carries
the key's client scope; a record outside it is reported exactly like a missing one.
"""
from __future__ import annotations

from typing import Any

from ..itflow import schema
from ..itflow.create_columns import written_on_create
from . import cursors, envelope, filters, versions
from .definitions import Lookup, Module
from .endpoint import Call
from .envelope import BadRequest, Body, NotFound, Refused
from .values import LIST_KINDS, PARSERS, fit, note, now

Row = dict[str, Any]  # a record's columns (or the values of a write) by name


def find_in_scope(call: Call, table: str, id_column: str, record_id: int, client_column: str | None,
                  noun: str, lock: bool = False) -> Row:
    """The row of `table` with that id, if the key may write to it. A row outside a client
    key's scope raises the same NotFound as a missing one; a user key's write to a client the
    user may not reach is ITFlow's 403 (lib/access/scope.py restrict_write).

    `lock`: hold the row until the transaction ends (MariaDB: SELECT ... FOR UPDATE, which
    also reads the newest committed row; SQLite's write transactions hold the whole database
    from their start), so that what is checked against the row is still true at the write."""
    where, params = [f"{id_column} = :record_id"], {"record_id": record_id}
    if client_column:
        call.scope.restrict_write(client_column, where, params)
    # A batch group's updates may have their rows read in one statement (Connections.read_ahead).
    ahead = False if lock else call.db.ahead(table, record_id, where[1:], params)
    if ahead is False:
        sql = f"SELECT * FROM {table} WHERE {' AND '.join(where)}"
        if lock and call.db.dialect == "mysql":
            sql += " FOR UPDATE"
        row: Row | None = call.db.row(sql, params)
    else:
        row = ahead
    if row is None:
        raise NotFound(f"No {noun} with {id_column} {record_id} (for this client and company).")
    if client_column:
        call.scope.check_write(row[client_column])
    return row


def _noun(table: str) -> str:
    """A table's record in a sentence: locations → location, software → software."""
    return table[:-1] if table.endswith("s") else table


def check_references(call: Call, module: Module, values: Row, client_id: int) -> None:
    """Reference fields naming no record, or a record of another client, are stored as 0
    (no reference) and the answer says so; the write itself goes ahead. ITFlow stores any
    id it is sent (its models only intval them, e.g. assets/asset_model.php:131-161), which
    would leave a record pointing into another client; a script that hard-codes "1" must not
    lose its record over it either. 0 means none; records of client 0 (the MSP's own vendors)
    are shared by all clients and may be named by any."""
    for f in module.fields:
        target = values.get(f.name) if f.references else None
        if not target:
            continue
        id_column = schema.primary_key(f.references)
        owner = schema.owner_column(f.references)
        row = call.db.row(f"SELECT {owner} FROM {f.references} WHERE {id_column} = :id", {"id": target})
        if row is None or int(row[owner] or 0) not in (0, int(client_id or 0)):
            values[f.name] = 0
            note(f"{f.name} {target} is not a {_noun(f.references)} of client {int(client_id or 0)} "
                 "and was left empty")


def require_table(call: Call, table: str, what: str) -> None:
    """Refuse, changing nothing, on a database without `table`, a table only newer ITFlow
    databases have (one made by init-db in the 2.4.6 layout has none); asked once per
    transaction. The one place for that refusal: module operations and actions call it."""
    if not call.db.remember("catalogue", ("table", table), lambda: bool(call.db.columns_of(table))):
        raise Refused(f"This database has no {table} table, where ITFlow keeps {what} (a database created "
                      "in the 2.4.6 layout by init-db has none): nothing was read or changed.")


class Operation:
    method = "POST"
    writes = True
    verb = ""

    def __init__(self, module: Module) -> None:
        self.module = module

    @property
    def summary(self) -> str:
        return f"{self.verb} {self.module.name}"

    # --- shared building blocks --------------------------------------------------------

    def check_table(self, call: Call) -> None:
        """Refuse, changing nothing, where the database lacks a table only some ITFlow
        databases have (Module.not_in_every_database)."""
        m = self.module
        if m.not_in_every_database:
            require_table(call, m.table, m.not_in_every_database)

    def record_id(self, call: Call) -> int:
        m = self.module
        column = m.id_column
        if column == m.client_column and call.key.client_id and call.key.user_id is None:
            # A client-scoped key's client writes go to its own client, whatever client_id
            # says (docs/contract.md sections 3 and 6.1), as in ITFlow.
            return call.key.client_id
        if not call.params.has(column) or call.params.get(column) == "":
            raise Refused(f"Missing required field: {column}.")
        return call.params.int(column)

    def current(self, call: Call, record_id: int, lock: bool = False) -> Row:
        """The record as stored, if the key may touch it; otherwise NotFound. `lock`: held
        until the transaction ends (find_in_scope)."""
        m = self.module
        return find_in_scope(call, m.table, m.id_column, record_id, m.client_column, m.entity.lower(), lock)

    def parse_given(self, call: Call) -> Row:
        """{field name: parsed value} for every field the request sends."""
        # A field that takes a list (values.LIST_KINDS) gets the list as sent, not its first element.
        sent, params = call.params.values.get, call.params
        return {f.name: f.parse(sent(f.name) if f.kind in LIST_KINDS else params.get(f.name))
                for f in self.module.fields if sent(f.name) is not None}  # null: not given (Params.has)

    def columns(self, values: Row) -> Row:
        """Request-named values → column-named row (fields handled by hooks are left out)."""
        fields = {f.name: f for f in self.module.fields}
        row = {}
        for name, value in values.items():
            f = fields.get(name)
            if f is None:
                row[name] = value        # a column a hook set directly
            elif f.stored:
                row[f.target] = value
        return row

    def display_name(self, values: Row, current: Row | None = None) -> str:
        return self.module.hooks.display_name(self.module, {**(current or {}), **values})


class Read(Operation):
    method = "GET"
    writes = False
    verb = "Read"

    def __call__(self, call: Call) -> Body:
        m = self.module
        self.check_table(call)
        m.hooks.before_read(call, m)
        where: list[str] = []
        params: dict[str, Any] = {}
        if m.client_column:
            call.scope.restrict(m.client_column, where, params)
        # ITFlow tries its look-ups in a fixed order and uses the first one given.
        lookup = next((lk for lk in m.lookups if call.params.has(lk.param)), None)
        if lookup is None and m.lookup_required:
            raise BadRequest(m.lookup_required)
        source = m.list_from or m.table
        if lookup is not None:
            params["lookup"] = self._lookup_value(lookup, call.params.get(lookup.param))
            where.append(lookup.where)
            source = lookup.source or m.table
        extra_where, extra_params = self.extra_conditions(call)
        query = filters.ReadQuery.from_params(call.params, m)  # filter/sort/fields, ANDed to the scope
        where += extra_where + query.where
        params.update(extra_params, **query.binds)
        single = lookup is not None and lookup.single
        paged = lookup is None or not (lookup.single or lookup.first_only)
        page = Paging.of(call, paged)
        if page is not None:  # cursor= / total=1 (lib/core/cursors.py): opt-in
            rows = page.rows(call, m, source, where, params, query)
        else:
            sql = f"SELECT {m.select} FROM {source}"
            if where:
                sql += " WHERE " + " AND ".join(where)
            order = query.order_by(m.order_by or m.id_column)
            if single:
                pass  # by id: the record itself, no paging
            elif not paged:
                sql += f" ORDER BY {order} LIMIT 1"
            else:
                params["limit"], params["offset"] = call.paging()
                sql += f" ORDER BY {order} LIMIT :limit OFFSET :offset"
            rows = call.db.rows(sql, params)
        if single and rows and lookup is not None:  # before the hooks, which may change the row (decrypt)
            self._describe_record(call, lookup, rows[0])
        if m.hooks.adjusts_rows:
            rows = [r for r in (m.hooks.read_row(call, m, row) for row in rows) if r is not None]
        body = envelope.read_ok(query.project(rows))
        if single:
            if not rows:  # a row the hooks hid has no version to name
                call.headers.pop("ETag", None)
                call.headers.pop("Last-Modified", None)
                call.set_status(200)
        elif page is not None or getattr(call.params, "if_none_match", None) is not None:
            # A list's weak ETag costs an extra encoding of the answer: only when asked for.
            versions.not_modified(call, self._describe_list(call, body))
        return body

    def _describe_record(self, call: Call, lookup: Lookup, row: Row) -> None:
        """ETag and Last-Modified of the record a read by id found, and 304 when If-None-Match
        names it. From the row itself when the read selects the whole table row; otherwise
        (a select of joined columns) one primary-key read of the table row."""
        m = self.module
        if (lookup.source or m.table) == m.table and m.select == "*" or m.select == f"{m.table}.*":
            stored: Row | None = row
        else:
            stored = call.db.row(f"SELECT * FROM {m.table} WHERE {m.id_column} = :record_id",
                                 {"record_id": row[m.id_column]})
        if stored is not None:
            versions.not_modified(call, versions.describe(call, m.table, stored))

    @staticmethod
    def _describe_list(call: Call, body: Body) -> str:
        etag = versions.body_etag(envelope.encode(body))
        call.headers["ETag"] = etag
        return etag

    def extra_conditions(self, call: Call) -> tuple[list[str], dict[str, Any]]:
        """([SQL condition, ...], bind params) a module's read adds (filters beyond look-ups)."""
        return [], {}

    @staticmethod
    def _lookup_value(lookup: Lookup, raw: Any) -> Any:
        value = PARSERS[lookup.kind](lookup.param, raw)
        if lookup.transform:
            value = lookup.transform(value)
        return fit(lookup.param, schema.column_types().get(lookup.target), value)


_TOTAL = "itflow_api_total"  # the COUNT(*) OVER () column, taken off every row


class Paging:
    """A list read's cursor= / total= (docs/paging.md): keyset pages and the matching count."""

    def __init__(self, cursor: str | None, total: bool) -> None:
        self.cursor = cursor  # None: offset paging; "": the first page; else where to continue
        self.total = total

    @classmethod
    def of(cls, call: Call, paged: bool) -> Paging | None:
        """None when the request uses neither (the read is then ITFlow's, unchanged)."""
        values = call.params.values
        if "cursor" not in values and "total" not in values:
            return None
        cursor = values.get("cursor")
        if cursor is not None and not isinstance(cursor, str):
            raise BadRequest("Parameter 'cursor': send the X-Next-Cursor value of the page before, "
                             "or an empty cursor= for the first page.")
        flag = str(values.get("total") or "").strip().lower()
        if flag not in ("", "0", "1", "true", "false", "yes", "no"):
            raise BadRequest(f"Parameter 'total': 1 asks for X-Total-Count, 0 or nothing does not; not {flag!r}.")
        page = cls(cursor, flag in ("1", "true", "yes"))
        if page.cursor is None and not page.total:
            return None
        if not paged:
            raise BadRequest("Parameters 'cursor' and 'total' are for list reads; this look-up answers one record.")
        if page.cursor is not None and any(source.get("offset") is not None
                                           for source in (call.params.query, call.params.body)):
            raise BadRequest("Parameter 'offset' cannot be used with 'cursor': a cursor already says where the "
                             "page starts. Leave offset out (limit still sets the page size).")
        return page

    def rows(self, call: Call, m: Module, source: str, where: list[str], params: dict[str, Any],
             query: filters.ReadQuery) -> list[Row]:
        limit, offset = call.paging()
        continuing = bool(self.cursor)
        # COUNT(*) OVER () counts what the WHERE clause matches before LIMIT: in the same query,
        # except on a page after the first, whose keyset condition leaves earlier rows out.
        windowed = self.total and not continuing and _window_functions(call.db)
        select = f"{m.select}, COUNT(*) OVER () AS {_TOTAL}" if windowed else m.select
        if self.cursor is None:  # total=1 with limit/offset paging
            sql = f"SELECT {select} FROM {source}" + _where(where)
            sql += f" ORDER BY {query.order_by(m.order_by or m.id_column)} LIMIT :limit OFFSET :offset"
            rows = call.db.rows(sql, {**params, "limit": limit, "offset": offset})
            self._count(call, source, where, params, rows, windowed)
            return rows
        columns = filters.filterable_columns(m)
        keyset = cursors.keys(query.sort, m.order_by or m.id_column, m.id_column)
        for name, _ in keyset:
            column = columns.get(name)
            if column is not None and column.base_type in ("float", "double"):
                raise BadRequest(f"Parameter 'sort': {name} holds floating-point numbers, which cannot be paged "
                                 "by cursor; sort by another column or page with offset.")
        mark = cursors.fingerprint(m.name, keyset, where, params)
        page_where, binds = list(where), dict(params)
        if continuing:
            values = cursors.decode(str(self.cursor), m.name, mark, len(keyset))
            page_where.append(cursors.after(m.table, keyset, values, lambda n, v: _typed(columns, n, v), binds))
        sql = (f"SELECT {select} FROM {source}" + _where(page_where)
               + f" ORDER BY {cursors.order_by(m.table, keyset)} LIMIT :limit")
        binds["limit"] = limit + 1 if limit else 0  # one more than asked: is there a next page?
        rows = call.db.rows(sql, binds)
        more = len(rows) > limit
        rows = rows[:limit]
        self._count(call, source, where, params, rows, windowed)
        if more and rows:
            last = rows[-1]
            call.headers["X-Next-Cursor"] = cursors.encode(m.name, mark, [last[name] for name, _ in keyset])
        return rows

    def _count(self, call: Call, source: str, where: list[str], params: dict[str, Any], rows: list[Row],
               windowed: bool) -> None:
        if not self.total:
            return
        if windowed and rows:
            total = rows[0][_TOTAL]
            for row in rows:
                del row[_TOTAL]
        else:  # an empty page, or a page after the first: the count on its own
            total = call.db.scalar(f"SELECT COUNT(*) AS n FROM {source}" + _where(where), params)
        call.headers["X-Total-Count"] = str(int(total or 0))


def _where(conditions: list[str]) -> str:
    return " WHERE " + " AND ".join(conditions) if conditions else ""


def _window_functions(db: Any) -> bool:
    """COUNT(*) OVER (): SQLite 3.25+, MariaDB 10.2+ and MySQL 8 have it."""
    if db.dialect == "sqlite":
        import sqlite3
        return sqlite3.sqlite_version_info >= (3, 25, 0)
    return True


def _typed(columns: dict[str, Any], name: str, value: Any) -> Any:
    """A cursor's value as its column compares it: whole numbers bound as numbers (SQLite then
    compares them as MariaDB does); anything else as the text the database rendered."""
    column = columns.get(name)
    if column is not None and column.is_integer:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise BadRequest("Parameter 'cursor': not a cursor this server gave out. Start again with "
                             "cursor= (empty) for the first page.") from None
    return str(value)


class Create(Operation):
    verb = "Create"

    def __call__(self, call: Call) -> Body:
        m = self.module
        self.check_table(call)
        given = self.parse_given(call)
        # What is not sent is written only where ITFlow's create writes it (create_columns.py);
        # every other column keeps its declared default (mostly NULL).
        listed = written_on_create(m.table)
        values = {f.name: given[f.name] if f.name in given else f.empty for f in m.fields
                  if f.name in given or listed is None or not f.stored or f.target in listed}
        missing = [f.name for f in m.fields if f.required and values.get(f.name) in ("", None)]
        if missing:
            raise Refused(f"Missing required field(s): {', '.join(missing)}.")
        if m.create_needs_all_clients_key and not call.key.all_clients:
            raise Refused(f"Creating {m.name} needs an all-clients API key.")
        if m.client_column and m.client_column != m.id_column:
            client_id = call.scope.write_client
            if not client_id and not m.client_optional:
                raise Refused("Missing required field: client_id (this key is for all clients, "
                              "so the request must name the client).")
            client = m.hooks.client_exists(call, m, client_id, values) if client_id else None
            if client_id and not client:
                raise Refused(f"No client with client_id {client_id}.")
            values[m.client_column] = client_id
        else:
            client = None
        check_references(call, m, values, values.get(m.client_column, 0))
        m.hooks.before_create(call, m, values, client)
        # an id, or in a batch group of creates the id its row gets before the commit (insert_soon)
        record_id = call.db.insert_soon(m.table, self.columns(values))
        m.hooks.after_create(call, m, record_id, values)
        client_id = values.get(m.client_column, 0) if m.client_column != m.id_column else record_id
        name = self.display_name(values)
        call.log_change(m.entity, "Create", m.hooks.created_log_name(m, name), client_id, record_id,
                        f"Created {m.entity.lower()} {name}")
        return envelope.created(record_id)


class RecordOperation(Operation):
    """An operation on one existing record: find it within the scope, change it, log it."""
    action = ""   # log_action of the record's row
    log_type: str | None = None  # log_type of the record's row, when not the module's entity
    past = ""     # how the API row says it: "Edited asset PC-01"

    def __call__(self, call: Call) -> Body:
        m = self.module
        self.check_table(call)
        record_id = self.record_id(call)
        # If-Match / If-Unmodified-Since (lib/core/versions.py): checked against the row locked
        # for this transaction, so two writers naming the same version cannot both win.
        conditions = versions.Conditions.of(call.params)
        current = self.current(call, record_id, lock=conditions is not None)
        if conditions is not None:
            conditions.check(m.table, current, m.secret_columns)
        self.check_state(call, record_id, current)
        count, values = self.apply(call, record_id, current)
        if conditions is not None and self.keeps_record:
            # The version just written, so the client can chain its next conditional write
            # (MariaDB: a locking read, the newest row even when this write changed nothing).
            lock = " FOR UPDATE" if call.db.dialect == "mysql" else ""
            stored = call.db.row(f"SELECT * FROM {m.table} WHERE {m.id_column} = :record_id{lock}",
                                 {"record_id": record_id})
            if stored is not None:
                versions.describe(call, m.table, stored)
        name, api_description = self.describe(current, values)
        call.log_change(self.log_type or m.entity, self.action, name, self.client_of(current),
                        self.log_entity(record_id, current), api_description)
        if not count:
            # ITFlow answers with the rows MySQL reports *changed* in the module's own table;
            # scripts branch on "False" here. What did change elsewhere (an asset's primary
            # interface) is kept and logged, as ITFlow does.
            return envelope.failure(f"No rows changed: {m.entity.lower()} {record_id} already has "
                                    "these values (ITFlow answers \"False\" when nothing changes).")
        return envelope.changed(count)

    keeps_record = True  # False for a delete: no version to answer afterwards

    def check_state(self, call: Call, record_id: int, current: Row) -> None:
        """Refuse the change when the record is not in a state it applies to."""

    def apply(self, call: Call, record_id: int, current: Row) -> tuple[int, Row]:
        """Make the change; returns (rows matched, values written)."""
        raise NotImplementedError

    def describe(self, current: Row, values: Row) -> tuple[str, str]:
        """(name in the record's log row, description of the API row)."""
        name = self.display_name(values, current)
        return name, f"{self.past} {self.module.entity.lower()} {name}"

    def client_of(self, current: Row) -> int:
        return int(current.get(self.module.client_column) or 0) if self.module.client_column else 0

    def log_entity(self, record_id: int, current: Row) -> int:
        """The id the record's logs row names: the record's own, unless ITFlow's page names
        another there (a recurring invoice's line: the recurring invoice)."""
        return record_id


class Update(RecordOperation):
    verb, action, past = "Update", "Edit", "Edited"

    def apply(self, call: Call, record_id: int, current: Row) -> tuple[int, Row]:
        m = self.module
        values = self.parse_given(call)
        values.pop(m.id_column, None)
        for f in m.fields:  # ITFlow's models keep the stored date when an update sends an empty one
            if f.kind in ("date", "datetime") and str(call.params.get(f.name, "x")).strip() in ("", "0"):
                values.pop(f.name, None)
        emptied = [f.name for f in m.fields if f.required and f.name in values and values[f.name] in ("", None)]
        if emptied:
            raise Refused(f"Field(s) cannot be empty: {', '.join(emptied)}.")
        check_references(call, m, values, self.client_of(current))
        m.hooks.before_update(call, m, current, values)
        row = self.columns(values)
        row.update(self.model_rewrite(current, row))
        count = call.db.update(m.table, row, {m.id_column: record_id})
        m.hooks.after_update(call, m, current, values)
        return (count or 1) if m.update_counts_found else count, values


    def model_rewrite(self, current: Row, row: Row) -> Row:
        """What ITFlow's update writes to the model columns not sent: the stored value, but a
        stored NULL as '' for text and 0 for numbers (PHP's isset() is false for NULL: the
        Style A models fall back to the empty value, e.g. assets/asset_model.php; Style B
        escapes it to '', e.g. contacts/contact_model.php). Dates stay NULL, as ITFlow's
        models keep a stored date. So the first update of a record with a NULL there counts
        1, and an identical one after it 0 ("False"), as in ITFlow."""
        m = self.module
        model = m.update_model if m.update_model is not None else written_on_create(m.table)
        types = schema.column_types()
        skip = {m.id_column, m.client_column, *m.secret_columns}
        rewrite: Row = {}
        for column in model or ():
            if column in row or column in skip or current.get(column, "") is not None:
                continue
            spec = types.get(column)
            base = spec.base_type if spec else "varchar"
            if base in ("date", "datetime", "timestamp", "time"):
                continue
            rewrite[column] = 0 if base in _NUMERIC else ""
        return rewrite


_NUMERIC = {"tinyint", "smallint", "mediumint", "int", "bigint", "decimal", "float", "double"}


class Delete(RecordOperation):
    verb, action, past = "Delete", "Delete", "Deleted"
    keeps_record = False

    def apply(self, call: Call, record_id: int, current: Row) -> tuple[int, Row]:
        self.module.hooks.before_delete(call, self.module, current)
        return call.db.delete(self.module.table, {self.module.id_column: record_id}), {}


class Archive(RecordOperation):
    """archive.php / unarchive.php: set or clear the module's *_archived_at."""

    def __init__(self, module: Module, archived: bool = True) -> None:
        super().__init__(module)
        self.archived = archived
        self.verb = self.action = "Archive" if archived else "Unarchive"
        self.past = f"{self.verb}d"

    def check_state(self, call: Call, record_id: int, current: Row) -> None:
        """The record, only in the state the change needs: ITFlow's archive.php looks it up
        with `*_archived_at IS NULL`, unarchive.php with `IS NOT NULL` (clients/archive.php:12-17,
        contacts/archive.php:15-20 and their unarchive.php twins). Otherwise it writes nothing,
        no log row either, and answers "False"."""
        m = self.module
        if m.archived_column and (current.get(m.archived_column) is None) != self.archived:
            state = "already archived" if self.archived else "not archived"
            raise Refused(f"{m.entity} {record_id} is {state}: nothing was changed "
                          "(ITFlow answers \"False\" here and writes nothing).")

    def apply(self, call: Call, record_id: int, current: Row) -> tuple[int, Row]:
        m = self.module
        count = call.db.update(m.table, {m.archived_column: now() if self.archived else None},
                               {m.id_column: record_id})
        m.hooks.on_archive(call, m, current, self.archived)
        return count, {}


def Unarchive(module: Module) -> Archive:
    return Archive(module, archived=False)
