"""tickets/close, tickets/reopen, tickets/assign and tickets/update by status name.

The side-by-side test: tests/itflow_recorded/record_ticket_actions.py ran the newest ITFlow's
own agent ticket page (agent/post/ticket.php close_ticket, reopen_ticket, assign_ticket; 26.08,
database 2.6.7) with php-cli as agent user 1 on a seeded database, one action per second.
Here the same seed goes into a newest-layout database of our own, the same actions go to our
endpoints with a key acting as that agent and the clock at each recorded instant, and every
row is compared: the tickets (status, assignment, closed/resolved stamps, every SLA column),
ticket_replies, ticket_history and sla_history whole, and the logs rows by what they say
about whom (their wording names the API key, as every API log row does).
"""
import os
from datetime import date, timedelta

import pytest
from helpers import fetch, insert, make_key, ordered_rows, page_twin, recorded, refused, succeeded

from itflow_api.lib.access.keys import KeyStore

HERE = os.path.dirname(__file__)
RECORDED = recorded("itflow-newest-ticket-actions.json")
SECRET = b"ticket-actions-tests"


@pytest.fixture
def seeded(newest_database):
    """The recording's seed in an emptied newest-layout database, and a key acting as user 1."""
    cfg, db = newest_database
    return page_twin(cfg, db, RECORDED["seed"], SECRET)


def _replay(seeded, clock):
    for step in RECORDED["steps"]:
        clock["now"] = step["instant"]
        body = {"ticket_id": step["ticket_id"]}
        if step["action"] == "assign":
            body["ticket_assigned_to"] = step["user"]
        status, answer = seeded["api"].post(f"tickets/{step['action']}", body, key=seeded["key"])
        assert status == 200 and answer == {"success": "True", "count": 1}, (step["step"], answer)



SKIP = {"ticket_updated_at"}  # ON UPDATE CURRENT_TIMESTAMP: the database's own clock, not the action's


def test_close_reopen_and_assign_store_what_itflows_page_stores(seeded, clock):
    _replay(seeded, clock)
    db, theirs = seeded["db"], RECORDED["rows"]
    for table, order in (("tickets", "ticket_id"), ("ticket_replies", "ticket_reply_id"),
                         ("ticket_history", "ticket_history_id"), ("sla_history", "sla_history_id")):
        ours = ordered_rows(db, table, order)
        assert len(ours) == len(theirs[table]), table
        for our_row, their_row in zip(ours, theirs[table], strict=True):
            assert list(our_row) == list(their_row), table  # same columns, same order
            for column, expected in their_row.items():
                if column not in SKIP:
                    assert our_row[column] == expected, (table, column, our_row, their_row)


def test_the_logs_rows_say_the_same_about_whom_and_what(seeded, clock):
    _replay(seeded, clock)
    what = ("log_type", "log_action", "log_client_id", "log_user_id", "log_entity_id")
    ours = [r for r in ordered_rows(seeded["db"], "logs", "log_id") if r["log_type"] == "Ticket"]
    assert [tuple(r[c] for c in what) for r in ours] == [tuple(r[c] for c in what) for r in RECORDED["rows"]["logs"]]
    # Deliberate difference: the description names the key ("... via API (page twin)"), and the
    # API's own "Success" row follows each, as for every write of this API.
    assert ours[0]["log_description"] == "Reassigned ticket TCK-1 via API (page twin)"
    assert len(ordered_rows(seeded["db"], "logs", "log_id")) == 2 * len(RECORDED["steps"])


def test_what_the_recording_shows(seeded, clock):
    """The cases the recording is about, in plain words (a guard against a re-recording that
    no longer exercises them)."""
    tickets = {int(r["ticket_id"]): r for r in RECORDED["rows"]["tickets"]}
    assert tickets[1]["ticket_status"] == "2" and tickets[1]["ticket_assigned_to"] == "0"   # New -> Open, unassigned
    assert tickets[3]["ticket_resolution_sla_met"] == "0" and tickets[3]["ticket_resolved_at"] is None  # closed late
    assert tickets[2]["ticket_resolution_sla_met"] == "1" and tickets[2]["ticket_closed_by"] == "1"
    assert tickets[6]["ticket_resolution_sla_met"] == "0" and tickets[6]["ticket_resolution_sla_alert_stage"] == "2"
    assert tickets[6]["ticket_resolved_at"] is None and tickets[6]["ticket_status"] == "2"  # reopened, miss kept
    # The page's in-app notification (assigning to someone else) is not written here.
    assert len(RECORDED["rows"]["notifications"]) == 1


# --- the same actions on a 2.4.6 database (no SLA tables) and the rules around them -------------

@pytest.fixture
def ticket(api, all_key, make_client):
    client = make_client("Acme")

    def new(**body):
        answer = succeeded(api.post("tickets/create", {"client_id": client, "ticket_subject": "S", **body}, key=all_key))
        return int(answer["data"][0]["insert_id"])
    new.client = client
    return new


def test_on_a_246_database_close_reopen_assign_write_the_pageordered_rows(api, db, all_key, ticket):
    first, second = ticket(), ticket()
    user = insert(db, "users", user_name="Bea Tech", user_email="bea@example.com", user_password="x")
    assert succeeded(api.post("tickets/assign", {"ticket_id": [first, second], "ticket_assigned_to": user},
                              key=all_key))["count"] == 2
    assert succeeded(api.post("tickets/update", {"ticket_id": first, "ticket_status": "resolved"}, key=all_key))
    assert succeeded(api.post("tickets/reopen", {"ticket_id": first}, key=all_key))
    assert succeeded(api.post("tickets/close", {"ticket_id": f"{first}, {second}"}, key=all_key))["count"] == 2
    rows = {int(r["ticket_id"]): r for r in fetch(db, "tickets")}
    assert [(r["ticket_status"], r["ticket_assigned_to"], r["ticket_closed_by"], r["ticket_resolved_at"])
            for r in rows.values()] == [("5", str(user), "0", None)] * 2
    assert all(r["ticket_closed_at"] for r in rows.values())
    assert [r["ticket_history_description"] for r in fetch(db, "ticket_history", ticket_history_ticket_id=first)] == [
        "API (test key) assigned the ticket to Bea Tech", "Status set to Resolved via the API (test key)",
        "API (test key) reopened the ticket", "API (test key) closed the ticket"]
    assert [r["ticket_reply"] for r in fetch(db, "ticket_replies", ticket_reply_ticket_id=second)] == [
        "Ticket re-assigned to Bea Tech.", "Ticket closed."]


def test_update_takes_a_status_name_in_any_case(api, db, all_key, ticket):
    ticket_id = ticket()
    succeeded(api.post("tickets/update", {"ticket_id": ticket_id, "ticket_status": " on hold "}, key=all_key))
    assert fetch(db, "tickets", ticket_id=ticket_id)[0]["ticket_status"] == "3"
    succeeded(api.post("tickets/update", {"ticket_id": ticket_id, "ticket_status": "Resolved"}, key=all_key))
    row = fetch(db, "tickets", ticket_id=ticket_id)[0]
    assert row["ticket_status"] == "4" and row["ticket_resolved_at"] and row["ticket_first_response_at"]
    succeeded(api.post("tickets/update", {"ticket_id": ticket_id, "ticket_status": "CLOSED"}, key=all_key))
    row = fetch(db, "tickets", ticket_id=ticket_id)[0]
    assert row["ticket_status"] == "5" and row["ticket_closed_at"] and row["ticket_closed_by"] == "0"
    succeeded(api.post("tickets/update", {"ticket_id": ticket_id, "ticket_status": 2}, key=all_key))  # ids as before


def test_an_unknown_status_name_is_refused_with_the_names(api, db, all_key, ticket):
    ticket_id = ticket()
    body = refused(api.post("tickets/update", {"ticket_id": ticket_id, "ticket_status": "Done"}, key=all_key))
    assert body["message"] == ("No ticket status named 'Done': ticket_status takes a status id or one of: "
                               "New (1), Open (2), On Hold (3), Resolved (4), Closed (5).")
    body = refused(api.post("tickets/update", {"ticket_id": ticket_id, "ticket_status": 42}, key=all_key))
    assert body["message"].startswith("No ticket status 42: ticket_status takes one of: New (1)")
    assert fetch(db, "tickets", ticket_id=ticket_id)[0]["ticket_status"] == "1"


def test_update_assignment_checks_the_user_and_leaves_history(api, db, all_key, ticket):
    ticket_id = ticket()
    body = refused(api.post("tickets/update", {"ticket_id": ticket_id, "ticket_assigned_to": 99}, key=all_key))
    assert body["message"] == "No user with user_id 99: ticket_assigned_to takes a user id (0 unassigns)."
    user = insert(db, "users", user_name="Bea Tech", user_email="bea@example.com", user_password="x")
    succeeded(api.post("tickets/update", {"ticket_id": ticket_id, "ticket_assigned_to": user}, key=all_key))
    succeeded(api.post("tickets/update", {"ticket_id": ticket_id, "ticket_assigned_to": 0}, key=all_key))
    assert [r["ticket_history_description"] for r in fetch(db, "ticket_history", ticket_history_ticket_id=ticket_id)] \
        == ["API (test key) assigned the ticket to Bea Tech", "API (test key) unassigned the ticket"]


@pytest.mark.parametrize("sent", [[], "", "1,x", [0], True, "-3"])
def test_ticket_ids_must_be_ids(api, all_key, ticket, sent):
    ticket()
    body = refused(api.post("tickets/close", {"ticket_id": sent}, key=all_key))
    assert "ticket_id" in body["message"]


def test_one_bad_ticket_in_a_list_changes_none(api, db, all_key, ticket):
    first = ticket()
    body = refused(api.post("tickets/close", {"ticket_id": [first, 987654]}, key=all_key))
    assert body["message"].startswith("No ticket with ticket_id 987654")
    assert fetch(db, "tickets", ticket_id=first)[0]["ticket_status"] == "1"
    assert not fetch(db, "ticket_replies") and not fetch(db, "ticket_history")


def test_state_rules(api, db, all_key, ticket):
    ticket_id = ticket()
    assert refused(api.post("tickets/reopen", {"ticket_id": ticket_id}, key=all_key))["message"] == (
        f"Ticket {ticket_id} is not resolved: only a resolved ticket can be reopened (nothing was changed).")
    succeeded(api.post("tickets/close", {"ticket_id": ticket_id}, key=all_key))
    assert "already closed" in refused(api.post("tickets/close", {"ticket_id": ticket_id}, key=all_key))["message"]
    assert "cannot be reopened" in refused(api.post("tickets/reopen", {"ticket_id": ticket_id}, key=all_key))["message"]
    assert "cannot be assigned" in refused(api.post("tickets/assign", {"ticket_id": ticket_id,
                                                                        "ticket_assigned_to": 0}, key=all_key))["message"]
    assert "ticket_assigned_to" in refused(api.post("tickets/assign", {"ticket_id": ticket_id}, key=all_key))["message"]


def test_a_scoped_key_reaches_only_its_own_clients_tickets(api, db, keys, all_key, ticket, make_client):
    mine = ticket()
    other = make_client("Other")
    theirs = int(succeeded(api.post("tickets/create", {"client_id": other, "ticket_subject": "T"},
                                    key=all_key))["data"][0]["insert_id"])
    scoped = make_key(keys, ticket.client)
    assert refused(api.post("tickets/close", {"ticket_id": theirs}, key=scoped))["message"].startswith("No ticket")
    assert succeeded(api.post("tickets/close", {"ticket_id": mine}, key=scoped))["count"] == 1
    assert fetch(db, "tickets", ticket_id=theirs)[0]["ticket_status"] == "1"


def test_a_user_key_needs_write_access_to_support(seeded):
    db, api = seeded["db"], seeded["api"]
    with db.transaction(write=True):
        reader = db.insert("user_roles", {"role_name": "Reader"})
        support = db.scalar("SELECT module_id AS id FROM modules WHERE module_name = 'module_support'")
        db.insert("user_role_permissions", {"user_role_id": reader, "module_id": int(support),
                                            "user_role_permission_level": 1})
        db.insert("users", {"user_id": 3, "user_name": "Reader", "user_email": "r@example.com", "user_password": "x",
                            "user_role_id": reader})
    key = KeyStore(db, SECRET).create("reader", (date.today() + timedelta(days=10)).isoformat(), 3)[0]
    for action, body in (("close", {}), ("reopen", {}), ("assign", {"ticket_assigned_to": 0})):
        status, answer = api.post(f"tickets/{action}", {"ticket_id": 1, **body}, key=key)
        assert status == 403 and answer["success"] == "False", (action, answer)
    assert fetch(db, "tickets", ticket_id=1)[0]["ticket_status"] == "1"
