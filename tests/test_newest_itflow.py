"""Drop-in on the newest ITFlow (26.08.2, database 2.6.7): which ITFlow a database is, SLAs,
ticket history and the smaller rules since 2.4.6.

The side-by-side test replays the sequence that was sent to a real ITFlow 26.08.2
(tests/itflow_recorded/record_sla_sequence.py) on a newest-layout schema of our own, with the
clock set to the instants ITFlow stamped, and compares what both stored column by column
(tests/itflow_recorded/itflow-newest-sla.json).
"""
import logging
import os
import sys
from datetime import date, datetime, time, timedelta

import pytest
from helpers import NO_RESOURCE, Api, create_newest_schema, fetch, insert, make_key, one, recorded, refused, succeeded

from itflow_api.lib.access import permissions
from itflow_api.lib.access.keys import KeyStore
from itflow_api.lib.core import values as fields
from itflow_api.lib.itflow import schema, sla
from itflow_api.lib.itflow import version as itflow_version
from itflow_api.lib.web.app import create_app

HERE = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(HERE, "itflow_recorded"))
import record_sla_sequence as sequence  # noqa: E402  (the steps and plan ITFlow was given)

RECORDED = recorded("itflow-newest-sla.json")
SECRET = b"newest-itflow-tests"
BUSINESS_HOURS = sla.BusinessCalendar(frozenset({1, 2, 3, 4, 5}), time(9), time(17))


# --- a database in the newest layout, with the plan ITFlow was given ------------------------

@pytest.fixture
def newest(newest_database):
    """An emptied newest-layout database with SEED, an admin user and its key 'side-by-side'."""
    cfg, db = newest_database
    create_newest_schema(db)  # a test may have dropped a table (the 2.5.0 one)
    with db.transaction(write=True):
        for table in schema.tables(schema.NEWEST_VERSION):
            db.execute(f"DELETE FROM {table}")
    create_newest_schema(db)
    plan = sequence.SEED
    with db.transaction(write=True):
        for table in ("clients", "contacts", "slas", "sla_assignments"):
            for row in plan[table]:
                db.insert(table, row)
        db.update("settings", plan["settings"], {"company_id": 1})
        db.update("ticket_statuses", {"ticket_status_pauses_sla": 1}, {"ticket_status_id": plan["pausing_status"]})
        admin_role = db.insert("user_roles", {"role_name": "Administrator", "role_is_admin": 1})
        reader_role = db.insert("user_roles", {"role_name": "Reader"})
        support = db.scalar("SELECT module_id AS id FROM modules WHERE module_name = 'module_support'")
        db.insert("user_role_permissions", {"user_role_id": reader_role, "module_id": int(support),
                                            "user_role_permission_level": 1})
        db.insert("users", {"user_id": 1, "user_name": "API Admin", "user_email": "admin@example.com",
                            "user_password": "x", "user_role_id": admin_role})
        db.insert("users", {"user_id": 2, "user_name": "Reader", "user_email": "reader@example.com",
                            "user_password": "x", "user_role_id": reader_role})
    keys = KeyStore(db, SECRET)
    expire = (date.today() + timedelta(days=10)).isoformat()
    return {"db": db, "api": Api(create_app(cfg, db, keys)),
            "key": keys.create(RECORDED["key_name"], expire, 1)[0],
            "reader_key": keys.create("reader", expire, 2)[0]}


class Clock:
    """fields.now() answering a given instant: every stamp our server writes comes from it."""

    def __init__(self, monkeypatch):
        self.instant = None
        monkeypatch.setattr(fields, "now", lambda: self.instant)

    def at(self, stamp):
        self.instant = stamp
        return self


def _parse(stamp):
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")


# --- which ITFlow ------------------------------------------------------------------------------

def test_the_newest_layout_is_detected_with_its_version_and_rules(newest):
    found = itflow_version.detect(newest["db"])
    assert (found.version, found.user_keys, found.slas, found.sla_pausing, found.rules) == \
        ("2.6.7", True, True, True, "2.5.0+")
    assert found.warning is None
    assert found.describe() == "ITFlow database 2.6.7: keys act as users, SLAs with paused statuses (rules: 2.5.0+)"
    assert found.health()["itflow_database_version"] == "2.6.7"


def test_our_own_246_schema_has_no_slas_and_no_version(db):
    found = itflow_version.detect(db)
    assert (found.version, found.user_keys, found.slas, found.rules) == ("", False, False, "2.4.6")
    assert found.describe() == "ITFlow schema (no version recorded): keys scoped to a client (rules: 2.4.6)"


def test_an_unknown_newer_version_starts_with_a_warning(newest, caplog):
    db = newest["db"]
    with db.transaction(write=True):
        db.update("settings", {"config_current_database_version": "2.9.1"}, {"company_id": 1})
    with caplog.at_level(logging.WARNING, logger="itflow_api"):
        found = itflow_version.detect(db)
    assert found.unknown_newer and found.slas
    assert "2.9.1 is newer than 2.6.7" in caplog.text
    # it still serves, with the newest rules it knows
    status, body = newest["api"].get("tickets/read", key=newest["key"])
    assert status == 200 and body["message"] == NO_RESOURCE["message"]


@pytest.mark.parametrize("version, expected", [("2.4.6", (2, 4, 6)), ("2.10.0", (2, 10, 0)), ("", None), ("x", None)])
def test_versions_compare_as_numbers(version, expected):
    assert itflow_version.parse(version) == expected
    assert itflow_version.at_least("2.10.0", "2.5.0") and not itflow_version.at_least("2.4.9", "2.5.0")


# --- business time, against ITFlow's own functions -------------------------------------------

@pytest.mark.parametrize("case", RECORDED["add_business_minutes"], ids=lambda c: f"{c['start']}+{c['minutes']}")
def test_add_business_minutes_matches_itflow(case):
    assert BUSINESS_HOURS.add_minutes(_parse(case["start"]), case["minutes"]) == _parse(case["due"])


@pytest.mark.parametrize("case", RECORDED["business_minutes_between"], ids=lambda c: f"{c['start']}..{c['end']}")
def test_business_minutes_between_matches_itflow(case):
    assert BUSINESS_HOURS.minutes_between(_parse(case["start"]), _parse(case["end"])) == case["minutes"]


def test_without_a_usable_calendar_the_clock_runs_round_the_clock():
    start = datetime(2026, 12, 5, 22, 0)  # a Saturday night
    for calendar in (sla.BusinessCalendar(frozenset()), sla.BusinessCalendar(frozenset({1}), time(17), time(9))):
        assert calendar.add_minutes(start, 90) == start + timedelta(minutes=90)
        assert calendar.minutes_between(start, start + timedelta(hours=2)) == 120


# --- the side-by-side sequence ----------------------------------------------------------------

def _instants():
    """The instant ITFlow stamped at each step, from what it stored."""
    rows = RECORDED["rows"]
    tickets, replies = iter(rows["tickets"]), iter(rows["ticket_replies"])
    by_number = {}
    found = []
    for _, endpoint, body in sequence.STEPS:
        if endpoint == "tickets/create":
            ticket = next(tickets)
            by_number[f"T{len(by_number) + 1}"] = ticket
            found.append(ticket["ticket_created_at"])
        elif endpoint == "ticket_replies/create":
            found.append(next(replies)["ticket_reply_created_at"])
        else:
            found.append(by_number[body["ticket_id"]]["ticket_resolved_at"])
    return found


def _replay(newest, clock):
    ticket_ids, answers = [], []
    for (label, endpoint, body), instant in zip(sequence.STEPS, _instants(), strict=True):
        clock.at(instant)
        status, answer = newest["api"].post(endpoint, sequence.resolve_ids(body, ticket_ids), key=newest["key"])
        assert status == 200, (label, answer)
        answers.append(answer)
        if endpoint == "tickets/create":
            ticket_ids.append(int(answer["data"][0]["insert_id"]))
    return ticket_ids, answers


def _stored(db, ticket_ids):
    marks = ", ".join(f":t{i}" for i in range(len(ticket_ids)))
    binds = {f"t{i}": t for i, t in enumerate(ticket_ids)}
    with db.transaction():
        return {
            "tickets": db.rows(f"SELECT {', '.join(sequence.TICKET_COLUMNS)} FROM tickets "
                               f"WHERE ticket_id IN ({marks}) ORDER BY ticket_id", binds),
            "ticket_replies": db.rows(f"SELECT {', '.join(sequence.REPLY_COLUMNS)} FROM ticket_replies "
                                      f"WHERE ticket_reply_ticket_id IN ({marks}) ORDER BY ticket_reply_id", binds),
            "ticket_history": db.rows(f"SELECT * FROM ticket_history WHERE ticket_history_ticket_id IN ({marks}) "
                                      "ORDER BY ticket_history_id", binds),
            "sla_history": db.rows(f"SELECT * FROM sla_history WHERE sla_history_ticket_id IN ({marks}) "
                                   "ORDER BY sla_history_id", binds),
        }


ID_COLUMNS = {"ticket_id", "ticket_reply_id", "ticket_history_id", "sla_history_id"}
TICKET_REFERENCES = {"ticket_reply_ticket_id", "ticket_history_ticket_id", "sla_history_ticket_id"}
# ITFlow stamps these with MySQL's NOW() in a later statement of the same request, which may
# fall in the next second; ours carry the request's one instant.
SAME_REQUEST_STAMPS = {"ticket_history_created_at", "sla_history_ended_at"}


def _compare(table, theirs, ours, their_ids, our_ids):
    assert len(ours) == len(theirs), (table, theirs, ours)
    ticket_of = dict(zip(map(str, their_ids), map(str, our_ids), strict=True))
    for their_row, our_row in zip(theirs, ours, strict=True):
        assert list(our_row) == list(their_row), table  # same columns, same order
        for column, expected in their_row.items():
            got = our_row[column]
            if column in ID_COLUMNS:
                continue
            if column in TICKET_REFERENCES:
                expected = ticket_of[expected]
            if column in SAME_REQUEST_STAMPS and expected and got:
                assert 0 <= (_parse(expected) - _parse(got)).total_seconds() <= 1, (table, column, got, expected)
                continue
            assert got == expected, (table, column, our_row, their_row)


def test_same_sequence_stores_what_itflow_26_08_stores(newest, monkeypatch):
    clock = Clock(monkeypatch)
    our_ids, answers = _replay(newest, clock)
    their_ids = [int(r["ticket_id"]) for r in RECORDED["rows"]["tickets"]]
    stored = _stored(newest["db"], our_ids)
    for table in ("tickets", "ticket_replies", "ticket_history"):
        _compare(table, RECORDED["rows"][table], stored[table], their_ids, our_ids)

    # The resolution clock of ticket 1 ran from creation to resolve on both.
    theirs_t1 = [r for r in RECORDED["rows"]["sla_history"] if r["sla_history_ticket_id"] == str(their_ids[0])]
    ours_t1 = [r for r in stored["sla_history"] if r["sla_history_ticket_id"] == str(our_ids[0])]
    _compare("sla_history", theirs_t1, ours_t1, their_ids, our_ids)

    # Known difference 1: ITFlow's ticket_replies/create changes the status without
    # syncTicketSlaClock, so On Hold (a pausing status) does not stop ticket 5's clock there;
    # here it does, as ITFlow's own agent pages do: the clock stops at the hold reply and runs
    # again from the reply that reopens it.
    hold, resume, resolve = _instants()[-3:]
    t5 = our_ids[4]
    assert [(r["sla_history_started_at"], r["sla_history_ended_at"], r["sla_history_minutes"])
            for r in stored["sla_history"] if r["sla_history_ticket_id"] == str(t5)] == [
        (RECORDED["rows"]["tickets"][4]["ticket_created_at"], hold, "0"), (resume, resolve, "0")]
    theirs_t5 = [r for r in RECORDED["rows"]["sla_history"] if r["sla_history_ticket_id"] == str(their_ids[4])]
    assert len(theirs_t5) == 1 and theirs_t5[0]["sla_history_started_at"] == \
        RECORDED["rows"]["tickets"][4]["ticket_created_at"]

    # Known difference 2: ITFlow 26.08 answers "False" to resolving a ticket that has a
    # resolution target although it resolved it (mysqli_affected_rows after the SLA
    # statements); here resolve answers what it did.
    for (label, endpoint, _), theirs, ours in zip(sequence.STEPS, RECORDED["answers"], answers, strict=True):
        if endpoint == "tickets/resolve":
            assert ours == {"success": "True", "count": 1}, label
        elif endpoint == "tickets/create":
            assert ours["success"] == theirs["answer"]["success"] == "True" and ours["count"] == "1", label
        else:
            assert (ours["success"], ours["count"]) == (theirs["answer"]["success"], theirs["answer"]["count"]), label
    assert [a["answer"]["success"] for a in RECORDED["answers"] if "resolve" in a["step"]] == ["False", "True", "False"]


# --- SLA rules in detail (our own clock) ------------------------------------------------------

def _ticket(newest, clock, stamp, **body):
    clock.at(stamp)
    answer = succeeded(newest["api"].post("tickets/create", {"client_id": 1, "ticket_subject": "S", **body},
                                          key=newest["key"]))
    return int(answer["data"][0]["insert_id"])


def _reply(newest, clock, stamp, ticket_id, **body):
    clock.at(stamp)
    succeeded(newest["api"].post("ticket_replies/create", {"client_id": 1, "ticket_id": ticket_id,
                                                           "ticket_reply": "r", **body}, key=newest["key"]))


def test_a_pausing_status_stops_the_clock_and_resuming_moves_the_due_date_out(newest, monkeypatch):
    clock, db = Clock(monkeypatch), newest["db"]
    ticket_id = _ticket(newest, clock, "2026-12-07 10:00:00", ticket_priority="High")  # Monday, Gold: 60/480
    row = one(db, "tickets", ticket_id=ticket_id)
    assert (row["ticket_sla_id"], row["ticket_response_due_at"], row["ticket_resolution_due_at"]) == \
        ("1", "2026-12-07 11:00:00", "2026-12-08 10:00:00")
    _reply(newest, clock, "2026-12-07 10:30:00", ticket_id, ticket_status=3)        # On Hold after 30 minutes
    _reply(newest, clock, "2026-12-07 15:30:00", ticket_id, ticket_status=2,
           ticket_reply_type="Public")                                             # back after 5 hours
    row = one(db, "tickets", ticket_id=ticket_id)
    # 450 business minutes left from 15:30: 90 on Monday, 360 on Tuesday from 09:00
    assert row["ticket_resolution_due_at"] == "2026-12-08 15:00:00"
    assert (row["ticket_first_response_at"], row["ticket_response_sla_met"]) == ("2026-12-07 15:30:00", "0")
    intervals = fetch(db, "sla_history", sla_history_ticket_id=ticket_id)
    assert [(r["sla_history_started_at"], r["sla_history_ended_at"], r["sla_history_minutes"]) for r in intervals] == \
        [("2026-12-07 10:00:00", "2026-12-07 10:30:00", "30"), ("2026-12-07 15:30:00", None, None)]
    clock.at("2026-12-08 16:00:00")
    succeeded(newest["api"].post("tickets/resolve", {"client_id": 1, "ticket_id": ticket_id}, key=newest["key"]))
    row = one(db, "tickets", ticket_id=ticket_id)
    assert (row["ticket_resolved_at"], row["ticket_resolution_sla_met"]) == ("2026-12-08 16:00:00", "0")
    assert fetch(db, "sla_history", sla_history_ticket_id=ticket_id)[1]["sla_history_minutes"] == "510"


def test_deleting_a_ticket_removes_its_clock_intervals(newest, monkeypatch):
    clock, db = Clock(monkeypatch), newest["db"]
    ticket_id = _ticket(newest, clock, "2026-12-07 10:00:00", ticket_priority="High")
    assert len(fetch(db, "sla_history", sla_history_ticket_id=ticket_id)) == 1
    succeeded(newest["api"].post("tickets/delete", {"client_id": 1, "ticket_id": ticket_id}, key=newest["key"]))
    assert fetch(db, "sla_history", sla_history_ticket_id=ticket_id) == []


def test_changing_the_priority_restamps_the_sla(newest, monkeypatch):
    clock, db = Clock(monkeypatch), newest["db"]
    ticket_id = _ticket(newest, clock, "2026-12-07 10:00:00", ticket_priority="Low")
    assert one(db, "tickets", ticket_id=ticket_id)["ticket_sla_id"] == "0"
    clock.at("2026-12-07 10:05:00")
    succeeded(newest["api"].post("tickets/update", {"client_id": 1, "ticket_id": ticket_id,
                                                    "ticket_priority": "Medium"}, key=newest["key"]))
    row = one(db, "tickets", ticket_id=ticket_id)
    # the global Medium default (response only), counted from the ticket's creation
    assert (row["ticket_sla_id"], row["ticket_response_due_at"], row["ticket_resolution_due_at"]) == \
        ("2", "2026-12-07 10:30:00", None)


def test_an_archived_sla_applies_to_nobody(newest, monkeypatch):
    clock, db = Clock(monkeypatch), newest["db"]
    with db.transaction(write=True):
        db.update("slas", {"sla_archived_at": "2026-01-01 00:00:00"}, {"sla_id": 1})
    ticket_id = _ticket(newest, clock, "2026-12-07 10:00:00", ticket_priority="High")
    row = one(db, "tickets", ticket_id=ticket_id)
    assert (row["ticket_sla_id"], row["ticket_response_due_at"]) == ("0", None)
    assert fetch(db, "sla_history", sla_history_ticket_id=ticket_id) == []


def test_a_250_database_has_slas_without_the_paused_clock(newest, monkeypatch):
    """ITFlow 2.5.0 had the SLA tables but not sla_history (2.5.1): due dates and verdicts only."""
    clock, db = Clock(monkeypatch), newest["db"]
    with db.transaction(write=True):
        db.execute("DROP TABLE sla_history")
        db.update("settings", {"config_current_database_version": "2.5.0"}, {"company_id": 1})
    found = itflow_version.detect(db)
    assert (found.slas, found.sla_pausing) == (True, False)
    ticket_id = _ticket(newest, clock, "2026-12-04 16:30:00", ticket_priority="High")  # Friday
    _reply(newest, clock, "2026-12-04 16:40:00", ticket_id, ticket_status=3)
    clock.at("2026-12-07 09:10:00")
    succeeded(newest["api"].post("tickets/resolve", {"client_id": 1, "ticket_id": ticket_id}, key=newest["key"]))
    row = one(db, "tickets", ticket_id=ticket_id)
    assert (row["ticket_response_due_at"], row["ticket_resolution_due_at"], row["ticket_first_response_at"],
            row["ticket_response_sla_met"], row["ticket_resolution_sla_met"]) == \
        ("2026-12-07 09:30:00", "2026-12-07 16:30:00", "2026-12-07 09:10:00", "1", "1")


# --- ticket history on the 2.4.6 layout as well -------------------------------------------------

def test_history_rows_for_resolve_and_status_changes_but_not_for_a_kept_status(api, db, all_key, make_client):
    client = make_client("Acme")
    ticket_id = int(succeeded(api.post("tickets/create", {"client_id": client, "ticket_subject": "S"},
                                       key=all_key))["data"][0]["insert_id"])
    for status in (2, 2, None):
        body = {"ticket_id": ticket_id, "ticket_reply": "r", **({"ticket_status": status} if status else {})}
        succeeded(api.post("ticket_replies/create", body, key=all_key))
    succeeded(api.post("tickets/resolve", {"ticket_id": ticket_id}, key=all_key))
    rows = fetch(db, "ticket_history", ticket_history_ticket_id=ticket_id)
    assert [(r["ticket_history_status"], r["ticket_history_description"]) for r in rows] == [
        ("Open", "Status set to Open via the API (test key)"), ("Resolved", "Resolved via the API (test key)")]
    ticket = one(db, "tickets", ticket_id=ticket_id)
    assert "ticket_sla_id" not in ticket  # the 2.4.6 layout: no SLA columns, nothing stamped


def test_a_reply_with_status_4_resolves_with_one_history_row_and_a_resolved_log(api, db, all_key, make_client):
    client = make_client("Acme")
    ticket_id = int(succeeded(api.post("tickets/create", {"client_id": client, "ticket_subject": "S"},
                                       key=all_key))["data"][0]["insert_id"])
    before = len(fetch(db, "logs"))
    succeeded(api.post("ticket_replies/create", {"ticket_id": ticket_id, "ticket_reply": "done",
                                                 "ticket_reply_type": "PUBLIC", "ticket_status": 4}, key=all_key))
    ticket = one(db, "tickets", ticket_id=ticket_id)
    assert ticket["ticket_status"] == "4" and ticket["ticket_resolved_at"] == ticket["ticket_first_response_at"]
    assert [r["ticket_history_description"] for r in fetch(db, "ticket_history", ticket_history_ticket_id=ticket_id)] \
        == ["Resolved via the API (test key)"]
    logs = fetch(db, "logs")[before:]
    assert [(r["log_type"], r["log_action"]) for r in logs] == [("Ticket", "Resolved"), ("Ticket", "Reply"),
                                                               ("API", "Success")]
    assert one(db, "ticket_replies", ticket_reply_ticket_id=ticket_id)["ticket_reply_type"] == "Public"


def test_ticket_status_0_on_a_reply_leaves_the_status(api, db, all_key, make_client):
    client = make_client("Acme")
    ticket_id = int(succeeded(api.post("tickets/create", {"client_id": client, "ticket_subject": "S"},
                                       key=all_key))["data"][0]["insert_id"])
    succeeded(api.post("ticket_replies/create", {"ticket_id": ticket_id, "ticket_reply": "r", "ticket_status": 0},
                       key=all_key))
    assert one(db, "tickets", ticket_id=ticket_id)["ticket_status"] == "1"
    assert fetch(db, "ticket_history", ticket_history_ticket_id=ticket_id) == []


# --- the smaller rules ---------------------------------------------------------------------------

@pytest.mark.parametrize("function, level", [("read", 1), ("create", 2), ("update", 2), ("archive", 2),
                                             ("unarchive", 2), ("resolve", 2), ("time", 2), ("delete", 3)])
def test_permission_level_follows_the_endpoint_file(function, level):
    assert permissions.required_level("GET" if function in ("read", "time") else "POST", function) == level


def test_technicians_time_needs_level_2(newest):
    api = newest["api"]
    status, body = api.get("technicians/time", key=newest["reader_key"])
    assert (status, body["message"]) == (403, permissions.NO_PERMISSION)
    status, body = api.get("tickets/read", key=newest["reader_key"])
    assert status == 200  # level 1 reads
    status, body = api.get("technicians/time", key=newest["key"])
    assert status == 200  # the admin passes


DECRYPT = "decrypt-pw"


@pytest.mark.parametrize("field, size", [("credential_password", 351), ("credential_username", 351),
                                         ("credential_password", 150)])
def test_credential_too_long_to_store_writes_nothing(api, db, keys, make_client, field, size):
    client = make_client("Acme")
    key = make_key(keys, decrypt_password=DECRYPT)
    body = refused(api.post("credentials/create", {"client_id": client, "credential_name": "c", field: "x" * size,
                                                   "api_key_decrypt_password": DECRYPT}, key=key))
    # ITFlow's words; 150 is within its 350 but the 2.4.6 varbinary(200) cannot hold it encrypted
    assert body["message"] == f"{field} is too long to store."
    assert fetch(db, "credentials") == []


def test_credential_password_of_350_fits_the_newest_layout(newest):
    db, api = newest["db"], newest["api"]
    keys = KeyStore(db, SECRET)
    expire = (date.today() + timedelta(days=10)).isoformat()
    key = keys.create("vault", expire, 1, DECRYPT)[0]
    answer = succeeded(api.post("credentials/create", {"client_id": 1, "credential_name": "c",
                                                       "credential_password": "p" * 350,
                                                       "api_key_decrypt_password": DECRYPT}, key=key))
    credential_id = answer["data"][0]["insert_id"]
    assert len(one(db, "credentials", credential_id=credential_id)["credential_password"]) <= 500
    body = succeeded(api.get("credentials/read", key=key, credential_id=credential_id, api_key_decrypt_password=DECRYPT))
    assert body["data"][0]["credential_password"] == "p" * 350


@pytest.mark.parametrize("module, columns", [
    ("contacts", {"contact_name": "Pat", "contact_email": "pat@b.example"}),
    ("credentials", {"credential_name": "router"}),
])
def test_updates_stay_within_the_write_client(api, db, keys, make_client, module, columns):
    a, b = make_client("Alpha"), make_client("Bravo")
    key = make_key(keys, decrypt_password=DECRYPT)
    singular = module[:-1]
    record_id = insert(db, module, **columns, **{f"{singular}_client_id": b})
    before = one(db, module, **{f"{singular}_id": record_id})
    secret = {"api_key_decrypt_password": DECRYPT} if module == "credentials" else {}
    # an all-clients key naming client A cannot touch B's record, nor can a key scoped to A
    scoped = make_key(keys, client_id=a, decrypt_password=DECRYPT, unlock_key=key, unlock_password=DECRYPT)
    for presented, named in ((key, {"client_id": a}), (scoped, {})):
        refused(api.post(f"{module}/update", {f"{singular}_id": record_id, f"{singular}_notes"
                                              if module == "contacts" else "credential_note": "moved",
                                              **named, **secret}, key=presented))
    assert one(db, module, **{f"{singular}_id": record_id}) == before
    succeeded(api.post(f"{module}/update", {f"{singular}_id": record_id, "client_id": b, **secret,
                                            (f"{singular}_notes" if module == "contacts" else "credential_note"):
                                            "kept"}, key=key))


def test_expenses_read_is_scoped_by_client(api, db, keys, make_client):
    a, b = make_client("Alpha"), make_client("Bravo")
    ids = {client: insert(db, "expenses", expense_description=f"of {client}", expense_date="2026-01-02",
                          expense_amount="1.00", expense_currency_code="USD", expense_client_id=client)
           for client in (a, b, 0)}
    scoped = make_key(keys, client_id=a)
    body = succeeded(api.get("expenses/read", key=scoped))
    assert [r["expense_client_id"] for r in body["data"]] == [str(a)]
    assert api.get("expenses/read", key=scoped, expense_id=ids[b]) == (200, NO_RESOURCE)
    everyone = make_key(keys)
    assert [r["expense_client_id"] for r in succeeded(api.get("expenses/read", key=everyone, client_id=b))["data"]] \
        == [str(b)]  # the client_id narrowing 2.4.6 clients use is kept


def test_user_key_reads_include_client_0(newest):
    db, api = newest["db"], newest["api"]
    with db.transaction(write=True):
        db.insert("user_client_permissions", {"user_id": 2, "client_id": 1, "permission_type": "allow"})
        for client in (0, 1, 2):
            db.insert("tickets", {"ticket_number": 100 + client, "ticket_subject": f"of {client}", "ticket_details": "",
                                  "ticket_status": 1, "ticket_created_by": 0, "ticket_client_id": client})
    body = succeeded(api.get("tickets/read", key=newest["reader_key"]))
    assert sorted(r["ticket_subject"] for r in body["data"]) == ["of 0", "of 1"]
    # ITFlow 26.08 ignores client_id on reads; the narrowing 2.4.6 clients rely on is kept
    body = succeeded(api.get("tickets/read", key=newest["reader_key"], client_id=1))
    assert [r["ticket_subject"] for r in body["data"]] == ["of 1"]


def test_a_status_change_through_update_leaves_a_history_row(api, db, all_key, make_client):
    client = make_client("Acme")
    ticket_id = int(succeeded(api.post("tickets/create", {"client_id": client, "ticket_subject": "S"},
                                       key=all_key))["data"][0]["insert_id"])
    for status in (3, 3, 4):
        api.post("tickets/update", {"ticket_id": ticket_id, "ticket_status": status}, key=all_key)
    assert [r["ticket_history_description"] for r in fetch(db, "ticket_history", ticket_history_ticket_id=ticket_id)] \
        == ["Status set to On Hold via the API (test key)", "Status set to Resolved via the API (test key)"]
