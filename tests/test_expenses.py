"""expenses/create, update and delete, side by side with ITFlow's own expense page.

tests/itflow_recorded/record_expenses.py ran the newest ITFlow's agent expense page (26.08,
database 2.6.7; agent/post/expense.php add_expense, edit_expense, delete_expense) with php-cli
as agent user 1. Here the same seed goes into a newest-layout database of our own, each step's
body goes to our endpoint with a key acting as that agent and the clock at the recorded
instant, and the expenses rows are compared after every step (every column but the created
and updated stamps, which the database's own clock writes), and the logs rows by what they say
about whom.
"""

import pytest
from helpers import (
    assert_same_log_rows,
    assert_same_rows,
    fetch,
    insert_role,
    insert_user,
    page_twin,
    recorded,
    refused,
    succeeded,
)

from itflow_api.lib.access.keys import KeyStore

RECORDED = recorded("itflow-newest-expenses.json")
SECRET = b"expenses-tests"
SKIP = {"expense_created_at", "expense_updated_at"}  # the database's own clock
LOGGED = ("log_type", "log_action", "log_client_id", "log_user_id")
TABLES = ("user_roles", "users", "clients", "vendors", "accounts", "categories")


@pytest.fixture
def seeded(newest_database):
    cfg, db = newest_database
    seed = {**RECORDED["seed"], "settings": {"config_timezone": "UTC"}}  # the recorder left settings as seeded
    return page_twin(cfg, db, seed, SECRET, ids_from_one=("expenses",), tables=TABLES)


def _replay(seeded, clock, check=None):
    for step in RECORDED["steps"]:
        clock["now"] = step["instant"]
        status, answer = seeded["api"].post(f"expenses/{step['function']}", step["body"], key=seeded["key"])
        assert status == 200 and answer["success"] == "True", (step["step"], answer)
        if check:
            check(step)


def test_the_expenses_store_what_itflows_page_stores(seeded, clock):
    def check(step):
        assert_same_rows(seeded["db"], {"expenses": step["after"]}, {"expenses": "expense_id"}, SKIP)
    _replay(seeded, clock, check)


def test_the_logs_rows_say_the_same_about_whom_and_what(seeded, clock):
    _replay(seeded, clock)
    theirs = RECORDED["rows"]["logs"]
    ours = assert_same_log_rows(seeded["db"], theirs, LOGGED)
    # The record's id: the page's create and edit name it, its delete logs 0; here every row names it.
    assert [r["log_entity_id"] for r in theirs] == ["1", "2", "1", "0"]
    assert [r["log_entity_id"] for r in ours] == ["1", "2", "1", "2"]


def test_what_the_recording_shows():
    first, second = RECORDED["steps"][0]["after"][0], RECORDED["steps"][1]["after"][1]
    assert (first["expense_amount"], first["expense_currency_code"]) == ("12.35", "USD")  # to the cent
    assert (second["expense_client_id"], second["expense_description"]) == ("0", "Fuel & oil")  # tags stripped
    assert [r["expense_id"] for r in RECORDED["rows"]["expenses"]] == ["1"]


def test_refusals(seeded):
    db, api, key = seeded["db"], seeded["api"], seeded["key"]
    body = {"expense_date": "2026-12-01", "expense_amount": "5", "client_id": 1}
    message = refused(api.post("expenses/create", {**body, "expense_category_id": "Travel2"}, key=key))["message"]
    assert message == ("No Expense category named 'Travel2': expense_category_id takes a category id or one of: "
                       "Fuel (2), Travel (1).")
    assert "No Expense category with category_id 3" in refused(api.post(
        "expenses/create", {**body, "expense_category_id": 3}, key=key))["message"]  # an Income category
    assert "No account with account_id 9" in refused(api.post(
        "expenses/create", {**body, "expense_account_id": 9}, key=key))["message"]
    assert "expense_amount" in refused(api.post("expenses/create", {"expense_date": "2026-12-01"}, key=key))["message"]
    assert not fetch(db, "expenses")
    made = succeeded(api.post("expenses/create", body, key=key))["data"][0]["insert_id"]
    assert fetch(db, "expenses", expense_id=made)[0]["expense_category_id"] == "0"


def test_user_keys_need_module_financial(seeded):
    db, api = seeded["db"], seeded["api"]
    with db.transaction(write=True):
        writer = insert_role(db, "Books", levels={"module_financial": 2})
        reader = insert_role(db, "Viewer", levels={"module_financial": 1})
        users = insert_user(db, "books", writer), insert_user(db, "viewer", reader)
    store = KeyStore(db, SECRET)
    books, viewer = (store.create(name, "2099-01-01", user)[0] for name, user in zip(("b", "v"), users, strict=True))
    body = {"expense_date": "2026-12-01", "expense_amount": "5", "client_id": 1}
    assert api.post("expenses/create", body, key=viewer)[1]["success"] == "False"
    made = succeeded(api.post("expenses/create", body, key=books))["data"][0]["insert_id"]
    assert api.post("expenses/delete", {"expense_id": made}, key=books)[1]["success"] == "False"  # level 3
    assert fetch(db, "expenses", expense_id=made)


def test_on_a_246_layout_ids_only_and_the_logs_wording(api, db, all_key, make_client):
    client = make_client("Acme")
    body = {"client_id": client, "expense_date": "2026-12-01", "expense_amount": "7.125", "expense_description": "Train"}
    message = refused(api.post("expenses/create", {**body, "expense_category_id": "Travel"}, key=all_key))["message"]
    assert message.startswith("This database has no categories table: expense_category_id takes a category id")
    made = succeeded(api.post("expenses/create", {**body, "expense_category_id": 4}, key=all_key))["data"][0]["insert_id"]
    row = fetch(db, "expenses", expense_id=made)[0]
    assert (row["expense_amount"], row["expense_category_id"]) == ("7.13", "4")
    logs = [r for r in fetch(db, "logs") if r["log_type"] == "Expense"]
    assert logs[-1]["log_description"].startswith("Train via API (")  # the expense and the key, as every write logs


def test_a_client_key_writes_only_its_clients_expenses(api, db, two_clients):
    a, b, key = two_clients
    body = {"expense_date": "2026-12-01", "expense_amount": "1"}
    made = succeeded(api.post("expenses/create", {**body, "client_id": b}, key=key))["data"][0]["insert_id"]
    assert fetch(db, "expenses", expense_id=made)[0]["expense_client_id"] == str(a)  # its own client, whatever sent
    with db.transaction(write=True):
        other = db.insert("expenses", {"expense_date": "2026-12-01", "expense_amount": 1, "expense_currency_code": "USD",
                                       "expense_client_id": b})
    assert api.post("expenses/delete", {"expense_id": other}, key=key)[1]["success"] == "False"
    assert fetch(db, "expenses", expense_id=other)
