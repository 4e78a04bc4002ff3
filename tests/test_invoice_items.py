"""invoice_items (docs/contract.md sections 6 and 7): the read scoped through the invoice, and
the create that computes tax, totals and the invoice's amount.

Each test sets up what it needs (rows without a create endpoint are written straight to the
database), makes its calls and asserts the envelopes and stored values exactly: every value
in a row is a string, SQL NULL is None.
"""
import pytest
from helpers import (
    MISSING_ID,
    NO_RESOURCE,
    columns,
    created_id,
    fetch,
    ids,
    insert,
    log_rows,
    new_invoice,
    one,
    read_rows,
    refused,
    same_refusal,
)

# --- read ---------------------------------------------------------------------------------

FILTER_REQUIRED = "A filter is required. Please supply either invoice_id or item_id."


def new_item(db, invoice_id, name="Item", order=0, **columns):
    values = {"item_name": name, "item_quantity": 1, "item_price": "10", "item_subtotal": "10",
              "item_tax": 0, "item_total": "10", "item_order": order, "item_invoice_id": invoice_id}
    return insert(db, "invoice_items", **{**values, **columns})


@pytest.mark.parametrize("params", [{}, {"client_id": 1}, {"limit": 5}])
def test_invoice_items_read_needs_a_filter(api, db, all_key, two_clients, params):
    a, _, _ = two_clients
    new_item(db, new_invoice(db, a))
    status, body = api.get("invoice_items/read", key=all_key, **params)
    assert status == 400
    assert body == {"success": "False", "message": FILTER_REQUIRED, "count": 0, "data": []}


def test_invoice_items_read_by_invoice_orders_by_item_order_then_id(api, db, all_key, two_clients):
    a, _, _ = two_clients
    invoice_id, other_invoice = new_invoice(db, a, 1), new_invoice(db, a, 2)
    third = new_item(db, invoice_id, "Third", order=2)
    first = new_item(db, invoice_id, "First", order=1, item_price="12.5", item_quantity="1.5")
    new_item(db, other_invoice, "Elsewhere", order=0)
    second = new_item(db, invoice_id, "Second", order=1)
    rows = read_rows(api.get("invoice_items/read", key=all_key, invoice_id=invoice_id))
    assert ids(rows, "item_id") == [str(first), str(second), str(third)]
    assert all(list(row) == columns("invoice_items") for row in rows)
    assert rows[0] == one(db, "invoice_items", item_id=first)
    assert (rows[0]["item_price"], rows[0]["item_quantity"], rows[0]["item_invoice_id"]) == \
        ("12.50", "1.50", str(invoice_id))
    assert ids(read_rows(api.get("invoice_items/read", key=all_key, invoice_id=invoice_id, limit=1, offset=1)),
               "item_id") == [str(second)]


def test_invoice_items_read_by_item_id(api, db, all_key, two_clients):
    a, _, _ = two_clients
    invoice_id = new_invoice(db, a)
    new_item(db, invoice_id, "One")
    item_id = new_item(db, invoice_id, "Two")
    rows = read_rows(api.get("invoice_items/read", key=all_key, item_id=item_id))
    assert rows == [one(db, "invoice_items", item_id=item_id)]
    assert list(rows[0]) == columns("invoice_items")
    assert api.get("invoice_items/read", key=all_key, item_id=MISSING_ID) == (200, NO_RESOURCE)
    assert api.get("invoice_items/read", key=all_key, invoice_id=MISSING_ID) == (200, NO_RESOURCE)


def test_invoice_items_read_is_scoped_through_the_invoice(api, db, all_key, two_clients):
    a, b, key_a = two_clients
    mine_invoice, their_invoice = new_invoice(db, a, 1), new_invoice(db, b, 2)
    mine, theirs = new_item(db, mine_invoice, "Mine"), new_item(db, their_invoice, "Theirs")

    assert api.get("invoice_items/read", key=key_a, invoice_id=their_invoice) == (200, NO_RESOURCE)
    assert api.get("invoice_items/read", key=key_a, item_id=theirs) == (200, NO_RESOURCE)
    assert api.get("invoice_items/read", key=key_a, item_id=theirs, client_id=b) == (200, NO_RESOURCE)
    assert ids(read_rows(api.get("invoice_items/read", key=key_a, invoice_id=mine_invoice, client_id=b)),
               "item_id") == [str(mine)]
    assert ids(read_rows(api.get("invoice_items/read", key=key_a, item_id=mine)), "item_id") == [str(mine)]

    assert ids(read_rows(api.get("invoice_items/read", key=all_key, item_id=theirs)), "item_id") == [str(theirs)]
    assert api.get("invoice_items/read", key=all_key, item_id=theirs, client_id=a) == (200, NO_RESOURCE)
    assert ids(read_rows(api.get("invoice_items/read", key=all_key, invoice_id=their_invoice, client_id=b)),
               "item_id") == [str(theirs)]


# --- create -------------------------------------------------------------------------------

def add_item(api, key, invoice, **fields):
    body = {"invoice_id": invoice, "name": "Support", "qty": 1, "price": "10.00", **fields}
    return api.post("invoice_items/create", {k: v for k, v in body.items() if v is not None}, key=key)


def test_invoice_item_create_computes_tax_totals_and_invoice_amount(api, db, all_key, two_clients):
    a, _, _ = two_clients
    tax_id = insert(db, "taxes", tax_name="VAT", tax_percent=8.25)
    invoice_id = new_invoice(db, a, 7, invoice_discount_amount="5.00")
    item_id = created_id(add_item(api, all_key, invoice_id, name="<b>Laptop</b>", description="14 inch",
                                  qty=3, price="19.99", tax_id=tax_id, item_order=2, product_id=9))
    item = one(db, "invoice_items", item_id=item_id)
    assert {k: item[k] for k in ("item_name", "item_description", "item_quantity", "item_price", "item_subtotal",
                                 "item_tax", "item_total", "item_order", "item_tax_id", "item_product_id",
                                 "item_invoice_id")} == {
        "item_name": "Laptop", "item_description": "14 inch", "item_quantity": "3.00", "item_price": "19.99",
        "item_subtotal": "59.97", "item_tax": "4.95", "item_total": "64.92", "item_order": "2",
        "item_tax_id": str(tax_id), "item_product_id": "9", "item_invoice_id": str(invoice_id)}
    # 64.92 less the 5.00 discount
    assert one(db, "invoices", invoice_id=invoice_id)["invoice_amount"] == "59.92"

    second = created_id(add_item(api, all_key, invoice_id, name="Cable", qty="2", price=2.5))
    item = one(db, "invoice_items", item_id=second)
    assert (item["item_subtotal"], item["item_tax"], item["item_total"], item["item_tax_id"]) == \
        ("5.00", "0.00", "5.00", "0")
    assert one(db, "invoices", invoice_id=invoice_id)["invoice_amount"] == "64.92"
    # the second line's order is what the page's form sends: the lines already there plus one (2),
    # and the read shows both lines, by order and then id
    assert item["item_order"] == "2"
    assert ids(read_rows(api.get("invoice_items/read", key=all_key, invoice_id=invoice_id)), "item_id") == \
        [str(item_id), str(second)]


def test_invoice_item_amount_counts_items_already_on_the_invoice(api, db, all_key, two_clients):
    a, _, _ = two_clients
    invoice_id = new_invoice(db, a, invoice_amount="0.00")
    new_item(db, invoice_id, "Earlier", item_total="100.10")
    created_id(add_item(api, all_key, invoice_id, qty="0.5", price="10.01"))
    assert one(db, "invoices", invoice_id=invoice_id)["invoice_amount"] == "105.11"


def test_invoice_item_create_writes_the_two_log_rows(api, db, all_key, two_clients):
    a, _, _ = two_clients
    invoice_id = new_invoice(db, a, 7)
    created_id(add_item(api, all_key, invoice_id, name="Laptop"))
    rows = log_rows(db)
    assert len(rows) == 2, rows
    record, api_row = rows
    assert (record["log_type"], record["log_action"], record["log_entity_id"], record["log_client_id"]) == \
        ("Invoice", "Edit", str(invoice_id), str(a))
    assert "Laptop" in record["log_description"] and record["log_description"].endswith("via API (test key)")
    assert (api_row["log_type"], api_row["log_action"], api_row["log_client_id"]) == ("API", "Success", str(a))
    assert api_row["log_description"].endswith("via API (test key)")


def assert_nothing_written(db, invoice_id, amount="0.00"):
    assert fetch(db, "invoice_items") == []
    assert one(db, "invoices", invoice_id=invoice_id)["invoice_amount"] == amount
    assert log_rows(db) == []


@pytest.mark.parametrize("missing", ["invoice_id", "name", "qty", "price"])
def test_invoice_item_missing_required_field_is_refused(api, db, all_key, two_clients, missing):
    a, _, _ = two_clients
    invoice_id = new_invoice(db, a)
    assert missing in refused(add_item(api, all_key, invoice_id, **{missing: None}))["message"]
    if missing == "name":
        assert "name" in refused(add_item(api, all_key, invoice_id, name=""))["message"]
        assert "name" in refused(add_item(api, all_key, invoice_id, name="<b></b>"))["message"]
    assert_nothing_written(db, invoice_id)


@pytest.mark.parametrize("qty", [0, "0", "0.00", -1, "0.001"])
def test_invoice_item_quantity_must_be_more_than_zero(api, db, all_key, two_clients, qty):
    a, _, _ = two_clients
    invoice_id = new_invoice(db, a)
    assert "qty" in refused(add_item(api, all_key, invoice_id, qty=qty))["message"]
    assert_nothing_written(db, invoice_id)


def test_invoice_item_on_a_paid_invoice_is_refused(api, db, all_key, two_clients):
    a, _, _ = two_clients
    invoice_id = new_invoice(db, a, status="Paid", invoice_amount="10.00")
    assert "Paid" in refused(add_item(api, all_key, invoice_id))["message"]
    assert_nothing_written(db, invoice_id, "10.00")


def test_invoice_item_with_unknown_tax_is_refused(api, db, all_key, two_clients):
    a, _, _ = two_clients
    invoice_id = new_invoice(db, a)
    assert "tax_id" in refused(add_item(api, all_key, invoice_id, tax_id=MISSING_ID))["message"]
    assert_nothing_written(db, invoice_id)


def test_invoice_item_on_missing_invoice_is_refused(api, db, all_key, two_clients):
    refused(add_item(api, all_key, MISSING_ID))
    assert fetch(db, "invoice_items") == [] and log_rows(db) == []


def test_invoice_item_on_another_clients_invoice_is_refused_like_a_missing_one(api, db, all_key, two_clients):
    a, b, key_a = two_clients
    theirs = new_invoice(db, b, 1)
    theirs_result = add_item(api, key_a, theirs)
    refused(theirs_result)
    same_refusal(theirs_result, add_item(api, key_a, MISSING_ID), theirs)
    # an all-clients key naming another client_id is held to it as well
    refused(add_item(api, all_key, theirs, client_id=a))
    assert_nothing_written(db, theirs)

    mine = new_invoice(db, a, 2)
    item_id = created_id(add_item(api, key_a, mine, client_id=b))
    assert one(db, "invoice_items", item_id=item_id)["item_invoice_id"] == str(mine)
    assert one(db, "invoices", invoice_id=mine)["invoice_amount"] == "10.00"


def test_invoice_item_bad_numbers_are_refused(api, db, all_key, two_clients):
    a, _, _ = two_clients
    invoice_id = new_invoice(db, a)
    # floatval("many") and intval("seven") are 0 (new: invoice_items/create.php), so the
    # quantity is not above 0 and the invoice is missing: refused, naming the field.
    for field, value in (("qty", "many"), ("invoice_id", "seven")):
        status, body = add_item(api, all_key, invoice_id, **{field: value})
        assert (status, body["success"]) == (200, "False") and field in body["message"]
    assert_nothing_written(db, invoice_id)




def test_invoice_item_empty_price_counts_as_missing(api, db, all_key, make_client):
    client = make_client("Acme")
    invoice = insert(db, "invoices", invoice_number=1, invoice_status="Draft", invoice_date="2024-01-01",
                     invoice_due="2024-02-01", invoice_currency_code="USD", invoice_category_id=0,
                     invoice_client_id=client)
    status, body = api.post("invoice_items/create", {"invoice_id": invoice, "name": "x", "qty": 1, "price": ""},
                            key=all_key)
    assert body["success"] == "False" and "price" in body["message"]
    with db.transaction():
        assert db.count("invoice_items", {}) == 0
