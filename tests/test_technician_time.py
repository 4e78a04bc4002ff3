"""technicians/time (docs/contract.md section 7): time worked per ticket and technician for a
year or a month.

Each test sets up what it needs (rows without a create endpoint are written straight to the
database), makes its calls and asserts the envelopes and stored values exactly: every value
in a row is a string, SQL NULL is None.
"""
from datetime import date, datetime

import pytest
from helpers import (
    MISSING_ID,
    NO_RESOURCE,
    insert,
    new_ticket,
    read_rows,
    reply,
    succeeded,
)

TIME_KEYS = ["ticket_id", "ticket_number", "ticket_subject", "client_id", "company", "technician_id",
             "technician", "time_worked"]
BAD_MONTH = {"success": "False", "message": "Invalid month parameter. Must be between 1 and 12.",
             "count": 0, "data": []}


@pytest.fixture
def timesheet(db, two_clients):
    """Replies in 2024 on three tickets by two technicians, plus noise that must not count."""
    a, b, key_a = two_clients
    tina = insert(db, "users", user_name="Tina", user_email="tina@example.com")
    sam = insert(db, "users", user_name="Sam", user_email="sam@example.com")
    printer = new_ticket(db, a, 9, "Printer")       # number 9 sorts before 10
    server = new_ticket(db, a, 10, "Server")
    network = new_ticket(db, b, 3, "Network")

    def worked(ticket, user, time, when="2024-03-05 10:00:00", reply_type="Internal"):
        reply(db, ticket, "work", reply_type, user, time, ticket_reply_created_at=when)

    worked(printer, tina, "01:30:00")
    worked(printer, tina, "00:45:30", "2024-04-01 00:00:00", "Public")
    worked(printer, sam, "00:10:00")
    worked(server, tina, "00:20:00", "2024-12-31 23:59:59")
    worked(server, sam, "00:00:00")                             # no time: no row
    worked(server, sam, None)                                   # NULL: no row
    worked(network, tina, "03:00:00", "2024-01-01 00:00:00")
    worked(network, sam, "02:00:00", "2023-12-31 23:59:59")     # other year
    worked(network, sam, "02:00:00", "2025-01-01 00:00:00")     # other year
    return {"a": a, "b": b, "key_a": key_a, "tina": tina, "sam": sam,
            "printer": printer, "server": server, "network": network}


def time_row(t, ticket, number, subject, client, company, user, name, total):
    return {"ticket_id": str(t[ticket]), "ticket_number": f"TCK-{number}", "ticket_subject": subject,
            "client_id": str(t[client]), "company": company, "technician_id": str(t[user]),
            "technician": name, "time_worked": total}


def time_rows(result):
    rows = read_rows(result)
    for row in rows:
        assert list(row) == TIME_KEYS, row
    return rows


def test_technician_time_sums_per_ticket_and_technician_for_the_year(api, all_key, timesheet):
    t = timesheet
    status, body = api.get("technicians/time", key=all_key, year=2024)
    assert status == 200
    assert body == {"success": "True", "count": 4, "data": [
        time_row(t, "printer", 9, "Printer", "a", "Alpha", "sam", "Sam", "00:10:00"),
        time_row(t, "printer", 9, "Printer", "a", "Alpha", "tina", "Tina", "02:15:30"),
        time_row(t, "server", 10, "Server", "a", "Alpha", "tina", "Tina", "00:20:00"),
        time_row(t, "network", 3, "Network", "b", "Bravo", "tina", "Tina", "03:00:00"),
    ]}
    for row in body["data"]:
        assert list(row) == TIME_KEYS


def test_technician_time_other_years(api, all_key, timesheet):
    t = timesheet
    assert time_rows(api.get("technicians/time", key=all_key, year=2023)) == \
        [time_row(t, "network", 3, "Network", "b", "Bravo", "sam", "Sam", "02:00:00")]
    assert time_rows(api.get("technicians/time", key=all_key, year="2025")) == \
        [time_row(t, "network", 3, "Network", "b", "Bravo", "sam", "Sam", "02:00:00")]
    assert api.get("technicians/time", key=all_key, year=2022) == (200, NO_RESOURCE)


def test_technician_time_defaults_to_this_year(api, db, all_key, timesheet):
    t = timesheet
    assert api.get("technicians/time", key=all_key) == (200, NO_RESOURCE)
    this_year = date.today().year
    reply(db, t["server"], "today", "Internal", t["sam"], "00:05:00",
          ticket_reply_created_at=datetime.now().strftime("%Y-%m-%d %H:%M:%S"))
    reply(db, t["server"], "last year", "Internal", t["sam"], "07:00:00",
          ticket_reply_created_at=f"{this_year - 1}-06-15 12:00:00")
    assert time_rows(api.get("technicians/time", key=all_key)) == \
        [time_row(t, "server", 10, "Server", "a", "Alpha", "sam", "Sam", "00:05:00")]


@pytest.mark.parametrize("month, expected", [
    (3, [("printer", 9, "Printer", "a", "Alpha", "sam", "Sam", "00:10:00"),
         ("printer", 9, "Printer", "a", "Alpha", "tina", "Tina", "01:30:00")]),
    ("4", [("printer", 9, "Printer", "a", "Alpha", "tina", "Tina", "00:45:30")]),
    (12, [("server", 10, "Server", "a", "Alpha", "tina", "Tina", "00:20:00")]),
    (1, [("network", 3, "Network", "b", "Bravo", "tina", "Tina", "03:00:00")]),
])
def test_technician_time_for_a_month(api, all_key, timesheet, month, expected):
    assert time_rows(api.get("technicians/time", key=all_key, year=2024, month=month)) == \
        [time_row(timesheet, *row) for row in expected]


def test_technician_time_month_without_work_is_no_resource(api, all_key, timesheet):
    assert api.get("technicians/time", key=all_key, year=2024, month=7) == (200, NO_RESOURCE)


@pytest.mark.parametrize("month", [13, "13", 0, "abc", -1, "3.5"])
def test_technician_time_invalid_month(api, all_key, timesheet, month):
    assert api.get("technicians/time", key=all_key, year=2024, month=month) == (200, BAD_MONTH)


def test_technician_time_year_without_a_number_is_year_0_as_in_itflow(api, all_key, timesheet):
    # technicians/time.php:20 reads the year with intval: "twenty" is 0, a year with no rows.
    status, body = api.get("technicians/time", key=all_key, year="twenty")
    assert (status, body["success"]) == (200, "False") and body["message"].startswith("No resource")


def test_technician_time_for_one_technician(api, all_key, timesheet):
    t = timesheet
    assert time_rows(api.get("technicians/time", key=all_key, year=2024, technician_id=t["sam"])) == \
        [time_row(t, "printer", 9, "Printer", "a", "Alpha", "sam", "Sam", "00:10:00")]
    assert [r["ticket_id"] for r in time_rows(api.get("technicians/time", key=all_key, year=2024,
                                                      technician_id=str(t["tina"])))] == \
        [str(t["printer"]), str(t["server"]), str(t["network"])]
    assert api.get("technicians/time", key=all_key, year=2024, technician_id=MISSING_ID) == (200, NO_RESOURCE)


def test_technician_time_scoped_key_sees_only_its_clients_tickets(api, all_key, timesheet):
    t = timesheet
    expected = [time_row(t, "printer", 9, "Printer", "a", "Alpha", "sam", "Sam", "00:10:00"),
                time_row(t, "printer", 9, "Printer", "a", "Alpha", "tina", "Tina", "02:15:30"),
                time_row(t, "server", 10, "Server", "a", "Alpha", "tina", "Tina", "00:20:00")]
    assert time_rows(api.get("technicians/time", key=t["key_a"], year=2024)) == expected
    assert time_rows(api.get("technicians/time", key=t["key_a"], year=2024, client_id=t["b"])) == expected
    assert api.get("technicians/time", key=t["key_a"], year=2023) == (200, NO_RESOURCE)
    assert api.get("technicians/time", key=t["key_a"], year=2024, month=1) == (200, NO_RESOURCE)
    # an all-clients key narrows with client_id
    assert time_rows(api.get("technicians/time", key=all_key, year=2024, client_id=t["b"])) == \
        [time_row(t, "network", 3, "Network", "b", "Bravo", "tina", "Tina", "03:00:00")]


def test_technician_time_totals_past_a_day(api, db, all_key, timesheet):
    t = timesheet
    for _ in range(3):
        reply(db, t["server"], "long", "Internal", t["sam"], "09:40:50", ticket_reply_created_at="2024-06-01 08:00:00")
    rows = time_rows(api.get("technicians/time", key=all_key, year=2024, month=6))
    assert [r["time_worked"] for r in rows] == ["29:02:30"]


def test_technician_time_pages(api, all_key, timesheet):
    rows = time_rows(api.get("technicians/time", key=all_key, year=2024, limit=2, offset=1))
    assert [(r["ticket_id"], r["technician"]) for r in rows] == \
        [(str(timesheet["printer"]), "Tina"), (str(timesheet["server"]), "Tina")]


def test_technician_time_orders_names_ignoring_case(api, db, all_key, make_client):
    lower, upper = make_client("alpha inc"), make_client("Bravo Ltd")
    tech_b = insert(db, "users", user_name="bob", user_email="bob@example.com")
    tech_a = insert(db, "users", user_name="Alice", user_email="alice@example.com")
    first, second = new_ticket(db, lower, 1), new_ticket(db, upper, 2)
    for ticket in (second, first):
        for user in (tech_b, tech_a):
            reply(db, ticket, "w", "Internal", user, "00:01:00", ticket_reply_created_at="2024-02-02 10:00:00")
    rows = time_rows(api.get("technicians/time", key=all_key, year=2024))
    assert [(r["company"], r["technician"]) for r in rows] == \
        [("alpha inc", "Alice"), ("alpha inc", "bob"), ("Bravo Ltd", "Alice"), ("Bravo Ltd", "bob")]


def test_technician_time_ignores_client_replies(api, db, all_key, make_client):
    """A Client reply's ticket_reply_by is a contact id, never a technician's."""
    client = make_client("Acme")
    tech = insert(db, "users", user_name="Tina", user_email="tina@example.com")
    ticket = new_ticket(db, client, 1)
    reply(db, ticket, "from the customer", "Client", tech, "00:30:00", ticket_reply_created_at="2024-03-01 09:00:00")
    reply(db, ticket, "work", "Internal", tech, "00:10:00", ticket_reply_created_at="2024-03-01 10:00:00")
    rows = time_rows(api.get("technicians/time", key=all_key, year=2024))
    assert [(r["technician"], r["time_worked"]) for r in rows] == [("Tina", "00:10:00")]


def test_technician_time_follows_time_entry_edits_and_deletes(api, db, all_key, timesheet):
    """time_entries/update changes what a reply counts; time_entries/delete archives the reply
    (as ITFlow's ticket page does): its time still counts here, as in ITFlow's own
    technicians/time, and no longer with include_archived=0."""
    t = timesheet
    printer_tina = [int(r["ticket_reply_id"]) for r in read_rows(api.get(
        "time_entries/read", key=all_key, ticket_id=t["printer"], technician_id=t["tina"]))]
    assert len(printer_tina) == 2  # 01:30:00 and 00:45:30
    succeeded(api.post("time_entries/update", {"ticket_reply_id": printer_tina[0],
                                               "ticket_reply_time_worked": "00:30:00"}, key=all_key))
    succeeded(api.post("time_entries/delete", {"ticket_reply_id": printer_tina[1]}, key=all_key))
    status, body = api.get("technicians/time", key=all_key, year=2024, include_archived=0)
    assert status == 200 and body["data"][:2] == [
        time_row(t, "printer", 9, "Printer", "a", "Alpha", "sam", "Sam", "00:10:00"),
        time_row(t, "printer", 9, "Printer", "a", "Alpha", "tina", "Tina", "00:30:00")]
    status, body = api.get("technicians/time", key=all_key, year=2024)  # ITFlow's sum: 00:30:00 + 00:45:30
    assert body["data"][1] == time_row(t, "printer", 9, "Printer", "a", "Alpha", "tina", "Tina", "01:15:30")
