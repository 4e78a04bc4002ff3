"""What the record_*.py recorders share: the database they seed and read, and the page runner.

Each recorder gives its own seed (a {table: [row, ...]} plan, and optionally `settings`), the
tables it resets, its steps and what it dumps; this module connects to the MariaDB database
made from ITFlow's db.sql, fills and writes the seed, runs a page_action*.php runner with
php-cli (page_session.php: an agent's session and CSRF token, the database clock held on one
second) and reads rows back as text.
"""
import os
import subprocess
import sys

import pymysql
import pymysql.converters

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, os.pardir, os.pardir))

from itflow_api.lib.itflow import schema  # noqa: E402

# The tables ITFlow's db.sql seeds (schema.seed_rows), emptied and written again by every recorder.
BASE_RESET = ["companies", "settings", "modules", "ticket_statuses"]


def connect(database):
    return pymysql.connect(host="127.0.0.1", user="root", password="", database=database, autocommit=True,
                           conv=dict(pymysql.converters.encoders))  # values as MySQL's text, like PHP's mysqli


def insert(cursor, table, row):
    names = ", ".join(row)
    cursor.execute(f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(row))})", list(row.values()))


def fill(connection, plan, tables):
    """Each seed row of `tables` with ITFlow's empty value ('' or 0) in every NOT NULL column that
    has no default, as ITFlow's own inserts leave them (the rows are stored filled, for both sides)."""
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute("SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                           "DATABASE() AND TABLE_NAME = %s AND IS_NULLABLE = 'NO' AND COLUMN_DEFAULT IS NULL "
                           "AND EXTRA NOT LIKE '%%auto_increment%%'", [table])
            needed = cursor.fetchall()
            for row in plan[table]:
                for name, kind in needed:
                    row.setdefault(name, 0 if kind in ("int", "tinyint", "decimal", "bigint", "smallint") else "")


def write_seed(connection, plan, reset, tables, settings=None):
    """Empty the `reset` tables (their ids from 1 again), write our schema's seed rows (company 1,
    its settings, modules, ticket statuses), set company 1's `settings` columns if given, and
    insert the plan's rows of `tables`, in that order."""
    with connection.cursor() as cursor:
        for table in reset:
            cursor.execute(f"DELETE FROM {table}")
            cursor.execute(f"ALTER TABLE {table} AUTO_INCREMENT = 1")
        for table, _, row in schema.seed_rows(schema.NEWEST_VERSION):
            insert(cursor, table, row)
        if settings:
            names = ", ".join(f"{k} = %s" for k in settings)
            cursor.execute(f"UPDATE settings SET {names} WHERE company_id = 1", list(settings.values()))
        for table in tables:
            for row in plan[table]:
                insert(cursor, table, row)


def prepare(database, plan, reset, tables, settings=None):
    """A connection to `database` with the seed written: the plan's rows of `tables` filled
    (fill) and written after `reset` is emptied (write_seed)."""
    connection = connect(database)
    fill(connection, plan, tables)
    write_seed(connection, plan, reset, tables, settings)
    return connection


def rows(connection, sql):
    """The rows `sql` selects, each a {column: value as text or None}."""
    with connection.cursor() as cursor:
        cursor.execute(sql)
        names = [d[0] for d in cursor.description]
        return [{n: (None if v is None else str(v)) for n, v in zip(names, row, strict=True)}
                for row in cursor.fetchall()]


def dump(connection, tables):
    """Every row of each table of `tables`, a {table: column to order by} map."""
    return {table: rows(connection, f"SELECT * FROM {table} ORDER BY {order}") for table, order in tables.items()}


def page_env(itflow_root, database):
    """The environment a page_action*.php runner reads: where ITFlow is and its database."""
    return {**os.environ, "ITFLOW_ROOT": itflow_root, "ITFLOW_DB": database}


def run_page(php_file, args, env, label=""):
    """Run the runner `php_file` (a name in this folder) with `args`; the instant the database
    clock was held at (its first line of output) and all it printed."""
    done = subprocess.run(["php", os.path.join(HERE, php_file), *args], env=env, capture_output=True, text=True,
                          timeout=60)
    if done.returncode != 0 or done.stdout.count("\n") < 1:
        raise SystemExit(f"{label}: php answered {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done.stdout.splitlines()[0].strip(), done.stdout
