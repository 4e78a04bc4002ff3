"""tickets/update with the scheduled time, side by side with ITFlow's agent ticket page.

tests/itflow_recorded/record_ticket_schedule.py ran the newest ITFlow's schedule form and its
cancel link (26.08, database 2.6.7; agent/post/ticket.php edit_ticket_schedule and
cancel_ticket_schedule) with php-cli as agent user 1, one step per second. Here the same seed
goes into a newest-layout database of our own, each step's body goes to tickets/update with a
key acting as that agent and the clock at the recorded instant, and every row of tickets,
ticket_history and ticket_replies is compared (ticket_updated_at aside: the database's own ON
UPDATE clock), and the logs rows by what they say about whom.
"""

import pytest
from helpers import SEED_TABLES, assert_same_log_rows, assert_same_rows, fetch, page_twin, recorded, succeeded

RECORDED = recorded("itflow-newest-ticket-schedule.json")
SECRET = b"ticket-schedule-tests"
COMPARED = {"tickets": "ticket_id", "ticket_history": "ticket_history_id", "ticket_replies": "ticket_reply_id"}
SKIP = {"ticket_updated_at"}  # ON UPDATE CURRENT_TIMESTAMP: the database's own clock
LOGGED = ("log_type", "log_action", "log_client_id", "log_user_id", "log_entity_id")


@pytest.fixture
def seeded(newest_database):
    cfg, db = newest_database
    return page_twin(cfg, db, RECORDED["seed"], SECRET, ids_from_one=("ticket_replies",), tables=SEED_TABLES)


def _replay(seeded, clock):
    for step in RECORDED["steps"]:
        clock["now"] = step["instant"]
        status, answer = seeded["api"].post("tickets/update", step["body"], key=seeded["key"])
        assert status == 200 and answer["success"] == "True", (step["step"], answer)


def test_the_schedule_is_stored_as_itflows_page_stores_it(seeded, clock):
    _replay(seeded, clock)
    db, theirs = seeded["db"], RECORDED["rows"]
    assert_same_rows(db, theirs, COMPARED, SKIP)


def test_the_logs_rows_say_the_same_about_whom_and_what(seeded, clock):
    _replay(seeded, clock)
    assert_same_log_rows(seeded["db"], RECORDED["rows"]["logs"], LOGGED)


def test_what_the_recording_shows():
    rows = RECORDED["rows"]
    tickets = {int(r["ticket_id"]): r for r in rows["tickets"]}
    assert (tickets[1]["ticket_schedule"], tickets[1]["ticket_onsite"]) == (None, "1")  # a cancel keeps onsite
    assert (tickets[3]["ticket_schedule"], tickets[3]["ticket_onsite"]) == ("2030-01-03 15:05:00", "0")
    notes = [r["ticket_reply"] for r in rows["ticket_replies"]]
    assert notes[:2] == ["Ticket scheduled for Wednesday, January 2, 2030 at 9:30am (remote).",
                         "Ticket scheduled for Thursday, January 3, 2030 at 2:05pm (onsite)."]
    assert notes[-1] == "Ticket schedule cancelled."
    assert not rows["ticket_history"]  # the page leaves no history row


def test_nothing_changed_leaves_no_note(seeded, clock):
    db, api, key = seeded["db"], seeded["api"], seeded["key"]
    clock["now"] = "2026-01-02 03:04:05"
    succeeded(api.post("tickets/update", {"ticket_id": 2, "ticket_schedule": "2030-05-06 07:08"}, key=key))
    # the same time again, a clear of a ticket with none, onsite of a ticket with none: no note
    for body in ({"ticket_id": 2, "ticket_schedule": "2030-05-06T07:08:00"}, {"ticket_id": 4, "ticket_schedule": ""},
                 {"ticket_id": 4, "ticket_onsite": 1}):
        status, answer = api.post("tickets/update", body, key=key)
        assert status == 200 and answer["success"] == ("True" if "ticket_onsite" in body else "False"), (body, answer)
    notes = [r["ticket_reply"] for r in fetch(db, "ticket_replies")]
    assert notes == ["Ticket scheduled for Monday, May 6, 2030 at 7:08am (remote)."]
    # null is "not sent": the time stays
    api.post("tickets/update", {"ticket_id": 2, "ticket_schedule": None, "ticket_subject": "S"}, key=key)
    assert fetch(db, "tickets", ticket_id=2)[0]["ticket_schedule"] == "2030-05-06 07:08:00"
