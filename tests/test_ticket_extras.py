"""tickets/add_watcher, remove_watcher, add_task, complete_task, uncomplete_task, order_tasks and
merge, side by side with ITFlow's own pages.

tests/itflow_recorded/record_ticket_extras.py ran the newest ITFlow's agent pages (26.08,
database 2.6.7) with php-cli as agent user 1 on the seed of record_ticket_actions.py, one
action per second. Here the same seed goes into a newest-layout database of our own, the same
actions go to our endpoints with a key acting as that agent and the clock at each recorded
instant, and every row of the tables the actions write is compared (ticket_updated_at aside:
the database's own ON UPDATE clock), and the logs rows by what they say about whom (their
wording names the API key, as every API log row does).
"""
import os
from datetime import date, timedelta

import pytest
from helpers import (
    fetch,
    insert_role,
    insert_user,
    ordered_rows,
    page_twin,
    recorded,
    refused,
    succeeded,
)

from itflow_api.lib.access.keys import KeyStore

HERE = os.path.dirname(__file__)
RECORDED = recorded("itflow-newest-ticket-extras.json")
SECRET = b"ticket-extras-tests"
COMPARED = {"tickets": "ticket_id", "ticket_replies": "ticket_reply_id", "ticket_history": "ticket_history_id",
            "sla_history": "sla_history_id", "ticket_watchers": "watcher_id", "tasks": "task_id"}
SKIP = {"ticket_updated_at", "task_updated_at"}  # ON UPDATE CURRENT_TIMESTAMP: the database's clock
LOGGED = ("log_type", "log_action", "log_client_id", "log_user_id", "log_entity_id")


@pytest.fixture
def seeded(newest_database):
    """The recording's seed in an emptied newest-layout database, and a key acting as user 1."""
    cfg, db = newest_database
    return page_twin(cfg, db, RECORDED["seed"], SECRET, ids_from_one=COMPARED)


def _replay(seeded, clock):
    for step in RECORDED["steps"]:
        clock["now"] = step["instant"]
        status, answer = seeded["api"].post(f"tickets/{step['action']}", step["body"], key=seeded["key"])
        assert status == 200 and answer["success"] == "True", (step["step"], answer)



def test_the_actions_store_what_itflows_pages_store(seeded, clock):
    _replay(seeded, clock)
    db, theirs = seeded["db"], RECORDED["rows"]
    for table, order in COMPARED.items():
        ours = ordered_rows(db, table, order)
        assert len(ours) == len(theirs[table]), table
        for our_row, their_row in zip(ours, theirs[table], strict=True):
            assert list(our_row) == list(their_row), table  # same columns, same order
            for column, expected in their_row.items():
                if column not in SKIP:
                    assert our_row[column] == expected, (table, column, our_row, their_row)


def test_the_logs_rows_say_the_same_about_whom_and_what(seeded, clock):
    _replay(seeded, clock)
    everything = ordered_rows(seeded["db"], "logs", "log_id")
    # Deliberate difference: the page's reordering (an ajax call) logs nothing; every API write
    # logs, so order_tasks leaves a Ticket/Edit row of its own.
    reordered = [r for r in everything
                 if r["log_type"] == "Ticket" and r["log_description"].startswith("Reordered the tasks of ticket")]
    assert [(r["log_type"], r["log_action"], r["log_entity_id"]) for r in reordered] == [("Ticket", "Edit", "1")]
    ours = [r for r in everything if r["log_type"] != "API" and r not in reordered]
    theirs = [dict(r) for r in RECORDED["rows"]["logs"]]
    # Deliberate difference: the page's merge logs client 0 and ticket 0; here (as in its bulk
    # merge) the merged ticket's client and id.
    merged = [step["body"]["ticket_id"] for step in RECORDED["steps"] if step["action"] == "merge"]
    clients = {int(r["ticket_id"]): r["ticket_client_id"] for r in RECORDED["seed"]["tickets"]}
    their_merges = [r for r in theirs if r["log_action"] == "Merged"]
    assert [(r["log_client_id"], r["log_entity_id"]) for r in their_merges] == [("0", "0")] * len(merged)
    for row, ticket_id in zip(their_merges, merged, strict=True):
        row["log_client_id"], row["log_entity_id"] = str(clients[ticket_id]), str(ticket_id)
    assert [tuple(r[c] for c in LOGGED) for r in ours] == [tuple(r[c] for c in LOGGED) for r in theirs]
    # Deliberate difference: the description names the key, and the API's own "Success" row
    # follows each, as for every write of this API.
    assert ours[0]["log_description"] == "Added alice@example.com as a watcher for ticket TCK-1 via API (page twin)"
    assert len(everything) == 2 * (len(ours) + len(reordered))
    assert [r["log_description"] for r in ours if r["log_type"] == "Task"][-1] == (
        "Marked task Back up the mailbox as incomplete on ticket TCK-1 via API (page twin)")


def test_what_the_recording_shows():
    rows = RECORDED["rows"]
    assert [(r["watcher_email"], r["watcher_ticket_id"]) for r in rows["ticket_watchers"]] == [
        ("alice@example.com", "1"), ("carol@example.com", "5")]
    assert [r["ticket_history_description"] for r in rows["ticket_history"]][0] == (
        "Agent Smith removed ticket bob@example.com as a watcher")
    tasks = {int(r["task_id"]): r for r in rows["tasks"]}
    assert tasks[3]["task_name"] == "Call the client's office"           # tags stripped, trimmed
    assert (tasks[1]["task_order"], tasks[2]["task_order"]) == ("1", "0")  # reordered
    assert tasks[1]["task_completed_at"] is None and tasks[4]["task_completed_by"] == "1"
    assert [r["ticket_reply"] for r in rows["ticket_replies"]][3] == "Undo Completed Task - Back up the mailbox"


def test_what_the_merges_show():
    rows = RECORDED["rows"]
    tickets = {int(r["ticket_id"]): r for r in rows["tickets"]}
    assert [tickets[n]["ticket_status"] for n in (2, 3, 5)] == ["5", "5", "5"]
    assert tickets[3]["ticket_resolution_sla_met"] == "0"          # closed past its due date
    assert tickets[5]["ticket_first_response_at"] == tickets[5]["ticket_closed_at"]  # none before
    moved = [r for r in rows["ticket_replies"] if r["ticket_reply"] == "Completed Task - Call the client's office"]
    assert moved[0]["ticket_reply_ticket_id"] == "1"                   # ticket 2's reply moved to 1
    assert "Comment: Same printer, again" in rows["ticket_replies"][4]["ticket_reply"]  # tags stripped


def test_merge_rules(seeded):
    db, api, key = seeded["db"], seeded["api"], seeded["key"]
    assert "merge_into_ticket_id" in refused(api.post("tickets/merge", {"ticket_id": 2}, key=key))["message"]
    body = refused(api.post("tickets/merge", {"ticket_id": [2, 1], "merge_into_ticket_id": 1}, key=key))
    assert body["message"] == "Ticket 1 cannot be merged into itself: nothing was changed."
    assert refused(api.post("tickets/merge", {"ticket_id": 2, "merge_into_ticket_id": 99}, key=key))["message"].startswith(
        "No ticket with ticket_id 99")
    assert fetch(db, "tickets", ticket_id=2)[0]["ticket_status"] == "4" and not fetch(db, "ticket_replies")
    assert succeeded(api.post("tickets/merge", {"ticket_id": "2,3", "merge_into_ticket_id": 1}, key=key))["count"] == 2
    body = refused(api.post("tickets/merge", {"ticket_id": 2, "merge_into_ticket_id": 4}, key=key))
    assert body["message"] == "Ticket 2 is closed: a closed ticket cannot be merged (nothing was changed)."


def test_a_user_limited_to_one_client_merges_only_within_its_reach(seeded):
    db, api = seeded["db"], seeded["api"]
    with db.transaction(write=True):
        tech = insert_role(db, "Tech", levels={"module_support": 2})
        user = insert_user(db, "beta-only", tech)
        db.insert("user_client_permissions", {"user_id": user, "client_id": 2})
    key = KeyStore(db, SECRET).create("beta", (date.today() + timedelta(days=10)).isoformat(), user)[0]
    for body in ({"ticket_id": 4, "merge_into_ticket_id": 1}, {"ticket_id": 1, "merge_into_ticket_id": 4}):
        status, answer = api.post("tickets/merge", body, key=key)
        assert answer["success"] == "False", (body, answer)
    assert [r["ticket_status"] for r in fetch(db, "tickets") if r["ticket_id"] in ("1", "4")] == ["1", "4"]


def test_on_a_246_layout_merge_writes_the_pageordered_rows(api, db, all_key, make_client):
    client = make_client("Acme")
    made = [int(succeeded(api.post("tickets/create", {"client_id": client, "ticket_subject": s}, key=all_key))
                ["data"][0]["insert_id"]) for s in ("First", "Second")]
    succeeded(api.post("ticket_replies/create", {"ticket_id": made[1], "ticket_reply": "Hello"}, key=all_key))
    succeeded(api.post("tickets/merge", {"ticket_id": made[1], "merge_into_ticket_id": made[0], "merge_comment": "dup",
                                         "merge_move_replies": 1}, key=all_key))
    merged = fetch(db, "tickets", ticket_id=made[1])[0]
    assert merged["ticket_status"] == "5" and merged["ticket_closed_at"] and merged["ticket_resolved_at"]
    assert [(r["ticket_reply_ticket_id"], r["ticket_reply"][:30]) for r in fetch(db, "ticket_replies")] == [
        (str(made[0]), "Hello"), (str(made[1]), "Ticket TCK-2 merged into <a hr"),
        (str(made[0]), "Ticket TCK-2 was merged into t")]
    assert [r["ticket_history_description"] for r in fetch(db, "ticket_history")] == [
        "API (test key) merged this ticket into TCK-1 and closed it"]


def test_add_task_answers_the_new_task_ids(seeded):
    answer = succeeded(seeded["api"].post("tickets/add_task", {"ticket_id": [1, 3], "task_name": "Reboot"},
                                          key=seeded["key"]))
    stored = [(int(r["task_id"]), int(r["task_ticket_id"])) for r in fetch(seeded["db"], "tasks")]
    assert answer["count"] == 2 and [(d["insert_id"], d["ticket_id"]) for d in answer["data"]] == stored
    assert [ticket for _, ticket in stored] == [1, 3]


# --- tasks: the rules around them -------------------------------------------------------------

def test_task_rules(seeded):
    db, api, key = seeded["db"], seeded["api"], seeded["key"]
    assert refused(api.post("tickets/add_task", {"ticket_id": 1, "task_name": " <b></b> "}, key=key))["message"] == (
        "Missing required field: task_name.")
    assert "at most 255" in refused(api.post("tickets/add_task", {"ticket_id": 1, "task_name": "x" * 256},
                                             key=key))["message"]
    first = succeeded(api.post("tickets/add_task", {"ticket_id": 1, "task_name": "One"}, key=key))["data"][0]["insert_id"]
    other = succeeded(api.post("tickets/add_task", {"ticket_id": 3, "task_name": "Two"}, key=key))["data"][0]["insert_id"]
    assert refused(api.post("tickets/uncomplete_task", {"task_id": first}, key=key))["message"] == (
        f"Task {first} is not completed: nothing was changed.")
    succeeded(api.post("tickets/complete_task", {"task_id": first}, key=key))
    assert "already completed" in refused(api.post("tickets/complete_task", {"task_id": [first, other]},
                                                   key=key))["message"]
    assert fetch(db, "tasks", task_id=other)[0]["task_completed_at"] is None  # all or nothing
    assert refused(api.post("tickets/complete_task", {"task_id": 999}, key=key))["message"].startswith(
        "No task with task_id 999")
    body = refused(api.post("tickets/order_tasks", {"ticket_id": 1, "task_ids": [first, other]}, key=key))
    assert body["message"] == f"Task {other} is not a task of ticket 1: nothing was changed."
    assert refused(api.post("tickets/order_tasks", {"ticket_id": [1, 3], "task_ids": [first]}, key=key))["message"] == (
        "order_tasks takes one ticket_id.")
    assert "task_ids" in refused(api.post("tickets/order_tasks", {"ticket_id": 1}, key=key))["message"]
    succeeded(api.post("tickets/close", {"ticket_id": 3}, key=key))
    assert refused(api.post("tickets/add_task", {"ticket_id": 3, "task_name": "Late"}, key=key))["message"] == (
        "Ticket 3 is closed: tasks cannot be added (nothing was changed).")


def test_a_user_limited_to_one_client_reaches_only_its_tickets_tasks(seeded):
    db, api = seeded["db"], seeded["api"]
    with db.transaction(write=True):
        mine = db.insert("tasks", {"task_name": "Beta's", "task_ticket_id": 4})
        theirs = db.insert("tasks", {"task_name": "Acme's", "task_ticket_id": 1})
        tech = insert_role(db, "Tech", levels={"module_support": 2})
        user = insert_user(db, "beta-only", tech)
        db.insert("user_client_permissions", {"user_id": user, "client_id": 2})
    key = KeyStore(db, SECRET).create("beta", (date.today() + timedelta(days=10)).isoformat(), user)[0]
    status, answer = api.post("tickets/complete_task", {"task_id": theirs}, key=key)
    assert answer["success"] == "False" and fetch(db, "tasks", task_id=theirs)[0]["task_completed_at"] is None
    succeeded(api.post("tickets/complete_task", {"task_id": mine}, key=key))
    assert fetch(db, "tasks", task_id=mine)[0]["task_completed_by"] == str(user)


# --- watchers: the rules around them ---------------------------------------------------------

def test_watcher_addresses_are_checked_and_added_once(seeded):
    db, api, key = seeded["db"], seeded["api"], seeded["key"]
    body = refused(api.post("tickets/add_watcher", {"ticket_id": 1, "watcher_email": "a@example.com; nope"}, key=key))
    assert body["message"].startswith("watcher_email takes e-mail addresses") and "'nope'" in body["message"]
    assert "watcher_email" in refused(api.post("tickets/add_watcher", {"ticket_id": 1, "watcher_email": " ,"},
                                               key=key))["message"]
    assert not fetch(db, "ticket_watchers")
    succeeded(api.post("tickets/add_watcher", {"ticket_id": [1, 3], "watcher_email": ["a@example.com"]}, key=key))
    again = succeeded(api.post("tickets/add_watcher", {"ticket_id": 1, "watcher_email": "A@example.com b@example.com"},
                               key=key))
    assert "a@example.com already watches ticket 1" in again["message"].lower()
    assert sorted((r["watcher_ticket_id"], r["watcher_email"]) for r in fetch(db, "ticket_watchers")) == [
        ("1", "a@example.com"), ("1", "b@example.com"), ("3", "a@example.com")]
    body = refused(api.post("tickets/add_watcher", {"ticket_id": 1, "watcher_email": "a@example.com"}, key=key))
    assert body["message"].startswith("No rows changed")


def test_removing_a_watcher_that_is_not_there_changes_nothing(seeded):
    db, api, key = seeded["db"], seeded["api"], seeded["key"]
    succeeded(api.post("tickets/add_watcher", {"ticket_id": 1, "watcher_email": "a@example.com"}, key=key))
    body = refused(api.post("tickets/remove_watcher", {"ticket_id": 1, "watcher_email": "a@example.com,z@example.com"},
                            key=key))
    assert body["message"] == "z@example.com does not watch ticket 1: nothing was changed."
    assert len(fetch(db, "ticket_watchers")) == 1 and not fetch(db, "ticket_history")


def test_a_closed_ticket_takes_no_watchers(seeded):
    api, key = seeded["api"], seeded["key"]
    succeeded(api.post("tickets/close", {"ticket_id": 4}, key=key))
    body = refused(api.post("tickets/add_watcher", {"ticket_id": 4, "watcher_email": "a@example.com"}, key=key))
    assert body["message"] == "Ticket 4 is closed: watchers cannot be added (nothing was changed)."


def test_a_reader_role_cannot_change_watchers_or_tasks_or_merge(seeded):
    db, api = seeded["db"], seeded["api"]
    key = _reader_key(db)
    with db.transaction(write=True):
        task = db.insert("tasks", {"task_name": "A", "task_ticket_id": 1})
    for action, body in (("add_watcher", {"ticket_id": 1, "watcher_email": "a@example.com"}),
                         ("remove_watcher", {"ticket_id": 1, "watcher_email": "a@example.com"}),
                         ("add_task", {"ticket_id": 1, "task_name": "B"}), ("complete_task", {"task_id": task}),
                         ("uncomplete_task", {"task_id": task}), ("order_tasks", {"ticket_id": 1, "task_ids": [task]}),
                         ("merge", {"ticket_id": 2, "merge_into_ticket_id": 1})):
        status, answer = api.post(f"tickets/{action}", body, key=key)
        assert status == 403 and answer["success"] == "False", (action, answer)
    assert not fetch(db, "ticket_watchers") and len(fetch(db, "tasks")) == 1


def _reader_key(db):
    with db.transaction(write=True):
        reader = db.insert("user_roles", {"role_name": "Reader"})
        support = db.scalar("SELECT module_id AS id FROM modules WHERE module_name = 'module_support'")
        db.insert("user_role_permissions", {"user_role_id": reader, "module_id": int(support),
                                            "user_role_permission_level": 1})
        db.insert("users", {"user_id": 3, "user_name": "Reader", "user_email": "r@example.com", "user_password": "x",
                            "user_role_id": reader})
    return KeyStore(db, SECRET).create("reader", (date.today() + timedelta(days=10)).isoformat(), 3)[0]


# --- on a 2.4.6-layout database of our own (no ticket_watchers, no tasks) ----------------------

@pytest.fixture
def old_ticket(api, all_key, make_client):
    client = make_client("Acme")
    answer = succeeded(api.post("tickets/create", {"client_id": client, "ticket_subject": "S"}, key=all_key))
    return int(answer["data"][0]["insert_id"])


def test_on_a_246_layout_watchers_and_tasks_are_refused_clearly(api, db, all_key, old_ticket):
    body = refused(api.post("tickets/add_watcher", {"ticket_id": old_ticket, "watcher_email": "a@example.com"},
                            key=all_key))
    assert body["message"].startswith("This database has no ticket_watchers table")
    assert [r["log_action"] for r in fetch(db, "logs")] == ["Create", "Success"]  # the ticket's create only
    for action, body in (("add_task", {"ticket_id": old_ticket, "task_name": "T"}), ("complete_task", {"task_id": 1}),
                         ("order_tasks", {"ticket_id": old_ticket, "task_ids": [1]})):
        assert refused(api.post(f"tickets/{action}", body, key=all_key))["message"].startswith(
            "This database has no tasks table"), action


def test_a_scoped_key_adds_watchers_only_to_its_clients_tickets(seeded):
    db, api = seeded["db"], seeded["api"]
    # The seed's key acts as user 1 (an admin); a user limited to client 2 reaches only its tickets.
    with db.transaction(write=True):
        tech = insert_role(db, "Tech", levels={"module_support": 2})
        user = insert_user(db, "beta-only", tech)
        db.insert("user_client_permissions", {"user_id": user, "client_id": 2})
    key = KeyStore(db, SECRET).create("beta", (date.today() + timedelta(days=10)).isoformat(), user)[0]
    status, answer = api.post("tickets/add_watcher", {"ticket_id": 1, "watcher_email": "a@example.com"}, key=key)
    assert answer["success"] == "False" and not fetch(db, "ticket_watchers")
    succeeded(api.post("tickets/add_watcher", {"ticket_id": 4, "watcher_email": "a@example.com"}, key=key))
