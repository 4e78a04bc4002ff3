"""The data-access layer itself (lib/db/database.py), on whichever backend the run uses."""
import pytest
from helpers import BACKEND, admin_connection

from itflow_api.lib.db.errors import DatabaseError, ValueRefused


def _client(db, **columns):
    with db.transaction(write=True):
        return db.insert("clients", {"client_name": "Same", "client_rate": "10.50", "client_net_terms": 5,
                                     **columns})


def _update(db, values, client):
    with db.transaction(write=True):
        return db.update("clients", values, {"client_id": client})


def _stored(db, client, column):
    with db.transaction():
        return db.scalar(f"SELECT {column} FROM clients WHERE client_id = :id", {"id": client})


@pytest.mark.parametrize("values", [
    {"client_name": "Same"},
    {"client_net_terms": 5},
    {"client_net_terms": "5"},          # a numeric string for an integer column
    {"client_rate": "10.5"},            # DECIMAL(15,2) holds 10.50 already
    {"client_rate": 10.5},
    {"client_type": None},              # NULL to NULL
    {"client_name": "Same", "client_net_terms": "5", "client_rate": "10.50"},
])
def test_update_that_changes_nothing_counts_zero(db, values):
    client = _client(db)
    assert _update(db, values, client) == 0


@pytest.mark.parametrize("values, column, expected", [
    ({"client_name": "same"}, "client_name", "same"),  # case only: MySQL compares the bytes
    ({"client_name": "Same "}, "client_name", "Same "),
    ({"client_net_terms": "6"}, "client_net_terms", "6"),
    ({"client_rate": "10.51"}, "client_rate", "10.51"),
    ({"client_type": ""}, "client_type", ""),        # NULL to empty is a change
    ({"client_name": "Same", "client_type": "x"}, "client_type", "x"),  # one of two changes
])
def test_update_that_changes_a_value_counts_one(db, values, column, expected):
    client = _client(db)
    assert _update(db, values, client) == 1
    assert _stored(db, client, column) == expected
    assert _update(db, values, client) == 0  # the same update again changes nothing


def test_update_counts_only_the_rows_it_changed(db):
    a, b, c = _client(db, client_type="x"), _client(db, client_type="y"), _client(db, client_type="x")
    with db.transaction(write=True):
        assert db.update("clients", {"client_type": "x"}, {"client_name": "Same"}) == 1
        assert db.update("clients", {"client_type": "z"}, {"client_name": "Same"}) == 3
    assert [_stored(db, i, "client_type") for i in (a, b, c)] == ["z", "z", "z"]


def test_update_without_values_counts_zero_and_writes_nothing(db):
    client = _client(db)
    assert _update(db, {}, client) == 0
    assert _stored(db, client, "client_updated_at") is None


def test_update_of_a_missing_row_counts_zero(db):
    assert _update(db, {"client_name": "Nobody"}, 999999) == 0


def test_unchanged_update_leaves_updated_at_alone_and_a_change_stamps_it(db):
    client = _client(db)
    _update(db, {"client_name": "Same"}, client)
    assert _stored(db, client, "client_updated_at") is None
    _update(db, {"client_name": "Changed"}, client)
    assert _stored(db, client, "client_updated_at") is not None


# --- values the database refuses: typed, naming the column --------------------------------

def test_an_integer_too_large_for_its_column_is_refused_naming_it(db):
    with pytest.raises(ValueRefused) as refused, db.transaction(write=True):
        db.insert("clients", {"client_name": "Big", "client_net_terms": 10 ** 20})
    assert refused.value.column == "client_net_terms"
    assert "client_net_terms" in str(refused.value) and "range" in str(refused.value)
    with db.transaction():
        assert db.count("clients", {}) == 0


def test_an_update_with_an_integer_too_large_is_refused_naming_it(db):
    client = _client(db)
    with pytest.raises(ValueRefused) as refused:
        _update(db, {"client_net_terms": 10 ** 20}, client)
    assert refused.value.column == "client_net_terms"
    assert _stored(db, client, "client_net_terms") == "5"


@pytest.mark.skipif(BACKEND != "mysql", reason="SQLite stores any length; the field layer refuses it first")
def test_text_too_long_for_its_column_is_refused_naming_it(db):
    with pytest.raises(ValueRefused) as refused, db.transaction(write=True):
        db.insert("clients", {"client_name": "x" * 201})
    assert refused.value.column == "client_name" and "too long" in str(refused.value)


# --- connections: autocommit reads, reconnect for reads only -------------------------------

mysql_only = pytest.mark.skipif(BACKEND != "mysql", reason="connection handling of MySQL/MariaDB")


def _kill(connection_id):
    with admin_connection() as conn, conn.cursor() as cur:
        cur.execute(f"KILL {int(connection_id)}")


@mysql_only
def test_a_read_block_opens_no_transaction_and_a_write_block_one(db):
    with db.transaction():
        assert db.scalar("SELECT @@in_transaction AS t") == "0"
    with db.transaction(write=True):  # on MySQL the first statement that reads a table begins it
        db.count("clients", {"client_id": 0})
        assert db.scalar("SELECT @@in_transaction AS t") == "1"
        with db.transaction():  # a nested read joins the write
            assert db.scalar("SELECT @@in_transaction AS t") == "1"
    with db.transaction():
        with db.transaction(write=True):  # a write inside a read is a transaction of its own
            assert db.scalar("SELECT @@in_transaction AS t") == "1"
        assert db.scalar("SELECT @@in_transaction AS t") == "0"


@mysql_only
def test_a_read_on_a_connection_killed_while_idle_runs_again_on_a_new_one(db):
    with db.transaction():
        first = db.scalar("SELECT CONNECTION_ID() AS id")
    _kill(first)
    with db.transaction():
        assert db.scalar("SELECT CONNECTION_ID() AS id") != first
        assert db.count("companies", {}) == 1


@mysql_only
def test_a_write_block_on_a_connection_killed_while_idle_starts_over_at_begin(db):
    with db.transaction():
        first = db.scalar("SELECT CONNECTION_ID() AS id")
    _kill(first)
    with db.transaction(write=True):
        db.insert("clients", {"client_name": "After kill"})
    with db.transaction():
        assert db.count("clients", {"client_name": "After kill"}) == 1


@mysql_only
def test_a_write_is_never_replayed_when_its_connection_dies(db):
    with pytest.raises(DatabaseError), db.transaction(write=True):
        db.insert("clients", {"client_name": "First"})
        _kill(db.scalar("SELECT CONNECTION_ID() AS id"))
        db.insert("clients", {"client_name": "Second"})
    with db.transaction():  # the server rolled the transaction back; nothing was sent twice
        assert db.count("clients", {}) == 0
        db.insert("clients", {"client_name": "Later"})  # and the layer carries on
    with db.transaction():
        assert [r["client_name"] for r in db.rows("SELECT client_name FROM clients")] == ["Later"]


def test_schema_inspection_without_sqlalchemy(db):
    assert {"clients", "api_keys", "settings"} <= db.table_names()
    assert db.columns_of("clients")[:3] == ["client_id", "client_lead", "client_name"]
    assert db.columns_of("no_such_table") == []


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's own limits")
def test_a_statement_past_sqlite_limits_is_refused_not_an_outage(db):
    order = ", ".join(["client_id"] * 70000)
    with pytest.raises(ValueRefused) as refused, db.transaction():
        db.rows(f"SELECT client_id FROM clients ORDER BY {order}")
    assert refused.value.column is None and "too many terms" in str(refused.value)


@pytest.mark.parametrize("name", [
    "O'Brien \\ \"quoted\" %s %(x)s", "zero\x00byte", "emoji 😀 and é", "-- ; DROP TABLE clients", "",
])
def test_bound_values_are_stored_exactly_as_given(db, name):
    client = _client(db, client_name=name, client_net_terms=-7, client_rate=12.25, client_type=None)
    with db.transaction():
        row = db.row("SELECT client_name, client_net_terms, client_rate, client_type FROM clients "
                     "WHERE client_id = :id AND client_name = :name", {"id": client, "name": name})
    assert row == {"client_name": name, "client_net_terms": "-7", "client_rate": "12.25", "client_type": None}


def _count(db, table):
    return int(db.scalar(f"SELECT COUNT(*) FROM {table}"))


def test_rows_held_for_later_go_in_at_commit_and_not_at_all_on_rollback(db):
    before = _count(db, "logs")
    with db.transaction(write=True):
        db.insert_later("logs", {"log_type": "Test", "log_action": "One", "log_description": "a"})
        db.insert_later("logs", {"log_type": "Test", "log_action": "Two", "log_description": "b",
                                 "log_client_id": 3})  # another set of columns: its own INSERT
        db.insert_later("asset_history", {"asset_history_description": "c", "asset_history_asset_id": 1})
        # A statement that names the table sees what is held for it; others leave it held.
        assert _count(db, "clients") == 0
        assert _count(db, "logs") == before + 2
    with db.transaction():
        assert [r["log_action"] for r in db.rows("SELECT log_action FROM logs ORDER BY log_id")][-2:] == ["One", "Two"]
        assert _count(db, "asset_history") == 1
    with pytest.raises(RuntimeError), db.transaction(write=True):
        db.insert_later("logs", {"log_type": "Test", "log_action": "Three", "log_description": "c"})
        raise RuntimeError("undone")
    with db.transaction():
        assert _count(db, "logs") == before + 2


def test_a_savepoint_undoes_its_own_rows_and_held_rows_only(db):
    with db.transaction(write=True):
        db.insert("clients", {"client_name": "Kept"})
        db.insert_later("logs", {"log_type": "Test", "log_action": "Kept", "log_description": "a"})
        with pytest.raises(ValueError), db.savepoint():
            db.insert("clients", {"client_name": "Undone"})
            db.insert_later("logs", {"log_type": "Test", "log_action": "Undone", "log_description": "b"})
            raise ValueError("refused")
        with db.savepoint():
            db.insert("clients", {"client_name": "Also kept"})
    with db.transaction():
        assert sorted(r["client_name"] for r in db.rows("SELECT client_name FROM clients")) == ["Also kept", "Kept"]
        assert [r["log_action"] for r in db.rows("SELECT log_action FROM logs WHERE log_type = 'Test'")] == ["Kept"]


def test_a_remembered_answer_holds_until_its_table_changes(db):
    asked = []

    def answer():
        asked.append(1)
        return len(asked)

    with db.transaction(write=True):
        assert [db.remember("clients", "k", answer) for _ in range(3)] == [1, 1, 1]
        db.insert("assets", {"asset_name": "PC"})  # another table: still remembered
        assert db.remember("clients", "k", answer) == 1
        db.insert("clients", {"client_name": "New"})
        assert db.remember("clients", "k", answer) == 2
    with db.transaction(write=True):  # a new transaction asks again
        assert db.remember("clients", "k", answer) == 3


def test_the_connector_driver_loads_whatever_was_imported_before_it():
    """mysql-connector's C extension brings its own OpenSSL libraries; a process that loaded
    the system's libcrypto first (`import hashlib`) must still get the connector, not fall back
    to pymysql without a word (lib/db/drivers.py loads Python's ssl module before it)."""
    import subprocess
    import sys
    alone = subprocess.run([sys.executable, "-c", "import _mysql_connector"], capture_output=True)
    if alone.returncode:
        pytest.skip("mysql-connector's C extension does not load here at all")
    probe = ("import hashlib\n"
             "from itflow_api.lib.db import drivers\n"
             "print(drivers.mysql_driver('auto') if drivers.MySQLdb is None else 'connector', "
             "drivers.CONNECTOR_PROBLEM)")
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.split()[0] == "connector", found.stdout
