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
import json
import os
from datetime import date, timedelta

import pytest
from helpers import fetch, insert_role, insert_user, ordered_rows, page_twin, read_rows, refused, succeeded

from itflow_api.lib.access.keys import KeyStore

HERE = os.path.dirname(__file__)
with open(os.path.join(HERE, "itflow_recorded", "itflow-newest-recurring.json"), encoding="utf-8") as _handle:
    RECORDED = json.load(_handle)
SECRET = b"recurring-tests"
SEEDED = ("user_roles", "users", "clients", "contacts", "assets")
TICKET_TABLES = {"recurring_tickets": "recurring_ticket_id", "recurring_ticket_assets": "recurring_ticket_id, asset_id",
                 "recurring_ticket_tasks": "recurring_ticket_task_id"}
SKIP = {"recurring_ticket_created_at", "recurring_ticket_updated_at"}  # the database's own clock
LOGGED = ("log_type", "log_action", "log_client_id", "log_user_id", "log_entity_id")
ENDPOINT = {"add_recurring_ticket": "recurring_tickets/create", "edit_recurring_ticket": "recurring_tickets/update",
            "delete_recurring_ticket": "recurring_tickets/delete"}


@pytest.fixture
def seeded(newest_database):
    """The recording's seed in an emptied newest-layout database, and a key acting as user 1."""
    cfg, db = newest_database
    return page_twin(cfg, db, RECORDED["seed"], SECRET, ids_from_one=("recurring_tickets", "recurring_ticket_tasks",
                                                                        "logs"), tables=SEEDED)


def _compare(db, expected, label):
    for table, order in TICKET_TABLES.items():
        ours, theirs = ordered_rows(db, table, order), expected[table]
        assert len(ours) == len(theirs), (label, table, ours)
        for our_row, their_row in zip(ours, theirs, strict=True):
            assert list(our_row) == list(their_row), (label, table)  # same columns, same order
            for column, value in their_row.items():
                if column not in SKIP:
                    assert our_row[column] == value, (label, table, column, our_row, their_row)


def test_recurring_tickets_store_what_itflows_page_stores(seeded, clock):
    db, api = seeded["db"], seeded["api"]
    for step in RECORDED["steps"]:
        clock["now"] = step["instant"]
        status, answer = api.post(ENDPOINT[step["action"]], step["api"], key=seeded["key"])
        assert status == 200 and answer["success"] == "True", (step["step"], answer)
        _compare(db, step["after"], step["step"])
    ours = [r for r in ordered_rows(db, "logs", "log_id") if r["log_type"] != "API"]
    assert [tuple(r[c] for c in LOGGED) for r in ours] == \
        [tuple(r[c] for c in LOGGED) for r in RECORDED["rows"]["logs"]]
    assert ours[0]["log_description"] == "Patch the servers via API (page twin)"


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
    """An ITFlow database older than 2.5.6 has no recurring_ticket_tasks (the next test's
    page_twin makes it again)."""
    db, api, key = seeded["db"], seeded["api"], seeded["key"]
    with db.transaction(write=True):
        db.execute("DROP TABLE recurring_ticket_tasks")
    assert refused(_create(api, key, recurring_ticket_tasks=["Snapshot"]))["message"].startswith(
        "This database has no recurring_ticket_tasks table")
    assert not fetch(db, "recurring_tickets")
    made = int(succeeded(_create(api, key, recurring_ticket_assets=[2]))["data"][0]["insert_id"])
    succeeded(api.post("recurring_tickets/delete", {"recurring_ticket_id": made}, key=key))
    assert not fetch(db, "recurring_tickets") and not fetch(db, "recurring_ticket_assets")
