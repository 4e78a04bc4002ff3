"""Our schema is ITFlow's layout, and rows render as MySQL's text protocol on both backends."""
import json
import os

from helpers import BACKEND

from itflow_api.lib.itflow import schema

LAYOUT = json.load(open(os.path.join(os.path.dirname(__file__), "vectors", "schema-2.4.6.json")))["tables"]


def test_shipped_layout_is_the_contract():
    assert {t: [c.name for c in cols] for t, cols in schema.tables().items()} == \
        {t: [c["name"] for c in cols] for t, cols in LAYOUT.items()}


def test_every_table_has_the_contract_columns_in_order(db):
    assert set(LAYOUT) <= db.table_names()
    for table, cols in LAYOUT.items():
        assert db.columns_of(table) == [c["name"] for c in cols], table


def _normalise_default(value):
    if value is None:
        return None
    return value.strip("'")


def test_types_nullability_and_defaults_match(db):
    if BACKEND == "mysql":
        with db.transaction():
            found = db.rows(
                "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA "
                "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()")
        by_key = {(r["TABLE_NAME"], r["COLUMN_NAME"]): r for r in found}
        for table, cols in LAYOUT.items():
            for col in cols:
                row = by_key[(table, col["name"])]
                assert row["COLUMN_TYPE"] == col["type"], (table, col)
                assert (row["IS_NULLABLE"] == "YES") == col["null"], (table, col)
                assert _normalise_default(row["COLUMN_DEFAULT"]) == _normalise_default(
                    col.get("default") if col.get("default") is not None or not col["null"] else "NULL") \
                    or (row["COLUMN_DEFAULT"] in (None, "NULL") and col.get("default") is None), (table, col, row)
                assert (col.get("extra") or "") in row["EXTRA"], (table, col, row)
    else:
        with db.transaction():
            for table, cols in LAYOUT.items():
                info = {r["name"]: r for r in db.rows(f"PRAGMA table_info({table})")}
                for col in cols:
                    declared = info[col["name"]]
                    expected_type = "TEXT" if col["type"].startswith("enum") else col["type"]
                    if col.get("extra") == "auto_increment":
                        expected_type = "INTEGER"
                    assert declared["type"].lower() == expected_type.lower(), (table, col)
                    if col.get("default") not in (None, "current_timestamp()"):
                        assert declared["dflt_value"] == col["default"], (table, col)


def test_init_twice_is_harmless_and_seeds_once(db):
    db.create_schema()
    db.create_schema()
    with db.transaction():
        statuses = db.rows("SELECT ticket_status_id, ticket_status_name FROM ticket_statuses ORDER BY ticket_status_id")
        settings = db.rows("SELECT company_id, config_ticket_prefix, config_ticket_next_number FROM settings")
        companies = db.rows("SELECT company_id FROM companies")
    assert [(r["ticket_status_id"], r["ticket_status_name"]) for r in statuses] == [
        ("1", "New"), ("2", "Open"), ("3", "On Hold"), ("4", "Resolved"), ("5", "Closed")]
    assert settings == [{"company_id": "1", "config_ticket_prefix": "TCK-", "config_ticket_next_number": "1"}]
    assert companies == [{"company_id": "1"}]


def test_rows_are_strings_as_mysql_renders_them(db):
    with db.transaction(write=True):
        client = db.insert("clients", {"client_name": "Render", "client_rate": "12.5", "client_net_terms": 30})
        db.insert("taxes", {"tax_name": "VAT", "tax_percent": 8.25})
        db.insert("expenses", {"expense_amount": 7, "expense_date": "2024-01-31", "expense_client_id": client})
        row = db.row("SELECT * FROM clients WHERE client_id = :id", {"id": client})
        tax = db.row("SELECT tax_percent FROM taxes")
        expense = db.row("SELECT expense_amount, expense_date, expense_created_at FROM expenses")
    assert row["client_id"] == str(client)
    assert row["client_rate"] == "12.50"
    assert row["client_net_terms"] == "30"
    assert row["client_lead"] == "0"
    assert row["client_updated_at"] is None
    assert len(row["client_created_at"]) == 19 and row["client_created_at"][10] == " "
    assert tax == {"tax_percent": "8.25"}
    assert expense["expense_amount"] == "7.00" and expense["expense_date"] == "2024-01-31"
    assert list(row) == [c["name"] for c in LAYOUT["clients"]]


def test_on_update_stamps_updated_at(db):
    with db.transaction(write=True):
        client = db.insert("clients", {"client_name": "Stamp"})
        db.update("clients", {"client_name": "Stamped"}, {"client_id": client})
        row = db.row("SELECT client_updated_at FROM clients WHERE client_id = :id", {"id": client})
    assert row["client_updated_at"] is not None
