"""payments/create, payments/delete and payments/read (docs/billing.md).

The side-by-side test: tests/itflow_recorded/record_payments.py ran the newest ITFlow's own
agent payment page (agent/post/payment.php add_payment and delete_payment; 26.08, database
2.6.7) with php-cli as agent user 1 on a seeded database, one action per second, posting the
form as the payment modal does. Here the same seed goes into a newest-layout database of our
own, the same actions go to our endpoints with a key acting as that agent and the clock at each
recorded instant, and after every step the payments and invoices are compared whole (but
invoice_updated_at), and at the end the history rows whole and the logs rows by what they say
about whom (their wording names the API key, as every API log row does).
"""
import json
from datetime import date, timedelta

import pytest
from helpers import (
    fetch,
    insert,
    insert_role,
    insert_user,
    log_rows,
    make_key,
    new_invoice,
    one,
    page_twin,
    read_rows,
    recorded,
    refused,
    succeeded,
)

from itflow_api.lib.core import values as fields

RECORDED = recorded("itflow-newest-payments.json")
SECRET = b"payments-tests"
SEEDED = ("user_roles", "users", "clients", "accounts", "invoices", "invoice_items")
SKIP = {"invoice_updated_at"}  # ON UPDATE CURRENT_TIMESTAMP: the database's own clock, not the action's


@pytest.fixture
def seeded(newest_database):
    """The recording's seed in an emptied newest-layout database, and a key acting as user 1
    (ids from 1 again, as in the recording: each test here writes payments and history)."""
    cfg, db = newest_database
    return page_twin(cfg, db, RECORDED["seed"], SECRET, ids_from_one=("payments", "history", "logs"), tables=SEEDED)


@pytest.fixture
def clock(monkeypatch):
    instant = {}
    monkeypatch.setattr(fields, "now", lambda: instant["now"])
    return instant


def _rows(db, table, order):
    with db.transaction():
        return db.rows(f"SELECT * FROM {table} ORDER BY {order}")


def _same_rows(ours, theirs, label):
    assert len(ours) == len(theirs), (label, ours, theirs)
    for our_row, their_row in zip(ours, theirs, strict=True):
        assert list(our_row) == list(their_row), label  # same columns, same order
        for column, expected in their_row.items():
            if column not in SKIP:
                assert our_row[column] == expected, (label, column, our_row, their_row)


def _replay(seeded, clock):
    db, api = seeded["db"], seeded["api"]
    for step in RECORDED["steps"]:
        clock["now"] = step["instant"]
        if step["action"] == "add":
            body = {"invoice_id": step["invoice_id"], "payment_amount": step["amount"], "payment_date": step["date"],
                    "payment_account_id": step["account"], "payment_method": step["method"],
                    "payment_reference": step["reference"]}
            result = api.post("payments/create", body, key=seeded["key"])
            if step["stored"]:
                assert succeeded(result)["data"][0]["insert_id"] > 0, step["step"]
            else:
                assert refused(result)["message"].startswith("Payment can not be more than the balance"), step["step"]
        else:
            assert api.post("payments/delete", {"payment_id": step["payment_id"]}, key=seeded["key"]) == \
                (200, {"success": "True", "count": 1}), step["step"]
        _same_rows(_rows(db, "payments", "payment_id"), step["after"]["payments"], step["step"])
        _same_rows(_rows(db, "invoices", "invoice_id"), step["after"]["invoices"], step["step"])


def test_add_and_delete_store_what_itflows_page_stores(seeded, clock):
    _replay(seeded, clock)
    theirs = RECORDED["rows"]
    db = seeded["db"]
    for table, order in (("payments", "payment_id"), ("invoices", "invoice_id"), ("history", "history_id")):
        _same_rows(_rows(db, table, order), theirs[table], table)


def test_the_logs_rows_say_the_same_about_whom_and_what(seeded, clock):
    _replay(seeded, clock)
    what = ("log_type", "log_action", "log_client_id", "log_user_id", "log_entity_id")
    ours = [r for r in _rows(seeded["db"], "logs", "log_id") if r["log_type"] == "Invoice"]
    assert [tuple(r[c] for c in what) for r in ours] == [tuple(r[c] for c in what) for r in RECORDED["rows"]["logs"]]
    # Deliberate difference: the description names the amount with its currency code (ITFlow
    # formats it for the company's locale) and the key; the API's "Success" row follows each.
    assert ours[0]["log_description"] == "Payment amount of 40.00 USD added to invoice INV-1 via API (page twin)"
    assert ours[4]["log_description"] == "Deleted payment of 60.00 USD on invoice INV-1 via API (page twin)"
    stored = sum(1 for step in RECORDED["steps"] if step["stored"])
    assert len(_rows(seeded["db"], "logs", "log_id")) == 2 * stored


def test_what_the_recording_shows():
    """The cases the recording is about, in plain words (a guard against a re-recording that
    no longer exercises them)."""
    steps = RECORDED["steps"]
    statuses = [{r["invoice_id"]: r["invoice_status"] for r in s["after"]["invoices"]} for s in steps]
    assert [statuses[0]["1"], statuses[1]["1"], statuses[5]["1"], statuses[7]["1"]] == \
        ["Partial", "Paid", "Partial", "Sent"]
    assert statuses[3]["2"] == "Partial" and statuses[6]["2"] == "Sent"   # Viewed -> Partial -> Sent
    assert not steps[2]["stored"] and steps[2]["after"] == steps[1]["after"]  # over-payment: nothing
    assert [p["payment_amount"] for p in steps[3]["after"]["payments"] if p["payment_invoice_id"] == "2"] == ["100.01"]
    assert [p["payment_currency_code"] for p in steps[3]["after"]["payments"]] == ["USD", "USD", "EUR"]
    assert not RECORDED["rows"]["email_queue"]  # no receipt asked for


# --- the rules around them, on a 2.4.6 database -------------------------------------------------

@pytest.fixture
def billing(db, make_client):
    """A client with a Sent invoice of 100.00 and an account."""
    client = make_client("Acme", client_currency_code="USD")
    account = insert(db, "accounts", account_name="Checking", account_currency_code="USD")
    invoice = new_invoice(db, client, invoice_amount="100.00")
    return {"client": client, "account": account, "invoice": invoice}


def _pay(api, key, invoice, amount, **extra):
    return api.post("payments/create", {"invoice_id": invoice, "payment_amount": amount, **extra}, key=key)


def test_on_a_246_database_create_read_delete(api, db, all_key, billing):
    invoice, account = billing["invoice"], billing["account"]
    first = succeeded(_pay(api, all_key, invoice, "30", payment_account_id=account, payment_date="2026-01-05",
                           payment_method="Cash", payment_reference="R1"))["data"][0]["insert_id"]
    row = one(db, "payments", payment_id=first)
    assert (row["payment_amount"], row["payment_date"], row["payment_currency_code"], row["payment_account_id"],
            row["payment_method"], row["payment_reference"], row["payment_invoice_id"]) == \
        ("30.00", "2026-01-05", "USD", str(account), "Cash", "R1", str(invoice))
    assert one(db, "invoices", invoice_id=invoice)["invoice_status"] == "Partial"
    second = succeeded(_pay(api, all_key, invoice, 70, payment_account_id=account))["data"][0]["insert_id"]
    assert one(db, "payments", payment_id=second)["payment_date"] == date.today().isoformat()
    assert one(db, "invoices", invoice_id=invoice)["invoice_status"] == "Paid"
    rows = read_rows(api.get("payments/read", key=all_key, invoice_id=invoice))
    assert [r["payment_id"] for r in rows] == [str(first), str(second)]
    assert read_rows(api.get("payments/read", key=all_key, payment_id=second))[0] == one(db, "payments",
                                                                                          payment_id=second)
    assert api.post("payments/delete", {"payment_id": first}, key=all_key) == (200, {"success": "True", "count": 1})
    assert one(db, "invoices", invoice_id=invoice)["invoice_status"] == "Partial"
    assert [(r["history_status"], r["history_description"]) for r in fetch(db, "history")] == [
        ("Partial", "Payment added"), ("Paid", "Payment added"), ("Partial", "Payment deleted")]
    logs = [(r["log_type"], r["log_action"], r["log_entity_id"]) for r in log_rows(db)]
    assert logs == [("Invoice", "Payment", str(invoice)), ("API", "Success", "0")] * 2 + \
        [("Invoice", "Edit", str(invoice)), ("API", "Success", "0")]


def test_the_default_account_and_method_come_from_the_settings(api, db, all_key, billing):
    body = refused(_pay(api, all_key, billing["invoice"], 10))
    assert body["message"] == "Missing required field: payment_account_id (and no default payment account is set)."
    with db.transaction(write=True):
        db.update("settings", {"config_default_payment_account": billing["account"],
                               "config_default_payment_method": "Check"}, {"company_id": 1})
    payment = succeeded(_pay(api, all_key, billing["invoice"], 10))["data"][0]["insert_id"]
    row = one(db, "payments", payment_id=payment)
    assert (row["payment_account_id"], row["payment_method"]) == (str(billing["account"]), "Check")


@pytest.mark.parametrize("amount", [0, "0.00", -5, "abc", "0.004"])
def test_an_amount_must_be_more_than_zero(api, db, all_key, billing, amount):
    body = refused(_pay(api, all_key, billing["invoice"], amount, payment_account_id=billing["account"]))
    assert body["message"] == "Field payment_amount must be more than 0 (it is stored to the cent: at least 0.01)."
    assert not fetch(db, "payments") and not fetch(db, "history") and not log_rows(db)


def test_an_over_payment_is_refused_with_the_balance(api, db, all_key, billing):
    succeeded(_pay(api, all_key, billing["invoice"], "60.50", payment_account_id=billing["account"]))
    body = refused(_pay(api, all_key, billing["invoice"], "39.51", payment_account_id=billing["account"]))
    assert body["message"] == ("Payment can not be more than the balance: invoice INV-1 has 39.50 left to pay, "
                               "39.51 was sent (nothing was written).")
    assert len(fetch(db, "payments")) == 1


@pytest.mark.parametrize("status", ["Draft", "Cancelled", "Non-Billable", "Paid"])
def test_an_invoice_the_page_takes_no_payment_on_is_refused(api, db, all_key, billing, status):
    invoice = new_invoice(db, billing["client"], 2, status=status, invoice_amount="50.00")
    body = refused(_pay(api, all_key, invoice, 10, payment_account_id=billing["account"]))
    assert body["message"].startswith(f"Invoice INV-2 is {status}: ")
    assert not fetch(db, "payments") and one(db, "invoices", invoice_id=invoice)["invoice_status"] == status


def test_missing_and_unknown_records_are_refused(api, db, all_key, billing):
    assert refused(api.post("payments/create", {"payment_amount": 5}, key=all_key))["message"] == \
        "Missing required field(s): invoice_id."
    assert refused(_pay(api, all_key, 987654, 5, payment_account_id=billing["account"]))["message"].startswith(
        "No invoice with invoice_id 987654")
    assert refused(_pay(api, all_key, billing["invoice"], 5, payment_account_id=99))["message"] == \
        "No account with account_id 99 (an unarchived row of accounts)."
    assert refused(api.post("payments/delete", {"payment_id": 987654}, key=all_key))["message"].startswith(
        "No payment with payment_id 987654")
    assert not fetch(db, "payments") and not log_rows(db)


def test_a_scoped_key_reaches_only_its_own_clients_invoices(api, db, keys, all_key, billing, make_client):
    other = make_client("Other")
    theirs = new_invoice(db, other, 2, invoice_amount="20.00")
    scoped = make_key(keys, billing["client"])
    assert refused(_pay(api, scoped, theirs, 5, payment_account_id=billing["account"]))["message"].startswith(
        "No invoice with invoice_id")
    their_payment = succeeded(_pay(api, all_key, theirs, 5, payment_account_id=billing["account"]))
    their_payment = their_payment["data"][0]["insert_id"]
    assert refused(api.post("payments/delete", {"payment_id": their_payment}, key=scoped))["message"].startswith(
        "No payment with payment_id")
    assert api.get("payments/read", key=scoped, payment_id=their_payment)[1]["success"] == "False"
    mine = succeeded(_pay(api, scoped, billing["invoice"], 5, payment_account_id=billing["account"]))
    assert [r["payment_id"] for r in read_rows(api.get("payments/read", key=scoped))] == \
        [str(mine["data"][0]["insert_id"])]
    assert len(fetch(db, "payments")) == 2


def test_a_delete_on_a_draft_invoice_keeps_its_status(api, db, all_key, billing):
    invoice = new_invoice(db, billing["client"], 2, status="Draft", invoice_amount="50.00")
    payment = insert(db, "payments", payment_date="2026-01-01", payment_amount="10.00", payment_currency_code="USD",
                     payment_account_id=billing["account"], payment_invoice_id=invoice)
    succeeded(api.post("payments/delete", {"payment_id": payment}, key=all_key))
    assert one(db, "invoices", invoice_id=invoice)["invoice_status"] == "Draft"
    assert [(r["history_status"], r["history_description"]) for r in fetch(db, "history")] == [
        ("Draft", "Payment deleted")]


def test_a_user_key_needs_sales_and_financial(seeded):
    """The page checks module_sales and module_financial, both at level 2; the API's rule
    asks level 3 of a delete (enforce_api_rbac.php, by the endpoint's name)."""
    db, api, keys = seeded["db"], seeded["api"], seeded["keys"]
    expire = (date.today() + timedelta(days=10)).isoformat()
    with db.transaction(write=True):
        sales_only = insert_role(db, "Sales", levels={"module_sales": 3})
        both = insert_role(db, "Billing", levels={"module_sales": 2, "module_financial": 2})
        full = insert_role(db, "Accounts", levels={"module_sales": 3, "module_financial": 3})
        users = [insert_user(db, name, role) for name, role in (("sales", sales_only), ("billing", both),
                                                                 ("accounts", full))]
    sales_key, billing_key, full_key = (keys.create(f"k{u}", expire, u)[0] for u in users)
    body = {"invoice_id": 1, "payment_amount": 10, "payment_account_id": 1}
    status, answer = api.post("payments/create", body, key=sales_key)
    assert status == 403 and answer["success"] == "False"
    payment = succeeded(api.post("payments/create", body, key=billing_key))["data"][0]["insert_id"]
    status, answer = api.post("payments/delete", {"payment_id": payment}, key=billing_key)
    assert status == 403 and answer["success"] == "False"
    assert read_rows(api.get("payments/read", key=billing_key, payment_id=payment))
    succeeded(api.post("payments/delete", {"payment_id": payment}, key=full_key))
    assert not fetch(db, "payments")


def test_payments_at_once_never_pay_more_than_the_invoice(app, db, all_key, billing):
    """Ten payments of 30.00 sent together on an invoice of 100.00: three are stored, seven
    refused as over-payments (the invoice's row is held while its balance is checked)."""
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    from helpers import serving

    def pay(url):
        body = json.dumps({"api_key": all_key, "invoice_id": billing["invoice"], "payment_amount": "30",
                           "payment_account_id": billing["account"]}).encode()
        with urllib.request.urlopen(urllib.request.Request(f"{url}/api/v1/payments/create.php", data=body),
                                    timeout=60) as answer:
            return json.loads(answer.read())["success"]

    with serving(app, threads=10) as url, ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(pay, [url] * 10))
    assert sorted(answers) == ["False"] * 7 + ["True"] * 3
    assert [r["payment_amount"] for r in fetch(db, "payments")] == ["30.00"] * 3
    assert one(db, "invoices", invoice_id=billing["invoice"])["invoice_status"] == "Partial"
