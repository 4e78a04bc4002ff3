"""invoices/create, update, mark_sent, cancel and invoice_items/create, delete (docs/billing.md).

The side-by-side test: tests/itflow_recorded/record_invoices.py ran the newest ITFlow's own
agent invoice page (agent/post/invoice.php add_invoice, add_invoice_item, edit_invoice,
delete_invoice_item, mark_invoice_sent, cancel_invoice; 26.08, database 2.6.7) with php-cli as
agent user 1, posting the forms as the page sends them. Here the same seed goes into a
newest-layout database of our own, the same changes go to our endpoints with a key acting as
that agent and the clock at each recorded instant, and after each request the invoices, their
lines, the history rows, the product's stock and the next numbers are compared whole (but the
timestamps and the random guest-link key), and at the end the logs rows by what they say
about whom (their wording names the API key, as every API log row does).
"""
import os
import re
from datetime import date, timedelta

import pytest
from helpers import (
    created_id,
    fetch,
    insert,
    insert_role,
    insert_user,
    log_rows,
    make_key,
    new_invoice,
    one,
    ordered_rows,
    page_twin,
    recorded,
    refused,
    succeeded,
)

HERE = os.path.dirname(__file__)
RECORDED = recorded("itflow-newest-invoices.json")
SECRET = b"invoices-tests"
SEEDED = ("user_roles", "users", "clients", "taxes", "products", "product_stock")
COMPARED = {"invoices": "invoice_id", "invoice_items": "item_id", "history": "history_id",
            "product_stock": "stock_id"}
URL_KEY = re.compile(r"^[A-Za-z0-9_-]{32}$")


@pytest.fixture
def seeded(newest_database):
    cfg, db = newest_database
    return page_twin(cfg, db, RECORDED["seed"], SECRET, ids_from_one=(*COMPARED, "logs"), tables=SEEDED)


def _skipped(column):
    return column.endswith(("_created_at", "_updated_at")) or column == "invoice_url_key"


def _same_rows(ours, theirs, label):
    assert len(ours) == len(theirs), (label, ours, theirs)
    for our_row, their_row in zip(ours, theirs, strict=True):
        assert list(our_row) == list(their_row), label  # same columns, same order
        for column, expected in their_row.items():
            if not _skipped(column):
                assert our_row[column] == expected, (label, column, our_row, their_row)


def _replay(seeded, clock):
    """Each request, then the state after the last page step it stands for."""
    db, api = seeded["db"], seeded["api"]
    steps = RECORDED["steps"]
    for n, step in enumerate(steps):
        if step["api"] is None:
            continue  # a line of the invoices/create before it
        last = n
        while last + 1 < len(steps) and steps[last + 1]["api"] is None:
            last += 1
        clock["now"] = step["instant"]
        status, body = api.post(step["api"]["path"], step["api"]["body"], key=seeded["key"])
        assert (status, body["success"]) == (200, "True"), (step["step"], body)
        after = steps[last]["after"]
        for table, order in COMPARED.items():
            _same_rows(ordered_rows(db, table, order), after[table], f"{step['step']}: {table}")
        with db.transaction():
            numbers = db.row("SELECT config_invoice_next_number, config_quote_next_number FROM settings")
        assert numbers == after["settings"][0], step["step"]
    return db


def test_the_actions_store_what_itflows_invoice_page_stores(seeded, clock):
    db = _replay(seeded, clock)
    assert all(URL_KEY.match(row["invoice_url_key"]) for row in ordered_rows(db, "invoices", "invoice_id"))
    what = ("log_type", "log_action", "log_client_id", "log_user_id", "log_entity_id")
    ours = [r for r in ordered_rows(db, "logs", "log_id") if r["log_type"] != "API"]
    theirs = RECORDED["steps"][-1]["after"]["logs"]
    assert [tuple(r[c] for c in what) for r in ours] == [tuple(r[c] for c in what) for r in theirs]
    # Deliberate difference: the descriptions name the key (the API's Success row follows each).
    assert ours[0]["log_description"] == "Created invoice INV-7 - Managed services via API (page twin)"
    assert ours[1]["log_description"] == "Added item Support hours to invoice INV-7 via API (page twin)"
    assert len(ordered_rows(db, "logs", "log_id")) == 2 * len(theirs)


def test_what_the_recording_shows():
    """The cases the recording is about, in plain words (a guard against a re-recording that
    no longer exercises them)."""
    steps = RECORDED["steps"]
    lines = {r["item_name"]: r for r in steps[3]["after"]["invoice_items"]}
    assert (lines["Support hours"]["item_subtotal"], lines["Support hours"]["item_tax"],
            lines["Support hours"]["item_total"]) == ("100.01", "20.00", "120.01")   # 3 x 33.335, 20 % tax
    assert lines["USB-C cable"]["item_tax"] == "0.82"                                 # 8.25 % of 9.98
    assert lines["Setup"]["item_total"] == "29.99"                                    # 1.5 x 19.99 = 29.985
    invoices = {r["invoice_id"]: r for r in steps[5]["after"]["invoices"]}
    assert (invoices["1"]["invoice_number"], invoices["2"]["invoice_number"]) == ("7", "8")  # two in a row
    assert (invoices["2"]["invoice_discount_amount"], invoices["2"]["invoice_amount"]) == ("12.35", "960.82")
    assert (invoices["1"]["invoice_due"], invoices["2"]["invoice_due"]) == ("2026-12-31", "2026-12-17")
    final = {r["invoice_id"]: r for r in steps[-1]["after"]["invoices"]}
    assert (final["1"]["invoice_amount"], final["1"]["invoice_status"], final["2"]["invoice_status"]) == \
        ("140.00", "Sent", "Cancelled")
    assert [r["stock_qty"] for r in steps[-1]["after"]["product_stock"]] == ["10", "-2", "2"]


# --- the rules around them, on a 2.4.6 database -------------------------------------------------

@pytest.fixture
def acme(db, make_client):
    return make_client("Acme", client_net_terms=10)


def test_on_a_246_database_create_with_lines_and_the_state_actions(api, db, all_key, acme, clock):
    clock["now"] = "2026-12-01 10:00:00"
    with db.transaction(write=True):
        db.update("settings", {"config_invoice_prefix": "BILL-", "config_invoice_next_number": 41}, {"company_id": 1})
    tax = insert(db, "taxes", tax_name="VAT", tax_percent=10)
    invoice = created_id(api.post("invoices/create", {
        "client_id": acme, "invoice_scope": "<b>Hardware</b>", "invoice_discount_amount": "5",
        "items": [{"name": "Dock", "qty": 2, "price": "100.05", "tax_id": tax}, {"name": "Cable", "qty": 1,
                                                                                 "price": 5}]}, key=all_key))
    row = one(db, "invoices", invoice_id=invoice)
    assert (row["invoice_prefix"], row["invoice_number"], row["invoice_status"], row["invoice_date"],
            row["invoice_due"], row["invoice_scope"], row["invoice_discount_amount"], row["invoice_amount"]) == \
        ("BILL-", "41", "Draft", "2026-12-01", "2026-12-11", "Hardware", "5.00", "220.11")  # 220.11 + 5.00 - 5.00
    assert [(r["item_total"], r["item_order"]) for r in fetch(db, "invoice_items")] == [("220.11", "1"), ("5.00", "2")]
    succeeded(api.post("invoices/mark_sent", {"invoice_id": invoice}, key=all_key))
    assert refused(api.post("invoices/mark_sent", {"invoice_id": invoice}, key=all_key))["message"].startswith(
        "Invoice BILL-41 is Sent: ")
    succeeded(api.post("invoices/cancel", {"invoice_id": invoice}, key=all_key))
    assert refused(api.post("invoices/cancel", {"invoice_id": invoice}, key=all_key))["message"].startswith(
        "Invoice BILL-41 is Cancelled: ")
    assert refused(api.post("invoice_items/create", {"invoice_id": invoice, "name": "x", "qty": 1, "price": 1},
                            key=all_key))["message"].startswith("Invoice BILL-41 is Cancelled: ")
    assert [(r["history_status"], r["history_description"]) for r in fetch(db, "history")] == [
        ("Draft", "Invoice created by API (test key)"), ("Sent", "Invoice marked sent by API (test key)"),
        ("Cancelled", "Invoice cancelled by API (test key)")]
    assert one(db, "settings", company_id=1)["config_invoice_next_number"] == "42"


def test_create_refuses_a_bad_line_and_writes_nothing(api, db, all_key, acme):
    body = refused(api.post("invoices/create", {"client_id": acme, "items": [{"name": "ok", "qty": 1, "price": 1},
                                                                             {"name": "no price", "qty": 1}]},
                            key=all_key))
    assert body["message"] == "items[2]: Missing required field(s): price."
    assert refused(api.post("invoices/create", {"client_id": acme, "items": "Dock"}, key=all_key))["message"] == \
        "Field 'items' must be a JSON list of objects."
    assert refused(api.post("invoices/create", {"invoice_scope": "x"}, key=all_key))["message"].startswith(
        "Missing required field: client_id")
    assert not fetch(db, "invoices") and not fetch(db, "invoice_items") and not log_rows(db)


def test_the_amount_never_drops_below_the_payments(api, db, all_key, acme):
    invoice = new_invoice(db, acme, invoice_amount="100.00", status="Partial")
    line = insert(db, "invoice_items", item_name="Work", item_quantity=1, item_price="100", item_subtotal="100",
                  item_tax=0, item_total="100", item_invoice_id=invoice)
    account = insert(db, "accounts", account_name="Checking", account_currency_code="USD")
    insert(db, "payments", payment_date="2026-01-01", payment_amount="60.00", payment_currency_code="USD",
           payment_account_id=account, payment_invoice_id=invoice)
    assert "payments of 60.00" in refused(api.post("invoices/update", {"invoice_id": invoice,
                                                                       "invoice_discount_amount": 50},
                                                   key=all_key))["message"]
    assert "payments of 60.00" in refused(api.post("invoice_items/delete", {"item_id": line}, key=all_key))["message"]
    succeeded(api.post("invoices/update", {"invoice_id": invoice, "invoice_discount_amount": 40}, key=all_key))
    assert one(db, "invoices", invoice_id=invoice)["invoice_amount"] == "60.00"
    assert fetch(db, "invoice_items")


def test_not_enough_stock_is_refused(api, db, all_key, acme):
    invoice = new_invoice(db, acme, status="Draft")
    product = insert(db, "products", product_name="Cable", product_type="product", product_price="5",
                     product_currency_code="USD", product_category_id=0)
    insert(db, "product_stock", stock_qty=1, stock_product_id=product)
    body = refused(api.post("invoice_items/create", {"invoice_id": invoice, "name": "Cable", "qty": 2, "price": 5,
                                                     "product_id": product}, key=all_key))
    assert body["message"].startswith("Not enough Cable in stock")
    assert len(fetch(db, "product_stock")) == 1 and not fetch(db, "invoice_items")


def test_a_scoped_key_reaches_only_its_own_clients_invoices(api, db, keys, acme, make_client):
    other = make_client("Other")
    theirs = new_invoice(db, other, 2, status="Draft")
    line = insert(db, "invoice_items", item_name="Work", item_total="1", item_invoice_id=theirs)
    scoped = make_key(keys, acme)
    for path, body in [("invoices/update", {"invoice_id": theirs, "invoice_scope": "x"}),
                       ("invoices/mark_sent", {"invoice_id": theirs}), ("invoices/cancel", {"invoice_id": theirs}),
                       ("invoice_items/delete", {"item_id": line})]:
        assert refused(api.post(path, body, key=scoped))["message"].startswith("No invoice"), path
    mine = created_id(api.post("invoices/create", {"client_id": other}, key=scoped))  # its own client, whatever sent
    assert one(db, "invoices", invoice_id=mine)["invoice_client_id"] == str(acme)
    assert one(db, "invoices", invoice_id=theirs)["invoice_status"] == "Draft" and fetch(db, "invoice_items")


def test_a_user_key_needs_sales(seeded):
    db, api = seeded["db"], seeded["api"]
    from itflow_api.lib.access.keys import KeyStore
    keys = KeyStore(db, SECRET)
    expire = (date.today() + timedelta(days=10)).isoformat()
    with db.transaction(write=True):
        reader = insert_role(db, "Reader", levels={"module_sales": 1})
        seller = insert_role(db, "Seller", levels={"module_sales": 2})
        users = [insert_user(db, name, role) for name, role in (("reader", reader), ("seller", seller))]
    reader_key, seller_key = (keys.create(f"k{u}", expire, u)[0] for u in users)
    status, answer = api.post("invoices/create", {"client_id": 1}, key=reader_key)
    assert status == 403 and answer["success"] == "False"
    invoice = created_id(api.post("invoices/create", {"client_id": 1}, key=seller_key))
    line = created_id(api.post("invoice_items/create", {"invoice_id": invoice, "name": "x", "qty": 1, "price": 1},
                               key=seller_key))
    status, answer = api.post("invoice_items/delete", {"item_id": line}, key=seller_key)
    assert status == 403  # a delete asks level 3 (ITFlow's API rule), the page level 2
    with db.transaction():
        assert db.scalar("SELECT history_description AS d FROM history WHERE history_invoice_id = :i",
                         {"i": invoice}) == "Invoice created by seller"
