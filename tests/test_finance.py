"""The read-only finance modules (docs/contract.md section 6): expenses, invoices, quotes and
products; decimals and dates rendered as MariaDB renders them.

Each test sets up what it needs (rows without a create endpoint are written straight to the
database), makes its calls and asserts the envelopes and stored values exactly: every value
in a row is a string, SQL NULL is None.
"""
import pytest
from helpers import (
    MISSING_ID,
    NO_RESOURCE,
    columns,
    fetch,
    ids,
    insert,
    new_invoice,
    one,
    read_rows,
)


def new_quote(db, client_id, number=1, **columns):
    values = {"quote_prefix": "QUO-", "quote_number": number, "quote_status": "Draft", "quote_date": "2024-01-31",
              "quote_currency_code": "USD", "quote_category_id": 0, "quote_client_id": client_id}
    return insert(db, "quotes", **{**values, **columns})


def new_expense(db, client_id, amount="10.00", **columns):
    values = {"expense_description": "Cables", "expense_amount": amount, "expense_currency_code": "USD",
              "expense_date": "2024-01-31", "expense_client_id": client_id}
    return insert(db, "expenses", **{**values, **columns})


def new_product(db, name="Support hour", price="12.5", **columns):
    values = {"product_name": name, "product_price": price, "product_currency_code": "USD",
              "product_category_id": 0}
    return insert(db, "products", **{**values, **columns})


FINANCE = {
    "expenses": ("expense_id", lambda db, client, n: new_expense(db, client, f"{n}.5")),
    "invoices": ("invoice_id", lambda db, client, n: new_invoice(db, client, n)),
    "quotes": ("quote_id", lambda db, client, n: new_quote(db, client, n)),
}


@pytest.mark.parametrize("module", list(FINANCE))
def test_read_only_lists_page_in_id_order_and_narrow_by_client(api, db, all_key, two_clients, module):
    a, b, _ = two_clients
    id_column, make = FINANCE[module]
    made = [str(make(db, client, n)) for n, client in enumerate((a, b, a, b), start=1)]
    assert ids(read_rows(api.get(f"{module}/read", key=all_key)), id_column) == made
    assert ids(read_rows(api.get(f"{module}/read", key=all_key, limit=2, offset=1)), id_column) == made[1:3]
    assert ids(read_rows(api.get(f"{module}/read", key=all_key, offset=3)), id_column) == made[3:]
    assert ids(read_rows(api.get(f"{module}/read", key=all_key, client_id=b)), id_column) == [made[1], made[3]]
    assert api.get(f"{module}/read", key=all_key, offset=4) == (200, NO_RESOURCE)


@pytest.mark.parametrize("module", list(FINANCE))
def test_read_only_by_id_returns_the_whole_record(api, db, all_key, two_clients, module):
    a, _, _ = two_clients
    id_column, make = FINANCE[module]
    make(db, a, 1)
    record_id = make(db, a, 2)
    rows = read_rows(api.get(f"{module}/read", key=all_key, **{id_column: record_id}))
    assert rows == [one(db, module, **{id_column: record_id})]
    assert list(rows[0]) == columns(module)
    assert api.get(f"{module}/read", key=all_key, **{id_column: MISSING_ID}) == (200, NO_RESOURCE)


@pytest.mark.parametrize("module", list(FINANCE))
def test_read_only_scoped_key_sees_only_its_client(api, db, two_clients, module):
    a, b, key_a = two_clients
    id_column, make = FINANCE[module]
    theirs, mine = make(db, b, 1), make(db, a, 2)
    assert ids(read_rows(api.get(f"{module}/read", key=key_a)), id_column) == [str(mine)]
    assert ids(read_rows(api.get(f"{module}/read", key=key_a, client_id=b)), id_column) == [str(mine)]
    assert api.get(f"{module}/read", key=key_a, **{id_column: theirs}) == \
        api.get(f"{module}/read", key=key_a, **{id_column: MISSING_ID}) == (200, NO_RESOURCE)
    assert len(read_rows(api.get(f"{module}/read", key=key_a, **{id_column: mine}))) == 1


# Writes: products (tests/test_products.py), invoices (tests/test_invoices.py), quotes
# (tests/test_quotes.py), expenses (tests/test_expenses.py). Invoices and quotes have no delete:
@pytest.mark.parametrize("module", ["invoices", "quotes"])
def test_invoices_and_quotes_have_no_delete(api, db, all_key, two_clients, module):
    id_column, make = FINANCE[module]
    record = make(db, two_clients[0], 1)
    status, body = api.post(f"{module}/delete", {id_column: record}, key=all_key)
    assert (status, body["success"]) == (404, "False")
    assert len(fetch(db, module)) == 1


def test_invoice_row_renders_decimals_dates_and_nulls_like_mysql(api, db, all_key, two_clients):
    a, _, _ = two_clients
    invoice_id = new_invoice(db, a, 42, invoice_amount="12.5", invoice_discount_amount=3,
                             invoice_credit_amount="0.1")
    row = read_rows(api.get("invoices/read", key=all_key, invoice_id=invoice_id))[0]
    assert (row["invoice_amount"], row["invoice_discount_amount"], row["invoice_credit_amount"]) == \
        ("12.50", "3.00", "0.10")
    assert (row["invoice_number"], row["invoice_prefix"], row["invoice_date"], row["invoice_due"]) == \
        ("42", "INV-", "2024-01-31", "2024-02-29")
    assert (row["invoice_note"], row["invoice_archived_at"]) == (None, None)
    assert (row["invoice_client_id"], row["invoice_category_id"], row["invoice_recurring_invoice_id"]) == \
        (str(a), "0", "0")


def test_expense_and_quote_decimals_render_with_two_places(api, db, all_key, two_clients):
    a, _, _ = two_clients
    expense_id = new_expense(db, a, amount=7)
    quote_id = new_quote(db, a, 3, quote_amount="1234.5", quote_discount_amount="0.05")
    expense = read_rows(api.get("expenses/read", key=all_key, expense_id=expense_id))[0]
    assert (expense["expense_amount"], expense["expense_date"], expense["expense_account_id"]) == \
        ("7.00", "2024-01-31", None)
    quote = read_rows(api.get("quotes/read", key=all_key, quote_id=quote_id))[0]
    assert (quote["quote_amount"], quote["quote_discount_amount"], quote["quote_expire"]) == \
        ("1234.50", "0.05", None)


def test_products_are_not_client_scoped(api, db, all_key, two_clients):
    _, b, key_a = two_clients
    first, second = new_product(db, "Support hour", "12.5"), new_product(db, "Router", 99)
    for key, params in ((all_key, {}), (key_a, {}), (key_a, {"client_id": b}), (all_key, {"client_id": b})):
        rows = read_rows(api.get("products/read", key=key, **params))
        assert ids(rows, "product_id") == [str(first), str(second)]
    rows = read_rows(api.get("products/read", key=key_a, product_id=second))
    assert rows == [one(db, "products", product_id=second)]
    assert list(rows[0]) == columns("products")
    assert (rows[0]["product_name"], rows[0]["product_price"], rows[0]["product_type"]) == \
        ("Router", "99.00", "service")
    assert read_rows(api.get("products/read", key=all_key, product_id=first))[0]["product_price"] == "12.50"
    assert ids(read_rows(api.get("products/read", key=all_key, limit=1, offset=1)), "product_id") == [str(second)]
    assert api.get("products/read", key=key_a, product_id=MISSING_ID) == (200, NO_RESOURCE)


def test_empty_finance_reads_are_no_resource(api, all_key):
    for module in ("expenses", "invoices", "quotes", "products"):
        assert api.get(f"{module}/read", key=all_key) == (200, NO_RESOURCE)
