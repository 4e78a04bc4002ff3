"""tickets/update with the ticket edits of ITFlow's agent ticket page, side by side with it.

tests/itflow_recorded/record_ticket_edit.py posted the newest ITFlow's edit forms (26.08,
database 2.6.7; agent/post/ticket.php edit_ticket, edit_ticket_priority, edit_ticket_contact,
edit_ticket_vendor, edit_ticket_asset, edit_ticket_billable_status) with php-cli as agent user
1, one form per second. Here the same seed goes into a newest-layout database of our own, each
step's body goes to tickets/update with a key acting as that agent and the clock at the
recorded instant, and every row of tickets (the SLA columns included), ticket_history,
sla_history, ticket_assets and ticket_replies is compared (ticket_updated_at aside: the
database's own ON UPDATE clock), and the logs rows by what they say about whom.
"""

import pytest
from helpers import (
    SEED_TABLES,
    assert_same_log_rows,
    assert_same_rows,
    fetch,
    page_twin,
    recorded,
    refused,
    succeeded,
)

RECORDED = recorded("itflow-newest-ticket-edit.json")
SECRET = b"ticket-edit-tests"
COMPARED = {"tickets": "ticket_id", "ticket_history": "ticket_history_id", "sla_history": "sla_history_id",
            "ticket_assets": "ticket_id, asset_id", "ticket_replies": "ticket_reply_id"}
SKIP = {"ticket_updated_at"}  # ON UPDATE CURRENT_TIMESTAMP: the database's own clock
LOGGED = ("log_type", "log_action", "log_client_id", "log_user_id", "log_entity_id")
TABLES = (*SEED_TABLES, "contacts", "vendors", "assets", "sla_assignments")


@pytest.fixture
def seeded(newest_database):
    cfg, db = newest_database
    return page_twin(cfg, db, RECORDED["seed"], SECRET, ids_from_one=("ticket_history", "sla_history"), tables=TABLES)


def _replay(seeded, clock):
    for step in RECORDED["steps"]:
        clock["now"] = step["instant"]
        status, answer = seeded["api"].post("tickets/update", step["body"], key=seeded["key"])
        assert status == 200 and answer["success"] == "True", (step["step"], answer)


def test_the_edits_store_what_itflows_page_stores(seeded, clock):
    _replay(seeded, clock)
    db, theirs = seeded["db"], RECORDED["rows"]
    assert_same_rows(db, theirs, COMPARED, SKIP)


def test_the_logs_rows_say_the_same_about_whom_and_what(seeded, clock):
    _replay(seeded, clock)
    assert_same_log_rows(seeded["db"], RECORDED["rows"]["logs"], LOGGED)


def test_what_the_recording_shows():
    rows = RECORDED["rows"]
    tickets = {int(r["ticket_id"]): r for r in rows["tickets"]}
    assert (tickets[3]["ticket_sla_id"], tickets[3]["ticket_priority"]) == ("2", "Low")  # Bronze now
    assert (tickets[1]["ticket_sla_id"], tickets[1]["ticket_response_due_at"]) == ("0", None)  # no SLA for Critical
    assert rows["sla_history"][0]["sla_history_ended_at"] is not None  # its clock stopped with it
    assert tickets[2]["ticket_resolution_sla_met"] == "1"  # re-judged against the new due date
    history = [r["ticket_history_description"] for r in rows["ticket_history"]]
    assert history[:2] == ["Agent Smith changed priority from High to Low", "Agent Smith assigned the ticket to Bea Tech"]
    assert "Agent Smith changed the contact from No one to Carl Contact" in history
    assert [(r["ticket_id"], r["asset_id"]) for r in rows["ticket_assets"]] == [("1", "3"), ("3", "2"), ("3", "3")]


def test_additional_assets_must_be_the_tickets_clients(seeded):
    db, api, key = seeded["db"], seeded["api"], seeded["key"]
    with db.transaction(write=True):
        db.insert("assets", {"asset_type": "Desktop", "asset_name": "Other", "asset_make": "", "asset_client_id": 2})
    other = int(fetch(db, "assets", asset_name="Other")[0]["asset_id"])
    body = refused(api.post("tickets/update", {"ticket_id": 1, "ticket_assets": [1, other]}, key=key))
    assert body["message"].startswith(f"No asset with asset_id {other} for the ticket's client")
    assert not fetch(db, "ticket_assets")
    assert succeeded(api.post("tickets/update", {"ticket_id": 1, "ticket_assets": "1,2"}, key=key))["count"] == 1
    assert succeeded(api.post("tickets/update", {"ticket_id": 1, "ticket_assets": []}, key=key))["count"] == 1
    assert not fetch(db, "ticket_assets")


def test_on_a_246_layout_additional_assets_are_refused(api, db, all_key, make_client):
    client = make_client("Acme")
    ticket = int(succeeded(api.post("tickets/create", {"client_id": client, "ticket_subject": "S"}, key=all_key))
                 ["data"][0]["insert_id"])
    body = refused(api.post("tickets/update", {"ticket_id": ticket, "ticket_assets": [1]}, key=all_key))
    assert "no ticket_assets table" in body["message"]
    # the priority change still leaves the page's history row
    succeeded(api.post("tickets/update", {"ticket_id": ticket, "ticket_priority": "High"}, key=all_key))
    assert fetch(db, "ticket_history", ticket_history_ticket_id=ticket)[-1]["ticket_history_description"].endswith(
        "changed priority from Low to High")


def test_a_category_by_the_name_of_a_ticket_category(seeded):
    db, api, key = seeded["db"], seeded["api"], seeded["key"]
    with db.transaction(write=True):
        for name, kind in (("Hardware", "Ticket"), ("Network", "Ticket"), ("Travel", "Expense")):
            db.insert("categories", {"category_name": name, "category_type": kind})
        db.insert("categories", {"category_name": "Old", "category_type": "Ticket", "category_archived_at": "2020-01-01"})
    ids = {r["category_name"]: int(r["category_id"]) for r in fetch(db, "categories")}
    succeeded(api.post("tickets/update", {"ticket_id": 1, "ticket_category": " network "}, key=key))
    assert fetch(db, "tickets", ticket_id=1)[0]["ticket_category"] == str(ids["Network"])
    for wrong in ("Travel", "Old", "Nope"):  # another type's, an archived one, none
        body = refused(api.post("tickets/update", {"ticket_id": 1, "ticket_category": wrong}, key=key))
        assert body["message"] == (f"No Ticket category named {wrong!r}: ticket_category takes a category id or one "
                                   f"of: Hardware ({ids['Hardware']}), Network ({ids['Network']}).")
    succeeded(api.post("tickets/update", {"ticket_id": 1, "ticket_category": ids["Hardware"]}, key=key))
    assert fetch(db, "tickets", ticket_id=1)[0]["ticket_category"] == str(ids["Hardware"])
    with db.transaction(write=True):
        db.insert("categories", {"category_name": "hardware", "category_type": "Ticket"})
    body = refused(api.post("tickets/update", {"ticket_id": 1, "ticket_category": "Hardware"}, key=key))
    assert body["message"].startswith("2 of the Ticket category choices are named 'Hardware'")


def test_on_a_246_layout_a_category_is_stored_as_sent(api, db, all_key, make_client):
    # ticket_category is text; without a categories table there is nothing to look a name up in.
    client = make_client("Acme")
    ticket = int(succeeded(api.post("tickets/create", {"client_id": client, "ticket_subject": "S"}, key=all_key))
                 ["data"][0]["insert_id"])
    succeeded(api.post("tickets/update", {"ticket_id": ticket, "ticket_category": "Hardware"}, key=all_key))
    assert fetch(db, "tickets", ticket_id=ticket)[0]["ticket_category"] == "Hardware"
