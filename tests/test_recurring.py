"""recurring_tickets/read, create, update and delete, side by side with ITFlow's own page
(docs/recurring.md).

tests/itflow_recorded/record_recurring.py ran the newest ITFlow's agent recurring ticket page
(agent/post/recurring_ticket.php add_recurring_ticket, edit_recurring_ticket,
delete_recurring_ticket; 26.08, database 2.6.7) with php-cli as agent user 1, one action per
second, posting the forms as the page's modals post them. Here the same seed goes into a
newest-layout database of our own, the same changes go to our endpoints (only what is set, as
an API caller sends it) with a key acting as that agent and the clock at each recorded instant,
and after every step every row of recurring_tickets, recurring_ticket_assets and
recurring_ticket_tasks is compared (the created and updated stamps aside), and at the end the
logs rows by what they say about whom (their wording names the API key, as every API log row does).
"""
from datetime import date, timedelta

import pytest
from helpers import (
    create_newest_schema,
    fetch,
    insert_role,
    insert_user,
    ordered_rows,
    page_twin,
    read_rows,
    recorded,
    refused,
    succeeded,
)

from itflow_api.lib.access.keys import KeyStore

RECORDED = recorded("itflow-newest-recurring.json")
SECRET = b"recurring-tests"
SEEDED = ("user_roles", "users", "clients", "contacts", "assets", "taxes")
TICKET_TABLES = {"recurring_tickets": "recurring_ticket_id", "recurring_ticket_assets": "recurring_ticket_id, asset_id",
                 "recurring_ticket_tasks": "recurring_ticket_task_id"}
INVOICE_TABLES = {"recurring_invoices": "recurring_invoice_id", "recurring_invoice_items": "item_id",
                  "history": "history_id"}
# The database's own clock (created: the column's default; updated: ON UPDATE CURRENT_TIMESTAMP).
SKIP = {"recurring_ticket_created_at", "recurring_ticket_updated_at", "recurring_invoice_created_at",
        "recurring_invoice_updated_at", "item_created_at", "item_updated_at", "history_created_at"}
LOGGED = ("log_type", "log_action", "log_client_id", "log_user_id", "log_entity_id")
ENDPOINT = {"add_recurring_ticket": "recurring_tickets/create", "edit_recurring_ticket": "recurring_tickets/update",
            "delete_recurring_ticket": "recurring_tickets/delete", "add_recurring_invoice": "recurring_invoices/create",
            "edit_recurring_invoice": "recurring_invoices/update", "delete_recurring_invoice": "recurring_invoices/delete",
            "add_recurring_invoice_item": "recurring_invoice_items/create",
            "edit_recurring_invoice_item": "recurring_invoice_items/update",
            "delete_recurring_invoice_item": "recurring_invoice_items/delete"}


@pytest.fixture
def seeded(newest_database):
    """The recording's seed in an emptied newest-layout database, and a key acting as user 1."""
    cfg, db = newest_database
    return page_twin(cfg, db, RECORDED["seed"], SECRET, tables=SEEDED, ids_from_one=(
        "recurring_tickets", "recurring_ticket_tasks", "recurring_invoices", "recurring_invoice_items", "history",
        "logs"))


def _compare(db, expected, label, tables):
    for table, order in tables.items():
        ours, theirs = ordered_rows(db, table, order), expected[table]
        assert len(ours) == len(theirs), (label, table, ours)
        for our_row, their_row in zip(ours, theirs, strict=True):
            assert list(our_row) == list(their_row), (label, table)  # same columns, same order
            for column, value in their_row.items():
                if column not in SKIP:
                    assert our_row[column] == value, (label, table, column, our_row, their_row)


def _endpoint(step):
    """The endpoint a recorded step is replayed on (a status change of the edit form: pause, resume)."""
    found = ENDPOINT[step["action"]]
    return found.rsplit("/", 1)[0] + "/" + step["endpoint"] if "endpoint" in step else found


def test_recurring_tickets_and_invoices_store_what_itflows_pages_store(seeded, clock):
    db, api = seeded["db"], seeded["api"]
    for step in RECORDED["steps"]:
        clock["now"] = step["instant"]
        status, answer = api.post(_endpoint(step), step["api"], key=seeded["key"])
        assert status == 200 and answer["success"] == "True", (step["step"], answer)
        _compare(db, step["after"], step["step"], {**TICKET_TABLES, **INVOICE_TABLES})
    ours = [r for r in ordered_rows(db, "logs", "log_id") if r["log_type"] != "API"]
    theirs = [dict(r) for r in RECORDED["rows"]["logs"]]
    # Deliberate difference: the page's deletes of a line and of a recurring invoice log entity 0;
    # here the row names the recurring invoice (docs/recurring.md).
    for row, step in zip(theirs[5:], RECORDED["steps"][5:], strict=True):
        if step["action"] == "delete_recurring_invoice_item":
            row["log_entity_id"] = "1"
        elif step["action"] == "delete_recurring_invoice":
            row["log_entity_id"] = str(step["api"]["recurring_invoice_id"])
    assert [tuple(r[c] for c in LOGGED) for r in ours] == [tuple(r[c] for c in LOGGED) for r in theirs]
    assert ours[0]["log_description"] == "Patch the servers via API (page twin)"


def test_what_the_invoice_recording_shows():
    steps = {step["step"]: step["after"] for step in RECORDED["steps"]}
    first_line = steps["add a taxed line, a price with three decimals"]
    item = first_line["recurring_invoice_items"][0]
    assert (item["item_price"], item["item_subtotal"], item["item_tax"], item["item_total"]) == (
        "20.00", "60.00", "12.00", "72.00")                                 # 19.999 x 3 = 59.997, to the cent
    assert first_line["recurring_invoices"][0]["recurring_invoice_amount"] == "72.00"
    invoice = first_line["recurring_invoices"][0]
    assert (invoice["recurring_invoice_prefix"], invoice["recurring_invoice_number"],
            invoice["recurring_invoice_currency_code"], invoice["recurring_invoice_scope"]) == (
        "REC-", "1", "USD", "Managed services")
    assert steps["add an untaxed line whose subtotal rounds up"]["recurring_invoice_items"][1]["item_subtotal"] == "0.50"
    paused = steps["pause the first (the edit form's status 0)"]
    assert paused["recurring_invoices"][0]["recurring_invoice_status"] == "0"
    assert [r["history_status"] for r in paused["history"]][-1] == "0"
    last = RECORDED["steps"][-1]["after"]
    assert last["recurring_invoices"][0]["recurring_invoice_amount"] == "-1.71"  # 0.79 - 2.50: the page's sum
    assert [r["history_recurring_invoice_id"] for r in last["history"]] == ["1", "1", "1", "1"]


def test_what_the_recording_shows():
    first, *_ = RECORDED["steps"]
    row = first["after"]["recurring_tickets"][0]
    assert row["recurring_ticket_subject"] == "Patch the servers"          # tags stripped, trimmed
    assert row["recurring_ticket_next_run"] == row["recurring_ticket_start_date"] == "2027-01-05"
    assert row["recurring_ticket_created_by"] == "1" and row["recurring_ticket_category"] == "3"
    assert [(t["recurring_ticket_task_name"], t["recurring_ticket_task_order"],
             t["recurring_ticket_task_completion_estimate"]) for t in first["after"]["recurring_ticket_tasks"]] == [
        ("Snapshot", "0", "15"), ("Reboot all", "1", "30")]                # the empty one skipped
    assert not RECORDED["steps"][-1]["after"]["recurring_ticket_assets"]   # gone with the recurring ticket
    assert not RECORDED["steps"][-1]["after"]["recurring_ticket_tasks"]


def _create(api, key, **body):
    base = {"client_id": 1, "recurring_ticket_subject": "Rotate the logs", "recurring_ticket_frequency": "Monthly",
            "recurring_ticket_start_date": "2027-03-01"}
    return api.post("recurring_tickets/create", {**base, **body}, key=key)


def test_read_filters_and_fields(seeded):
    api, key = seeded["api"], seeded["key"]
    first = int(succeeded(_create(api, key))["data"][0]["insert_id"])
    succeeded(_create(api, key, recurring_ticket_subject="Renew the certificates", recurring_ticket_frequency="annually",
                      client_id=2))
    rows = read_rows(api.get("recurring_tickets/read", key=key, recurring_ticket_id=first))
    assert [(r["recurring_ticket_subject"], r["recurring_ticket_priority"]) for r in rows] == [("Rotate the logs", "Low")]
    status, answer = api.get("recurring_tickets/read", key=key, filter="recurring_ticket_frequency==Annually",
                             sort="recurring_ticket_id:desc", fields="recurring_ticket_id,recurring_ticket_client_id")
    assert answer["data"] == [{"recurring_ticket_id": "2", "recurring_ticket_client_id": "2"}]


def test_refusals_change_nothing(seeded):
    db, api, key = seeded["db"], seeded["api"], seeded["key"]
    assert refused(_create(api, key, recurring_ticket_frequency="Daily"))["message"] == (
        "recurring_ticket_frequency takes one of: Three Days, Weekly, Biweekly, Monthly, Quarterly, Biannually, "
        "Annually (not 'Daily').")
    assert refused(_create(api, key, recurring_ticket_priority="Whenever"))["message"].startswith(
        "recurring_ticket_priority takes one of: Low, Medium, High, Urgent")
    assert refused(_create(api, key, recurring_ticket_start_date=""))["message"] == (
        "Missing required field(s): recurring_ticket_start_date.")
    assert not fetch(db, "recurring_tickets") and not fetch(db, "logs")
    made = int(succeeded(_create(api, key))["data"][0]["insert_id"])
    body = refused(api.post("recurring_tickets/update", {"recurring_ticket_id": made,
                                                         "recurring_ticket_start_date": "2027-04-01"}, key=key))
    assert body["message"].startswith("recurring_ticket_start_date cannot be changed")
    assert refused(api.post("recurring_tickets/update", {"recurring_ticket_id": 99, "recurring_ticket_subject": "X"},
                            key=key))["message"].startswith("No recurring ticket with recurring_ticket_id 99")


def test_assets_of_another_client_are_left_out_and_said(seeded):
    db, api, key = seeded["db"], seeded["api"], seeded["key"]
    answer = succeeded(_create(api, key, recurring_ticket_assets="2, 4, 2", recurring_ticket_asset_id=4))
    assert "recurring_ticket_assets: 4 is not an asset of client 1" in answer["message"]
    assert "recurring_ticket_asset_id 4 is not a asset of client 1" in answer["message"]
    assert [r["asset_id"] for r in fetch(db, "recurring_ticket_assets")] == ["2"]
    assert fetch(db, "recurring_tickets")[0]["recurring_ticket_asset_id"] == "0"


def test_keys_and_roles(seeded):
    db, api = seeded["db"], seeded["api"]
    expire = (date.today() + timedelta(days=10)).isoformat()
    with db.transaction(write=True):
        reader = insert_role(db, "Reader", levels={"module_support": 1})
        tech = insert_role(db, "Tech", levels={"module_support": 2})
        reading, beta_tech = insert_user(db, "reader", reader), insert_user(db, "beta", tech)
        db.insert("user_client_permissions", {"user_id": beta_tech, "client_id": 2})
    store = KeyStore(db, SECRET)
    read_key, beta_key = store.create("reader", expire, reading)[0], store.create("beta", expire, beta_tech)[0]
    made = int(succeeded(_create(api, seeded["key"]))["data"][0]["insert_id"])
    assert read_rows(api.get("recurring_tickets/read", key=read_key, recurring_ticket_id=made))
    status, answer = _create(api, read_key)
    assert status == 403 and answer["success"] == "False"
    status, answer = api.post("recurring_tickets/update", {"recurring_ticket_id": made, "recurring_ticket_subject": "X"},
                              key=beta_key)
    assert answer["success"] == "False"                                    # client 1: out of the user's reach
    status, answer = api.post("recurring_tickets/delete", {"recurring_ticket_id": made}, key=beta_key)
    assert status == 403 and answer["success"] == "False"                  # delete needs level 3
    assert fetch(db, "recurring_tickets")[0]["recurring_ticket_subject"] == "Rotate the logs"


# --- on a 2.4.6-layout database of our own (init-db makes no recurring_tickets) ----------------

def test_on_a_246_layout_recurring_tickets_are_refused_clearly(api, db, all_key, make_client):
    client = make_client("Acme")
    for status, answer in (
            api.get("recurring_tickets/read", key=all_key),
            _create(api, all_key, client_id=client),
            api.post("recurring_tickets/update", {"recurring_ticket_id": 1, "recurring_ticket_subject": "X"},
                     key=all_key),
            api.post("recurring_tickets/delete", {"recurring_ticket_id": 1}, key=all_key)):
        assert status == 200 and answer["success"] == "False"
        assert answer["message"].startswith("This database has no recurring_tickets table"), answer
    assert not fetch(db, "logs")



def test_before_itflows_database_256_tasks_are_refused_and_the_rest_works(seeded):
    """An ITFlow database older than 2.5.6 has no recurring_ticket_tasks."""
    db, api, key = seeded["db"], seeded["api"], seeded["key"]
    with db.transaction(write=True):
        db.execute("DROP TABLE recurring_ticket_tasks")
    try:
        _without_tasks(db, api, key)
    finally:
        create_newest_schema(db)  # back, for the tests after this one


def _without_tasks(db, api, key):
    assert refused(_create(api, key, recurring_ticket_tasks=["Snapshot"]))["message"].startswith(
        "This database has no recurring_ticket_tasks table")
    assert not fetch(db, "recurring_tickets")
    made = int(succeeded(_create(api, key, recurring_ticket_assets=[2]))["data"][0]["insert_id"])
    succeeded(api.post("recurring_tickets/delete", {"recurring_ticket_id": made}, key=key))
    assert not fetch(db, "recurring_tickets") and not fetch(db, "recurring_ticket_assets")


# --- recurring invoices: the rules around them ------------------------------------------------

def _invoice(api, key, **body):
    base = {"client_id": 1, "recurring_invoice_frequency": "month", "recurring_invoice_next_date": "2027-03-01",
            "recurring_invoice_scope": "Support"}
    return api.post("recurring_invoices/create", {**base, **body}, key=key)


def test_recurring_invoice_refusals_change_nothing(seeded):
    db, api, key = seeded["db"], seeded["api"], seeded["key"]
    assert refused(_invoice(api, key, recurring_invoice_frequency="week"))["message"] == (
        "recurring_invoice_frequency takes month or year (not 'week').")
    assert refused(_invoice(api, key, recurring_invoice_status=0))["message"].startswith(
        "recurring_invoice_status is not set on create")
    assert not fetch(db, "recurring_invoices") and not fetch(db, "history")
    made = int(succeeded(_invoice(api, key))["data"][0]["insert_id"])
    assert refused(api.post("recurring_invoices/resume", {"recurring_invoice_id": made}, key=key))["message"] == (
        f"Recurring invoice {made} is already active: nothing was changed.")
    assert refused(api.post("recurring_invoices/update", {"recurring_invoice_id": made, "recurring_invoice_status": 5},
                            key=key))["message"] == "recurring_invoice_status takes 1 (active) or 0 (inactive)."
    assert refused(api.post("recurring_invoice_items/create", {"recurring_invoice_id": made, "item_name": "X",
                                                               "item_quantity": 1, "item_price": 1, "item_tax_id": 9},
                            key=key))["message"].startswith("No tax with tax_id 9")
    assert refused(api.post("recurring_invoice_items/create", {"recurring_invoice_id": 99, "item_name": "X",
                                                               "item_quantity": 1, "item_price": 1},
                            key=key))["message"].startswith("No recurring invoice with recurring_invoice_id 99")
    assert not fetch(db, "recurring_invoice_items")
    assert [r["history_description"] for r in fetch(db, "history")] == ["Recurring Invoice created"]


def test_recurring_invoice_items_are_read_through_their_invoice(seeded):
    api, key = seeded["api"], seeded["key"]
    made = int(succeeded(_invoice(api, key))["data"][0]["insert_id"])
    for name in ("One", "Two"):
        succeeded(api.post("recurring_invoice_items/create", {"recurring_invoice_id": made, "item_name": name,
                                                              "item_quantity": 1, "item_price": "10"}, key=key))
    rows = read_rows(api.get("recurring_invoice_items/read", key=key, recurring_invoice_id=made))
    assert [r["item_name"] for r in rows] == ["One", "Two"]
    status, answer = api.get("recurring_invoice_items/read", key=key)
    assert answer["success"] == "False" and "recurring_invoice_id or item_id" in answer["message"]
    assert read_rows(api.get("recurring_invoices/read", key=key, recurring_invoice_id=made))[0][
        "recurring_invoice_amount"] == "20.00"
    # The page's sums come from the values as sent, each stored to the cent: 3 x 0.335 = 1.005 (the
    # price is stored 0.34, but the subtotal is 1.01, not 3 x 0.34).
    line = int(succeeded(api.post("recurring_invoice_items/create", {"recurring_invoice_id": made, "item_name": "Three",
                                                                     "item_quantity": 3, "item_price": "0.335"},
                                  key=key))["data"][0]["insert_id"])
    row = read_rows(api.get("recurring_invoice_items/read", key=key, item_id=line))[0]
    assert (row["item_price"], row["item_subtotal"], row["item_total"]) == ("0.34", "1.01", "1.01")


def test_recurring_invoices_need_sales(seeded):
    db, api = seeded["db"], seeded["api"]
    expire = (date.today() + timedelta(days=10)).isoformat()
    with db.transaction(write=True):
        support = insert_role(db, "Support only", levels={"module_support": 3, "module_sales": 1})
        user = insert_user(db, "support", support)
    key = KeyStore(db, SECRET).create("support", expire, user)[0]
    made = int(succeeded(_invoice(api, seeded["key"]))["data"][0]["insert_id"])
    assert read_rows(api.get("recurring_invoices/read", key=key, recurring_invoice_id=made))
    for path, body in (("recurring_invoices/create", {"client_id": 1, "recurring_invoice_frequency": "month",
                                                      "recurring_invoice_next_date": "2027-03-01"}),
                       ("recurring_invoices/pause", {"recurring_invoice_id": made}),
                       ("recurring_invoice_items/create", {"recurring_invoice_id": made, "item_name": "X",
                                                           "item_quantity": 1, "item_price": 1})):
        status, answer = api.post(path, body, key=key)
        assert status == 403 and answer["success"] == "False", (path, answer)
    assert fetch(db, "recurring_invoices")[0]["recurring_invoice_status"] == "1"


def test_on_a_246_layout_recurring_invoices_work_and_their_items_are_refused(api, db, all_key, make_client):
    client = make_client("Acme")
    made = int(succeeded(_invoice(api, all_key, client_id=client))["data"][0]["insert_id"])
    succeeded(api.post("recurring_invoices/pause", {"recurring_invoice_id": made}, key=all_key))
    row = fetch(db, "recurring_invoices")[0]
    assert (row["recurring_invoice_status"], row["recurring_invoice_amount"], row["recurring_invoice_number"]) == (
        "0", "0.00", "1")
    assert refused(api.post("recurring_invoice_items/create", {"recurring_invoice_id": made, "item_name": "X",
                                                               "item_quantity": 1, "item_price": 1},
                            key=all_key))["message"].startswith("This database has no recurring_invoice_items table")
    succeeded(api.post("recurring_invoices/delete", {"recurring_invoice_id": made}, key=all_key))
    assert not fetch(db, "recurring_invoices") and not fetch(db, "history")


def test_a_line_is_reached_through_its_recurring_invoice(seeded):
    """A user limited to client 2 reaches neither client 1's recurring invoice nor its lines; a
    line's version (If-Match) is its own row's, as its read answers it."""
    from itflow_api.lib.core.versions import row_etag
    db, api, key = seeded["db"], seeded["api"], seeded["key"]
    made = int(succeeded(_invoice(api, key))["data"][0]["insert_id"])
    line = int(succeeded(api.post("recurring_invoice_items/create", {"recurring_invoice_id": made, "item_name": "One",
                                                                     "item_quantity": 1, "item_price": "10"},
                                  key=key))["data"][0]["insert_id"])
    expire = (date.today() + timedelta(days=10)).isoformat()
    with db.transaction(write=True):
        sales = insert_role(db, "Sales", levels={"module_sales": 3})
        user = insert_user(db, "beta-sales", sales)
        db.insert("user_client_permissions", {"user_id": user, "client_id": 2})
    beta = KeyStore(db, SECRET).create("beta", expire, user)[0]
    for path, body in (("recurring_invoice_items/create", {"recurring_invoice_id": made, "item_name": "X",
                                                           "item_quantity": 1, "item_price": 1}),
                       ("recurring_invoice_items/update", {"item_id": line, "item_quantity": 5}),
                       ("recurring_invoice_items/delete", {"item_id": line}),
                       ("recurring_invoices/pause", {"recurring_invoice_id": made})):
        status, answer = api.post(path, body, key=beta)
        assert answer["success"] == "False", (path, answer)
    status, answer = api.get("recurring_invoice_items/read", key=beta, item_id=line)
    assert answer["success"] == "False" or answer["data"] == []
    stored = ordered_rows(db, "recurring_invoice_items", "item_id")[0]
    assert stored["item_quantity"] == "1.00"
    stale = '"0123456789abcdef0123456789abcdef"'
    status, answer = api.post("recurring_invoice_items/update", {"item_id": line, "item_quantity": 2}, key=key,
                              headers={"If-Match": stale})
    assert status == 412 and answer["success"] == "False"
    succeeded(api.post("recurring_invoice_items/update", {"item_id": line, "item_quantity": 2}, key=key,
                       headers={"If-Match": row_etag(stored)}))
    assert ordered_rows(db, "recurring_invoices", "recurring_invoice_id")[0]["recurring_invoice_amount"] == "20.00"


@pytest.mark.parametrize("path, id_column, table", [
    ("recurring_tickets", "recurring_ticket_id", "recurring_tickets"),
    ("recurring_invoice_items", "item_id", "recurring_invoice_items")])
def test_a_read_by_id_answers_the_stored_rows_etag_and_304_on_it(seeded, path, id_column, table):
    """What tests/test_conditional.py checks of every read by id, for the modules whose tables
    only a newest-layout database has."""
    from itflow_api.lib.core.versions import row_etag
    api, key = seeded["api"], seeded["key"]
    if path == "recurring_tickets":
        made = int(succeeded(_create(api, key))["data"][0]["insert_id"])
    else:
        invoice = int(succeeded(_invoice(api, key))["data"][0]["insert_id"])
        made = int(succeeded(api.post("recurring_invoice_items/create", {
            "recurring_invoice_id": invoice, "item_name": "One", "item_quantity": 1, "item_price": 1},
            key=key))["data"][0]["insert_id"])
    result = api.client.simulate_get(f"/api/v1/{path}/read.php", params={"api_key": key, id_column: made})
    assert result.status_code == 200 and result.json["success"] == "True"
    assert result.headers["etag"] == row_etag(ordered_rows(seeded["db"], table, id_column)[0])
    again = api.client.simulate_get(f"/api/v1/{path}/read.php", params={"api_key": key, id_column: made},
                                    headers={"If-None-Match": result.headers["etag"]})
    assert (again.status_code, again.text) == (304, "")


def _cursor_walk(api, key, path, **params):
    ids, cursor = [], ""
    while cursor is not None:
        result = api.client.simulate_get(f"/api/v1/{path}.php",
                                         params={"api_key": key, "cursor": cursor, "limit": 3, "total": 1, **params})
        assert result.status_code == 200 and result.json["success"] == "True", result.text
        assert result.headers["x-total-count"] == "7"
        ids += [row for row in result.json["data"]]
        cursor = result.headers.get("x-next-cursor")
        assert len(ids) <= 7
    return ids


def test_the_list_reads_page_by_cursor(seeded):
    """What tests/test_cursors.py checks of every list read, for these two on a newest layout."""
    api, key = seeded["api"], seeded["key"]
    invoice = int(succeeded(_invoice(api, key))["data"][0]["insert_id"])
    for n in range(7):
        succeeded(_create(api, key, recurring_ticket_subject=f"Round {n}"))
        succeeded(api.post("recurring_invoice_items/create", {"recurring_invoice_id": invoice, "item_name": f"Line {n}",
                                                              "item_quantity": 1, "item_price": 1,
                                                              "item_order": n % 2}, key=key))
    tickets = _cursor_walk(api, key, "recurring_tickets/read")
    assert [r["recurring_ticket_subject"] for r in tickets] == [f"Round {n}" for n in range(7)]
    lines = _cursor_walk(api, key, "recurring_invoice_items/read", recurring_invoice_id=invoice)
    assert [r["item_name"] for r in lines] == [f"Line {n}" for n in (0, 2, 4, 6, 1, 3, 5)]  # by item_order, id
