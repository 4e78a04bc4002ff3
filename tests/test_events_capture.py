"""Event capture (lib/events/capture.py): the triggers `init-db --events` installs see every
write to the served tables, made by plain SQL as ITFlow's pages make them, or through the
API; `--no-events` removes them; `version` says which. On a database of its own, so that
the rest of the suite runs without triggers."""
import secrets

import pytest
from helpers import BACKEND, SECRET, Api, fresh_config, make_key, point_cli_at

from itflow_api.lib import cli
from itflow_api.lib.access.keys import KeyStore
from itflow_api.lib.db.database import Database
from itflow_api.lib.events import capture, feed
from itflow_api.lib.itflow import schema
from itflow_api.lib.web.app import create_app

# ITFlow's payments table as a test creates it again (test_a_recreated_table_shows_as_incomplete).
PAYMENTS = {
    "mysql": "CREATE TABLE payments (payment_id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
             "payment_date DATE NOT NULL, payment_amount DECIMAL(15,2) NOT NULL, "
             "payment_archived_at DATETIME NULL, payment_account_id INT NOT NULL DEFAULT 0, "
             "payment_invoice_id INT NOT NULL DEFAULT 0)",
    "sqlite": "CREATE TABLE payments (payment_id INTEGER PRIMARY KEY AUTOINCREMENT, "
              "payment_date DATE NOT NULL, payment_amount DECIMAL(15,2) NOT NULL, "
              "payment_archived_at DATETIME NULL, payment_account_id INT NOT NULL DEFAULT 0, "
              "payment_invoice_id INT NOT NULL DEFAULT 0)",
}


@pytest.fixture(scope="module")
def events_database(tmp_path_factory):
    with fresh_config(tmp_path_factory.mktemp("eventsdb")) as cfg:
        db = Database.from_config(cfg.database)
        db.create_schema()
        capture.install(db)
        yield cfg, db
        db.close()


@pytest.fixture
def edb(events_database):
    """The events database, emptied (its events too) with the triggers installed."""
    _, db = events_database
    capture.install(db)
    with db.transaction(write=True):
        for table in [*schema.tables(), capture.EVENTS]:
            db.execute(f"DELETE FROM {table}")
        db.execute(f"UPDATE {capture.STATE} SET last_seq = 0")
    db.create_schema()
    with db.transaction(write=True):
        db.execute(f"DELETE FROM {capture.EVENTS}")
    return db


def sql(db, statement, **params):
    """A plain statement in a transaction of its own, as ITFlow's pages write."""
    with db.transaction(write=True):
        return db.execute(statement, params)


def new_id(db, table, **values):
    """A plain INSERT (ITFlow's empty values filled in for NOT NULL columns); returns its id."""
    with db.transaction(write=True):
        return db.insert(table, values)


def events(db):
    """Every event row, in assignment order: (module, action, record id, client id)."""
    with db.transaction():
        return [(r["event_module"], r["event_action"], int(r["event_record_id"]), int(r["event_client_id"]))
                for r in db.rows(f"SELECT * FROM {capture.EVENTS} ORDER BY event_id")]


def test_install_is_idempotent_and_names_every_trigger(edb):
    assert capture.install(edb) == [c.table for c in capture.CAPTURED]
    assert capture.installed(edb)
    names = capture.installed_triggers(edb)
    assert names == capture.ALL_TRIGGERS
    assert len(names) == 3 * len(capture.CAPTURED)
    assert all(name.startswith("itflow_api_") for name in names)
    assert capture.status(edb).startswith("events: on (45 capture triggers on 15 tables)")


# (module, table, id column, insert SQL naming client :c) for every table with its own client column
OWN_CLIENT = [
    (c.module, c.table, c.id_column, c.client_column, c.archived_column)
    for c in capture.CAPTURED if c.client_column and c.table != "clients"
]


@pytest.mark.parametrize("module,table,id_column,client_column,archived", OWN_CLIENT,
                         ids=[row[0] for row in OWN_CLIENT])
def test_plain_sql_writes_are_captured(edb, module, table, id_column, client_column, archived):
    client = new_id(edb, "clients", client_name="Alpha")
    row = {client_column: client}
    if table == "invoices":
        row.update(invoice_date="2024-01-01", invoice_due="2024-01-31")
    record = new_id(edb, table, **row)
    name_column = next(c.name for c in schema.columns(table) if c.is_text and not c.name.endswith("_at"))
    sql(edb, f"UPDATE {table} SET {name_column} = 'changed' WHERE {id_column} = :id", id=record)
    sql(edb, f"UPDATE {table} SET {archived} = '2024-05-01 10:00:00' WHERE {id_column} = :id", id=record)
    sql(edb, f"UPDATE {table} SET {archived} = NULL WHERE {id_column} = :id", id=record)
    sql(edb, f"DELETE FROM {table} WHERE {id_column} = :id", id=record)
    assert events(edb)[1:] == [(module, action, record, client) for action in
                               ("created", "updated", "archived", "unarchived", "deleted")]


def test_clients_are_their_own_client(edb):
    client = new_id(edb, "clients", client_name="Alpha")
    sql(edb, "UPDATE clients SET client_archived_at = NOW() WHERE client_id = :id" if edb.dialect == "mysql"
        else "UPDATE clients SET client_archived_at = datetime('now') WHERE client_id = :id", id=client)
    sql(edb, "DELETE FROM clients WHERE client_id = :id", id=client)
    assert events(edb) == [("clients", "created", client, client), ("clients", "archived", client, client),
                           ("clients", "deleted", client, client)]


def test_replies_and_payments_take_the_client_of_their_ticket_and_invoice(edb):
    client = new_id(edb, "clients", client_name="Alpha")
    ticket = new_id(edb, "tickets", ticket_subject="s", ticket_client_id=client, ticket_number=1)
    reply = new_id(edb, "ticket_replies", ticket_reply="r", ticket_reply_type="Internal", ticket_reply_by=1,
                   ticket_reply_ticket_id=ticket)
    invoice = new_id(edb, "invoices", invoice_number=1, invoice_date="2024-01-01", invoice_due="2024-01-31",
                     invoice_client_id=client)
    payment = new_id(edb, "payments", payment_date="2024-01-02", payment_amount=10, payment_invoice_id=invoice)
    sql(edb, "DELETE FROM ticket_replies WHERE ticket_reply_id = :id", id=reply)
    sql(edb, "DELETE FROM payments WHERE payment_id = :id", id=payment)
    orphan = new_id(edb, "payments", payment_date="2024-01-02", payment_amount=10, payment_invoice_id=999)
    assert events(edb)[2:] == [
        ("ticket_replies", "created", reply, client), ("invoices", "created", invoice, client),
        ("payments", "created", payment, client), ("ticket_replies", "deleted", reply, client),
        ("payments", "deleted", payment, client), ("payments", "created", orphan, 0)]


def test_an_accessed_at_stamp_is_not_a_change(edb):
    client = new_id(edb, "clients", client_name="Alpha")
    sql(edb, "UPDATE clients SET client_accessed_at = '2024-05-01 10:00:00' WHERE client_id = :id", id=client)
    sql(edb, "UPDATE clients SET client_name = 'alpha' WHERE client_id = :id", id=client)  # case is a change
    assert events(edb) == [("clients", "created", client, client), ("clients", "updated", client, client)]


@pytest.mark.skipif(BACKEND != "sqlite", reason="MariaDB fires UPDATE triggers for unchanged rows too")
def test_sqlite_skips_an_update_that_changed_nothing(edb):
    client = new_id(edb, "clients", client_name="Alpha")
    sql(edb, "UPDATE clients SET client_name = 'Alpha' WHERE client_id = :id", id=client)
    assert events(edb) == [("clients", "created", client, client)]


def test_every_row_of_a_multi_row_statement_is_an_event(edb):
    client = new_id(edb, "clients", client_name="Alpha")
    with edb.transaction(write=True):
        edb.insert_many("contacts", [{"contact_name": f"c{n}", "contact_client_id": client} for n in range(5)])
    sql(edb, "UPDATE contacts SET contact_title = 'x' WHERE contact_client_id = :c", c=client)
    sql(edb, "DELETE FROM contacts WHERE contact_client_id = :c", c=client)
    actions = [e[1] for e in events(edb) if e[0] == "contacts"]
    assert actions == ["created"] * 5 + ["updated"] * 5 + ["deleted"] * 5


def test_a_rolled_back_write_leaves_no_event(edb):
    with pytest.raises(RuntimeError), edb.transaction(write=True):
        edb.insert("clients", {"client_name": "never"})
        raise RuntimeError
    assert events(edb) == []


def test_api_writes_are_captured(edb, events_database):
    cfg, _ = events_database
    keys = KeyStore(edb, SECRET.encode())
    api = Api(create_app(cfg, edb, keys))
    key = make_key(keys)
    client = api.post("clients/create", {"client_name": "Via API"}, key=key)[1]["data"][0]["insert_id"]
    ticket = api.post("tickets/create", {"client_id": client, "ticket_subject": "s", "ticket_details": "d"},
                      key=key)[1]["data"][0]["insert_id"]
    assert ("tickets", "created", ticket, client) in events(edb)
    assert api.post("tickets/update", {"ticket_id": ticket, "ticket_subject": "t"}, key=key)[1]["success"] == "True"
    assert events(edb)[-1] == ("tickets", "updated", ticket, client)


def test_add_event_writes_inside_the_callers_transaction(edb):
    with pytest.raises(RuntimeError), edb.transaction(write=True):
        feed.add_event(edb, "webhooks", "disabled", 7, 3)
        raise RuntimeError
    with edb.transaction(write=True):
        feed.add_event(edb, "webhooks", "disabled", 7, 3)
    assert events(edb) == [("webhooks", "disabled", 7, 3)]


def test_uninstall_stops_capture_and_install_restarts_it(edb):
    dropped = capture.uninstall(edb)
    try:
        assert len(dropped) == 45
        assert not capture.installed(edb) and capture.installed_triggers(edb) == set()
        assert capture.status(edb).startswith("events: off")
        new_id(edb, "clients", client_name="unseen")
        assert events(edb) == []
    finally:
        capture.install(edb)
    client = new_id(edb, "clients", client_name="seen")
    assert events(edb) == [("clients", "created", client, client)]


def test_a_recreated_table_shows_as_incomplete(edb):
    """An ITFlow upgrade that drops and creates a table loses its triggers: version says so."""
    sql(edb, "DROP TABLE payments")
    try:
        with edb.transaction(write=True):
            edb.execute(PAYMENTS[edb.dialect])
        assert capture.installed(edb) is False
        assert "INCOMPLETE" in capture.status(edb) and "payments" in capture.status(edb)
    finally:
        capture.install(edb)
    assert capture.installed(edb)


@pytest.fixture
def cli_env(events_database, monkeypatch):
    cfg, _ = events_database
    point_cli_at(monkeypatch, cfg, SECRET)


def test_cli_init_db_events_and_version(edb, cli_env, capsys):
    try:
        assert cli.main(["init-db", "--no-events"]) == 0
        assert "capture triggers removed" in capsys.readouterr().out
        assert cli.main(["version"]) == 0
        assert "events: off" in capsys.readouterr().out
        for _ in range(2):  # idempotent
            assert cli.main(["init-db", "--events"]) == 0
            assert "Events on: capture triggers on 15 tables" in capsys.readouterr().out
        assert cli.main(["version"]) == 0
        assert "events: on (45 capture triggers on 15 tables)" in capsys.readouterr().out
        assert cli.main(["init-db", "--events", "--no-events"]) == 2
    finally:
        capture.install(edb)


def test_privilege_errors_are_one_clear_line():
    class Denied(Exception):
        pass

    class FakeDb:
        dialect = "mysql"

        def transaction(self):
            raise Denied(2013, "gone")

    binlog = capture._privilege_error(FakeDb(), Denied(1419, "You do not have the SUPER privilege and binary "
                                                             "logging is enabled"))
    assert "log_bin_trust_function_creators" in str(binlog) and "\n" not in str(binlog)
    denied = capture._privilege_error(FakeDb(), Denied(1142, "TRIGGER command denied to user 'itflow'"))
    assert "GRANT TRIGGER" in str(denied)
    assert capture._privilege_error(FakeDb(), Denied(1064, "syntax")) is None


@pytest.mark.skipif(BACKEND != "mysql", reason="MariaDB privileges")
def test_a_user_without_the_trigger_privilege_is_told_what_to_grant(events_database):
    from helpers import admin_connection
    cfg, _ = events_database
    user, password = "itflow_evt_nogrant", "pw-" + secrets.token_hex(6)
    with admin_connection() as conn, conn.cursor() as cur:
        cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        cur.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP ON `{cfg.database.name}`.* TO '{user}'@'%'")
    d = cfg.database
    weak = Database(f"mysql+pymysql://{user}:{password}@{d.host}:{d.port}/{d.name}")
    try:
        with pytest.raises(capture.CaptureError) as refused:
            capture.install(weak)
        assert "GRANT TRIGGER" in str(refused.value) and user in str(refused.value)
        assert "\n" not in str(refused.value)
    finally:
        weak.close()
        with admin_connection() as conn, conn.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
