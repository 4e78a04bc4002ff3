"""quotes/create, update, mark_sent, accept and invoice (docs/billing.md).

The side-by-side test: tests/itflow_recorded/record_quotes.py ran the newest ITFlow's own agent
quote page (agent/post/quote.php add_quote, add_quote_item, edit_quote, mark_quote_sent,
accept_quote, add_quote_to_invoice; 26.08, database 2.6.7) with php-cli as agent user 1,
posting the forms as the page sends them. Here the same seed goes into a newest-layout database
of our own, the same changes go to our endpoints with a key acting as that agent and the clock
at each recorded instant, and after each request the quotes, their lines, the invoice made from
one and its lines, the history rows, the ticket's invoice and the next numbers are compared
whole (but the timestamps and the random guest-link keys), and at the end the logs rows by
what they say about whom.
"""
import os

import pytest
from helpers import (
    created_id,
    fetch,
    insert,
    log_rows,
    make_key,
    one,
    ordered_rows,
    page_twin,
    recorded,
    refused,
    succeeded,
)

HERE = os.path.dirname(__file__)
RECORDED = recorded("itflow-newest-quotes.json")
SECRET = b"quotes-tests"
SEEDED = ("user_roles", "users", "clients", "taxes", "products", "product_stock", "tickets")
COMPARED = {"quotes": "quote_id", "quote_items": "item_id", "invoices": "invoice_id", "invoice_items": "item_id",
            "history": "history_id"}


@pytest.fixture
def seeded(newest_database):
    cfg, db = newest_database
    return page_twin(cfg, db, RECORDED["seed"], SECRET, ids_from_one=(*COMPARED, "logs"), tables=SEEDED)


def _same_rows(ours, theirs, label):
    assert len(ours) == len(theirs), (label, ours, theirs)
    for our_row, their_row in zip(ours, theirs, strict=True):
        assert list(our_row) == list(their_row), label  # same columns, same order
        for column, expected in their_row.items():
            if not (column.endswith(("_created_at", "_updated_at", "_url_key"))):
                assert our_row[column] == expected, (label, column, our_row, their_row)


def _replay(seeded, clock):
    db, api = seeded["db"], seeded["api"]
    steps = RECORDED["steps"]
    for n, step in enumerate(steps):
        if step["api"] is None:
            continue  # a line of the quotes/create before it
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
            tickets = db.rows("SELECT ticket_id, ticket_invoice_id FROM tickets ORDER BY ticket_id")
        assert numbers == after["settings"][0], step["step"]
        assert tickets == [{k: r[k] for k in ("ticket_id", "ticket_invoice_id")} for r in after["tickets"]]
    return db


def test_the_actions_store_what_itflows_quote_page_stores(seeded, clock):
    db = _replay(seeded, clock)
    what = ("log_type", "log_action", "log_client_id", "log_user_id", "log_entity_id")
    ours = [r for r in ordered_rows(db, "logs", "log_id") if r["log_type"] != "API"]
    theirs = RECORDED["steps"][-1]["after"]["logs"]
    assert [tuple(r[c] for c in what) for r in ours] == [tuple(r[c] for c in what) for r in theirs]
    assert ours[-1]["log_description"] == "Created invoice INV-7 from quote QUO-3 via API (page twin)"
    invoice = ordered_rows(db, "invoices", "invoice_id")[0]
    assert invoice["invoice_url_key"] != ordered_rows(db, "quotes", "quote_id")[0]["quote_url_key"]


def test_what_the_recording_shows():
    steps = RECORDED["steps"]
    lines = {r["item_name"]: r for r in steps[2]["after"]["quote_items"]}
    assert (lines["Firewall"]["item_price"], lines["Firewall"]["item_tax"], lines["Firewall"]["item_total"]) == \
        ("1250.00", "103.12", "1353.12")                      # 1249.995 x 1, 8.25 % tax
    quotes = {r["quote_id"]: r for r in steps[4]["after"]["quotes"]}
    assert (quotes["1"]["quote_number"], quotes["2"]["quote_number"]) == ("3", "4")
    # the edit takes the discount as sent off the total: 1638.12 - 50.005 = 1588.115, stored 1588.12
    assert (quotes["1"]["quote_discount_amount"], quotes["1"]["quote_amount"]) == ("50.01", "1588.12")
    final = steps[-1]["after"]
    assert [r["quote_status"] for r in final["quotes"]] == ["Invoiced", "Draft"]
    assert (final["invoices"][0]["invoice_amount"], final["invoices"][0]["invoice_due"]) == ("1588.12", "2027-01-03")
    assert len(final["invoice_items"]) == 2 and final["tickets"][0]["ticket_invoice_id"] == "1"


# --- the rules around them, on a 2.4.6 database -------------------------------------------------

def test_on_a_246_database_from_draft_to_invoice(api, db, all_key, make_client, clock):
    clock["now"] = "2026-12-01 10:00:00"
    client = make_client("Acme", client_net_terms=7)
    quote = created_id(api.post("quotes/create", {"client_id": client, "quote_scope": "Switches",
                                                  "items": [{"name": "Switch", "qty": 2, "price": "150"}]},
                                key=all_key))
    row = one(db, "quotes", quote_id=quote)
    assert (row["quote_status"], row["quote_amount"], row["quote_expire"]) == ("Draft", "300.00", "2026-12-31")
    assert refused(api.post("quotes/accept", {"quote_id": quote}, key=all_key))["message"].startswith(
        "Quote 1 is Draft: ")
    assert refused(api.post("quotes/invoice", {"quote_id": quote}, key=all_key))["message"].startswith(
        "Quote 1 is Draft: ")
    succeeded(api.post("quotes/mark_sent", {"quote_id": quote}, key=all_key))
    succeeded(api.post("quotes/accept", {"quote_id": quote}, key=all_key))
    status, body = api.post("quotes/invoice", {"quote_id": quote}, key=all_key)
    invoice = body["data"][0]["insert_id"]
    invoice_row = one(db, "invoices", invoice_id=invoice)
    assert (invoice_row["invoice_amount"], invoice_row["invoice_date"], invoice_row["invoice_due"],
            invoice_row["invoice_status"]) == ("300.00", "2026-12-01", "2026-12-08", "Draft")
    assert [r["item_total"] for r in fetch(db, "invoice_items")] == ["300.00"]
    assert refused(api.post("quotes/invoice", {"quote_id": quote}, key=all_key))["message"].startswith(
        "Quote 1 is Invoiced: ")
    assert one(db, "quotes", quote_id=quote)["quote_status"] == "Invoiced"


def test_a_scoped_key_reaches_only_its_own_clients_quotes(api, db, keys, make_client):
    mine, other = make_client("Mine"), make_client("Other")
    theirs = insert(db, "quotes", quote_prefix="QUO-", quote_number=9, quote_status="Accepted",
                    quote_date="2026-01-01", quote_currency_code="USD", quote_category_id=0, quote_client_id=other)
    scoped = make_key(keys, mine)
    for path in ("quotes/update", "quotes/mark_sent", "quotes/accept", "quotes/invoice"):
        assert refused(api.post(path, {"quote_id": theirs, "quote_scope": "x"}, key=scoped))["message"].startswith(
            "No quote"), path
    assert not fetch(db, "invoices") and not log_rows(db)
    assert one(db, "quotes", quote_id=theirs)["quote_status"] == "Accepted"


def test_a_user_key_needs_sales_at_level_2(seeded):
    """The quote page asks module_sales at level 2 for every one of these actions."""
    from datetime import date, timedelta

    from helpers import insert_role, insert_user

    from itflow_api.lib.access.keys import KeyStore
    db, api = seeded["db"], seeded["api"]
    keys = KeyStore(db, SECRET)
    expire = (date.today() + timedelta(days=10)).isoformat()
    with db.transaction(write=True):
        reader = insert_user(db, "reader", insert_role(db, "Reader", levels={"module_sales": 1}))
        seller = insert_user(db, "seller", insert_role(db, "Seller", levels={"module_sales": 2}))
    reader_key, seller_key = (keys.create(f"k{u}", expire, u)[0] for u in (reader, seller))
    status, answer = api.post("quotes/create", {"client_id": 1}, key=reader_key)
    assert status == 403 and answer["success"] == "False"
    quote = created_id(api.post("quotes/create", {"client_id": 1, "items": [{"name": "x", "qty": 1, "price": 2}]},
                                key=seller_key))
    for path in ("quotes/mark_sent", "quotes/accept"):
        status, answer = api.post(path, {"quote_id": quote}, key=reader_key)
        assert status == 403, path
        succeeded(api.post(path, {"quote_id": quote}, key=seller_key))
    with db.transaction():
        assert db.scalar("SELECT history_description AS d FROM history WHERE history_status = 'Accepted'") == \
            "Quote accepted by seller"
    assert api.post("quotes/invoice", {"quote_id": quote}, key=seller_key)[1]["data"][0]["quote_id"] == quote
