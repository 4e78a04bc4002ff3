"""Data access: the only module that knows which database it is talking to.

Rows come back as MySQL's text protocol renders them (every value a string, NULL as None),
because that is what PHP's mysqli hands ITFlow and what API clients depend on:

* MySQL/MariaDB: pymysql runs without result decoders, so the server's own text is passed
  through untouched: exact, and cheaper than converting to Python types and back.
* SQLite: values are rendered from the ITFlow column type of the same name (decimals with
  their scale, integers without a fraction, floats as MySQL prints a FLOAT).

SQL is written with :named binds (translated once to the driver's style) and run on the
driver cursor of a pooled connection; identifiers come only from module definitions, never
from a request.
"""
import contextlib
import re
import sqlite3
import threading
import warnings
from decimal import ROUND_HALF_UP, Decimal

import dataset
import pymysql
import sqlalchemy
from sqlalchemy import event

from . import schema


class DatabaseError(Exception):
    """The database could not be reached or refused a statement: a 500/503 for the caller."""


# SQLite reflection of MySQL display widths ("int(11)") warns harmlessly on every table.
warnings.filterwarnings("ignore", message="Could not instantiate type", category=sqlalchemy.exc.SAWarning)

# Encoders only (keyed by Python type): with no decoders pymysql hands back the server's text.
_PYMYSQL_ENCODERS = {k: v for k, v in pymysql.converters.conversions.items() if not isinstance(k, int)}

try:  # optional C driver (pip install 'itflow-api[fast]'): same rows, parsed several times faster
    import MySQLdb
    from MySQLdb.constants import FIELD_TYPE as _F
except ImportError:
    MySQLdb = None


def _mysql_value(value):
    return value.decode("utf-8", "replace") if type(value) is bytes else value


def _mysqlclient_conversions():
    # mysqlclient hands numbers and dates over as bytes when it has no converter for them;
    # decoding them keeps the server's own text, exactly as pymysql gives it.
    # (Measured: it passes numbers to a converter as bytes, decimals and dates already as str.)
    from MySQLdb.converters import conversions
    encoders = {k: v for k, v in conversions.items() if not isinstance(k, int)}  # Python → SQL, kept
    decoders = {getattr(_F, name): bytes.decode
                for name in ("TINY", "SHORT", "INT24", "LONG", "LONGLONG", "FLOAT", "DOUBLE", "YEAR")}
    decoders.update({getattr(_F, name): str for name in ("NEWDECIMAL", "DATE", "TIME", "DATETIME", "TIMESTAMP")})
    decoders[_F.DECIMAL] = _mysql_value  # a legacy type code MariaDB no longer sends; either form is handled
    return {**encoders, **decoders}


def mysql_driver(choice):
    """'pymysql' or 'mysqlclient' for a [database] driver setting of auto/pymysql/mysqlclient."""
    if choice == "auto":
        return "mysqlclient" if MySQLdb is not None else "pymysql"
    if choice == "mysqlclient" and MySQLdb is None:
        raise DatabaseError("driver = mysqlclient, but it is not installed: pip install 'itflow-api[fast]'")
    return choice


def _render_decimal(scale):
    quantum = Decimal(1).scaleb(-scale)

    def render(value):
        if isinstance(value, str):
            value = Decimal(value)
        elif isinstance(value, float):
            value = Decimal(repr(value))
        else:
            value = Decimal(value)
        return str(value.quantize(quantum, rounding=ROUND_HALF_UP))  # as MySQL rounds DECIMAL
    return render


def _render_float(value):
    # MySQL prints a FLOAT with up to 6 significant digits and no trailing zeros.
    return format(float(value), ".6g")


def _render_plain(value):
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _sqlite_renderer(column_name):
    col = schema.column_types().get(column_name)
    if col is not None and col.scale is not None:
        return _render_decimal(col.scale)
    if col is not None and col.base_type in ("float", "double"):
        return _render_float
    return _render_plain


# :name binds, as SQLAlchemy's text() finds them (not '::' casts, not '00:00:00' literals).
_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")
_FOUND_ROWS = 2  # CLIENT_FOUND_ROWS, the same bit in both drivers
_UNAVAILABLE = (pymysql.err.OperationalError, pymysql.err.InterfaceError, sqlite3.OperationalError) + (
    (MySQLdb.OperationalError, MySQLdb.InterfaceError) if MySQLdb is not None else ())
# Columns the server sends as bytes (binary collation); everything else arrives as text.
_BINARY_COLUMNS = {c.name for c in schema.column_types().values() if "binary" in c.type or "blob" in c.type}


class Database:
    def __init__(self, url, dialect, pool_size=8):
        self.dialect = dialect
        self._local = threading.local()
        # Every transaction ends in an explicit commit or rollback (transaction() below), so
        # the pool's own rollback on return would be a wasted round trip per request.
        engine_kwargs = {"pool_pre_ping": True, "hide_parameters": True, "pool_reset_on_return": None}
        if dialect == "mysql":
            conv = _mysqlclient_conversions() if url.startswith("mysql+mysqldb") else _PYMYSQL_ENCODERS
            engine_kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=3600,
                                 connect_args={"conv": conv})
        else:
            engine_kwargs.update(pool_size=pool_size, max_overflow=pool_size,
                                 connect_args={"timeout": 30, "check_same_thread": False})
        self._ds = dataset.connect(url, ensure_schema=False, engine_kwargs=engine_kwargs)
        if dialect == "mysql":
            @event.listens_for(self._ds.engine, "do_connect")
            def _rows_changed(dialect_, conn_rec, cargs, cparams):
                # SQLAlchemy adds CLIENT_FOUND_ROWS; without it an UPDATE reports the rows it
                # changed, as it does for ITFlow (PHP's mysqli never sets the flag).
                cparams["client_flag"] = cparams.get("client_flag", 0) & ~_FOUND_ROWS
        if dialect == "sqlite":
            self._take_over_sqlite_transactions(self._ds.engine)
        self._renderers = {}
        self._statements = {}

    @classmethod
    def from_config(cls, dbconf):
        if dbconf.backend == "mysql":
            scheme = "mysql+mysqldb" if mysql_driver(dbconf.driver) == "mysqlclient" else "mysql+pymysql"
            url = sqlalchemy.URL.create(
                scheme, username=dbconf.user, password=dbconf.password or None,
                host=dbconf.host, port=dbconf.port, database=dbconf.name, query={"charset": "utf8mb4"},
            )
            return cls(url.render_as_string(hide_password=False), "mysql", dbconf.pool_size)
        return cls(f"sqlite:///{dbconf.path}", "sqlite", dbconf.pool_size)

    def _take_over_sqlite_transactions(self, engine):
        # pysqlite's own transaction handling begins lazily and cannot take the write lock up
        # front; a write request must hold it from its first read (ticket numbers, duplicate
        # checks), so we emit BEGIN ourselves: IMMEDIATE for writes, deferred for reads.
        @event.listens_for(engine, "connect")
        def _no_driver_transactions(dbapi_connection, _record):
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE" if getattr(self._local, "write", False) else "BEGIN")

    # --- transactions ----------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, write=False):
        """One unit of work on this thread's connection: committed on success, rolled back
        on any exception. Nested calls join the outer transaction."""
        outer = not self._ds.in_transaction
        if outer:
            self._local.write = write
        try:
            self._ds.begin()
        except sqlalchemy.exc.SQLAlchemyError as exc:
            self._ds._release_connection()
            raise DatabaseError(str(exc.orig if hasattr(exc, "orig") else exc)) from exc
        try:
            yield self
        except BaseException:
            self._ds.rollback()
            raise
        else:
            self._ds.commit()

    # --- statements ----------------------------------------------------------------------

    def _cursor(self, sql, params):
        """Run `sql` on this thread's pooled connection, inside the transaction SQLAlchemy
        (through dataset) keeps for it, and hand back the driver's cursor. Going to the
        driver directly skips SQLAlchemy's per-statement compile and result wrapping, which
        cost more than the query itself on short reads; the statement text is translated to
        the driver's parameter style once and remembered."""
        connection = self._ds.executable
        if not connection.in_transaction():
            connection.begin()
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            cursor.execute(self._native(sql), params or {})
        except _UNAVAILABLE as exc:  # lost connection, locked database: worth a retry later
            cursor.close()
            raise DatabaseError(type(exc).__name__) from exc
        except Exception:
            cursor.close()
            raise
        return cursor

    def _native(self, sql):
        found = self._statements.get(sql)
        if found is None:
            if self.dialect == "mysql":  # pyformat: %(name)s, literal % doubled
                found = _BIND.sub(r"%(\1)s", sql.replace("%", "%%"))
            else:  # sqlite3 reads :name itself
                found = sql
            if len(self._statements) < 4096:
                self._statements[sql] = found
        return found

    def rows(self, sql, params=None):
        """All rows as dicts of MySQL-rendered strings, in column order."""
        cursor = self._cursor(sql, params)
        try:
            keys = [d[0] for d in cursor.description]
            raw = cursor.fetchall()
        finally:
            cursor.close()
        if self.dialect == "mysql":
            binary = [i for i, k in enumerate(keys) if k in _BINARY_COLUMNS]
            if not binary:
                return [dict(zip(keys, row)) for row in raw]
            rows = []
            for row in raw:
                values = list(row)
                for i in binary:
                    values[i] = _mysql_value(values[i])
                rows.append(dict(zip(keys, values)))
            return rows
        renderers = [self._renderer(k) for k in keys]
        return [
            {k: (None if v is None else (v if type(v) is str else r(v))) for k, r, v in zip(keys, renderers, row)}
            for row in raw
        ]

    def _renderer(self, name):
        found = self._renderers.get(name)
        if found is None:
            found = self._renderers[name] = _sqlite_renderer(name)
        return found

    def row(self, sql, params=None):
        found = self.rows(sql, params)
        return found[0] if found else None

    def scalar(self, sql, params=None):
        found = self.row(sql, params)
        return None if found is None else next(iter(found.values()))

    # --- writes ------------------------------------------------------------------------

    def execute(self, sql, params=None):
        """Run a statement; returns the number of rows it matched."""
        cursor = self._cursor(sql, params)
        cursor.close()
        return cursor.rowcount

    def insert(self, table, values):
        """Insert one row (NOT NULL columns without default get ITFlow's empty value); returns its id.

        Written here rather than through dataset's Table.insert: its reflected column types
        would convert (and on SQLite refuse) the MySQL-style text values we store."""
        row = schema.filled_row(table, values)
        names = ", ".join(row)
        binds = ", ".join(f":{c}" for c in row)
        cursor = self._cursor(f"INSERT INTO {table} ({names}) VALUES ({binds})", row)
        cursor.close()
        return cursor.lastrowid

    def update(self, table, values, where):
        """Set `values` on the rows matching every `where` column; returns the number of rows
        CHANGED, as MySQL counts them for ITFlow: a row already holding every value counts 0
        (5 for '5' and '10.5' for a stored 10.50 are no change; a change of case is one).
        No values: 0."""
        if not values:
            return 0
        sets = ", ".join(f"{c} = :v_{c}" for c in values)
        conds = " AND ".join(f"{c} = :w_{c}" for c in where) or "1 = 1"
        if self.dialect == "sqlite":
            # SQLite counts every row it matched, so leave out the rows that would not change.
            # IS is null-safe and compares with the column's affinity (5 IS '5'); BINARY
            # overrides the NOCASE text columns, as MySQL compares the stored bytes.
            same = " AND ".join(f"{c} IS :v_{c} COLLATE BINARY" for c in values)
            conds += f" AND NOT ({same})"
        params = {f"v_{c}": v for c, v in values.items()}
        params.update({f"w_{c}": v for c, v in where.items()})
        return self.execute(f"UPDATE {table} SET {sets} WHERE {conds}", params)

    def delete(self, table, where):
        conds = " AND ".join(f"{c} = :w_{c}" for c in where)
        return self.execute(f"DELETE FROM {table} WHERE {conds}", {f"w_{c}": v for c, v in where.items()})

    def count(self, table, where):
        conds = " AND ".join(f"{c} = :w_{c}" for c in where) or "1 = 1"
        return int(self.scalar(f"SELECT COUNT(*) AS n FROM {table} WHERE {conds}",
                               {f"w_{c}": v for c, v in where.items()}))

    # --- schema ------------------------------------------------------------------------

    def table_names(self):
        return set(sqlalchemy.inspect(self._ds.engine).get_table_names())

    def columns_of(self, table):
        return [c["name"] for c in sqlalchemy.inspect(self._ds.engine).get_columns(table)]

    def create_schema(self, layout=schema.LAYOUT_CLIENT_KEYS, version=None):
        """Create every ITFlow table that is missing and the seed rows that are missing.
        `layout` picks the api_keys columns of ITFlow 2.4.6 ("client") or 2.4.7+ ("user");
        version=schema.NEWEST_VERSION creates the newest ITFlow's tables (SLAs) instead."""
        with self.transaction(write=True):
            for statement in schema.create_statements(self.dialect, layout, version):
                self.execute(statement)
        with self.transaction(write=True):
            for table, key, row in schema.seed_rows(version):
                if not self.count(table, {key: row[key]}):
                    self.insert(table, row)

    def close(self):
        self._ds.close()
