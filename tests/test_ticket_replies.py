"""ticket_replies (docs/contract.md section 7): the create, and the read joined to the ticket
and scoped through it.

Each test sets up what it needs (rows without a create endpoint are written straight to the
database), makes its calls and asserts the envelopes and stored values exactly: every value
in a row is a string, SQL NULL is None.
"""
import pytest
from helpers import (
    MISSING_ID,
    NO_RESOURCE,
    assert_recent,
    columns,
    created_id,
    fetch,
    ids,
    insert,
    log_rows,
    new_ticket,
    one,
    read_rows,
    refused,
    reply,
    same_refusal,
    set_columns,
)

# --- create -------------------------------------------------------------------------------

def add_reply(api, key, ticket_id, reply="<p>On it</p>", **fields):
    body = {"ticket_id": ticket_id, "ticket_reply": reply, **fields}
    return api.post("ticket_replies/create", {k: v for k, v in body.items() if v is not None}, key=key)


def test_ticket_reply_create_defaults(api, db, all_key, two_clients):
    a, _, _ = two_clients
    ticket_id = new_ticket(db, a)
    before = one(db, "tickets", ticket_id=ticket_id)
    reply_id = created_id(add_reply(api, all_key, ticket_id, '<p>On it <a href="x">now</a></p>'))
    row = one(db, "ticket_replies", ticket_reply_id=reply_id)
    assert (row["ticket_reply"], row["ticket_reply_type"], row["ticket_reply_time_worked"], row["ticket_reply_by"],
            row["ticket_reply_ticket_id"], row["ticket_reply_archived_at"]) == \
        ('<p>On it <a href="x">now</a></p>', "Internal", "00:00:00", "0", str(ticket_id), None)
    assert_recent(row["ticket_reply_created_at"])
    after = one(db, "tickets", ticket_id=ticket_id)
    assert (after["ticket_status"], after["ticket_resolved_at"]) == (before["ticket_status"], None)
    rows = log_rows(db)
    assert len(rows) == 2
    assert (rows[0]["log_type"], rows[0]["log_entity_id"], rows[0]["log_client_id"]) == \
        ("Ticket", str(ticket_id), str(a))
    assert (rows[1]["log_type"], rows[1]["log_action"]) == ("API", "Success")


def test_ticket_reply_time_worked_null_means_not_given(api, db, all_key, two_clients):
    a, _, _ = two_clients
    ticket_id = new_ticket(db, a)
    reply_id = created_id(api.post("ticket_replies/create", {
        "ticket_id": ticket_id, "ticket_reply": "x", "ticket_reply_time_worked": None,
        "ticket_reply_type": None, "ticket_status": None}, key=all_key))
    row = one(db, "ticket_replies", ticket_reply_id=reply_id)
    assert (row["ticket_reply_type"], row["ticket_reply_time_worked"]) == ("Internal", "00:00:00")
    assert one(db, "tickets", ticket_id=ticket_id)["ticket_status"] == "1"


def test_ticket_reply_public_with_time_worked(api, db, all_key, two_clients):
    a, _, _ = two_clients
    ticket_id = new_ticket(db, a)
    reply_id = created_id(add_reply(api, all_key, ticket_id, ticket_reply_type="Public",
                                    ticket_reply_time_worked="01:30:15"))
    row = one(db, "ticket_replies", ticket_reply_id=reply_id)
    assert (row["ticket_reply_type"], row["ticket_reply_time_worked"]) == ("Public", "01:30:15")


@pytest.mark.parametrize("reply_type", ["Client", "Bogus", "Private"])
def test_ticket_reply_type_other_than_internal_or_public_is_refused(api, db, all_key, two_clients, reply_type):
    a, _, _ = two_clients
    ticket_id = new_ticket(db, a)
    assert "ticket_reply_type" in refused(add_reply(api, all_key, ticket_id, ticket_reply_type=reply_type))["message"]
    assert fetch(db, "ticket_replies") == [] and log_rows(db) == []


@pytest.mark.parametrize("worked", ["abc", "1:75:00", "01:30:99", "12", "-01:00:00"])
def test_ticket_reply_bad_time_worked_is_refused(api, db, all_key, two_clients, worked):
    a, _, _ = two_clients
    ticket_id = new_ticket(db, a)
    status, body = add_reply(api, all_key, ticket_id, ticket_reply_time_worked=worked)
    assert (status, body["success"]) == (200, "False")
    assert "ticket_reply_time_worked" in body["message"]
    assert fetch(db, "ticket_replies") == [] and log_rows(db) == []


@pytest.mark.parametrize("missing", ["ticket_id", "ticket_reply"])
def test_ticket_reply_missing_required_field_is_refused(api, db, all_key, two_clients, missing):
    a, _, _ = two_clients
    ticket_id = new_ticket(db, a)
    fields = {"ticket_id": ticket_id, "ticket_reply": "<p>Hi</p>"}
    for value in ((None, "") if missing == "ticket_reply" else (None, 0)):
        body = {**fields, missing: value}
        assert missing in refused(api.post("ticket_replies/create", {k: v for k, v in body.items()
                                                                     if v is not None}, key=all_key))["message"]
    assert fetch(db, "ticket_replies") == [] and log_rows(db) == []


def test_ticket_reply_with_status_moves_the_ticket(api, db, all_key, two_clients):
    a, _, _ = two_clients
    ticket_id = new_ticket(db, a)
    created_id(add_reply(api, all_key, ticket_id, ticket_status=2))
    row = one(db, "tickets", ticket_id=ticket_id)
    assert (row["ticket_status"], row["ticket_resolved_at"]) == ("2", None)
    created_id(add_reply(api, all_key, ticket_id, ticket_status="4"))
    row = one(db, "tickets", ticket_id=ticket_id)
    assert row["ticket_status"] == "4"
    assert_recent(row["ticket_resolved_at"])


def test_ticket_reply_with_unknown_status_is_refused(api, db, all_key, two_clients):
    a, _, _ = two_clients
    ticket_id = new_ticket(db, a)
    before = one(db, "tickets", ticket_id=ticket_id)
    refused(add_reply(api, all_key, ticket_id, ticket_status=9))
    assert one(db, "tickets", ticket_id=ticket_id) == before
    assert fetch(db, "ticket_replies") == [] and log_rows(db) == []


def test_ticket_reply_on_another_clients_ticket_is_refused_like_a_missing_one(api, db, all_key, two_clients):
    a, b, key_a = two_clients
    theirs = new_ticket(db, b, 1)
    before = one(db, "tickets", ticket_id=theirs)
    theirs_result = add_reply(api, key_a, theirs, ticket_status=4)
    refused(theirs_result)
    same_refusal(theirs_result, add_reply(api, key_a, MISSING_ID, ticket_status=4), theirs)
    refused(add_reply(api, all_key, theirs, client_id=a))
    assert one(db, "tickets", ticket_id=theirs) == before
    assert fetch(db, "ticket_replies") == [] and log_rows(db) == []

    mine = new_ticket(db, a, 2)
    reply_id = created_id(add_reply(api, key_a, mine, client_id=b))
    assert one(db, "ticket_replies", ticket_reply_id=reply_id)["ticket_reply_ticket_id"] == str(mine)


# --- read ---------------------------------------------------------------------------------

REPLY_EXTRAS = ["ticket_prefix", "ticket_number", "ticket_subject", "ticket_client_id", "ticket_reply_by_name"]


@pytest.fixture
def conversation(db, two_clients):
    """A ticket of client A with an Internal and a Public reply by a technician and a Client
    reply by a contact whose contact_id equals the technician's user_id."""
    a, b, key_a = two_clients
    tech = insert(db, "users", user_name="Tina Tech", user_email="tina@example.com")
    contact = insert(db, "contacts", contact_id=tech, contact_name="Carl Client", contact_client_id=a)
    assert contact == tech
    ticket_id = new_ticket(db, a, 7, "Printer on fire")
    replies = {
        "Internal": reply(db, ticket_id, "<p>Checked toner</p>", "Internal", tech, "00:15:00"),
        "Client": reply(db, ticket_id, "It is still burning", "Client", contact),
        "Public": reply(db, ticket_id, "<p>Sent a tech</p>", "Public", tech, "01:00:00"),
    }
    return {"a": a, "b": b, "key_a": key_a, "tech": tech, "ticket": ticket_id, "replies": replies}


def test_ticket_replies_read_by_ticket_adds_ticket_fields_and_author_names(api, db, all_key, conversation):
    c = conversation
    other_ticket = new_ticket(db, c["a"], 8, "Other")
    reply(db, other_ticket, "Elsewhere")
    rows = read_rows(api.get("ticket_replies/read", key=all_key, ticket_id=c["ticket"]))
    assert ids(rows, "ticket_reply_id") == [str(c["replies"][t]) for t in ("Internal", "Client", "Public")]
    for row in rows:
        assert list(row) == columns("ticket_replies") + REPLY_EXTRAS
        stored = one(db, "ticket_replies", ticket_reply_id=row["ticket_reply_id"])
        assert {k: row[k] for k in columns("ticket_replies")} == stored
        assert [row[k] for k in REPLY_EXTRAS[:4]] == ["TCK-", "7", "Printer on fire", str(c["a"])]
    assert [r["ticket_reply_by_name"] for r in rows] == ["Tina Tech", "Carl Client", "Tina Tech"]
    assert [r["ticket_reply_time_worked"] for r in rows] == ["00:15:00", None, "01:00:00"]


def test_ticket_replies_read_by_reply_id(api, all_key, conversation):
    c = conversation
    rows = read_rows(api.get("ticket_replies/read", key=all_key, ticket_reply_id=c["replies"]["Client"]))
    assert len(rows) == 1
    assert (rows[0]["ticket_reply"], rows[0]["ticket_reply_type"], rows[0]["ticket_reply_by_name"],
            rows[0]["ticket_number"]) == ("It is still burning", "Client", "Carl Client", "7")
    assert api.get("ticket_replies/read", key=all_key, ticket_reply_id=MISSING_ID) == (200, NO_RESOURCE)
    assert api.get("ticket_replies/read", key=all_key, ticket_id=MISSING_ID) == (200, NO_RESOURCE)


def test_ticket_replies_by_the_api_have_no_author_name(api, all_key, two_clients, db):
    a, _, _ = two_clients
    ticket_id = new_ticket(db, a)
    reply_id = created_id(add_reply(api, all_key, ticket_id))
    row = read_rows(api.get("ticket_replies/read", key=all_key, ticket_reply_id=reply_id))[0]
    assert (row["ticket_reply_by"], row["ticket_reply_by_name"]) == ("0", None)


@pytest.mark.parametrize("reply_type", ["Internal", "Public", "Client"])
def test_ticket_replies_type_filter(api, all_key, conversation, reply_type):
    c = conversation
    rows = read_rows(api.get("ticket_replies/read", key=all_key, ticket_id=c["ticket"], type=reply_type))
    assert ids(rows, "ticket_reply_id") == [str(c["replies"][reply_type])]
    rows = read_rows(api.get("ticket_replies/read", key=all_key, type=reply_type))
    assert ids(rows, "ticket_reply_id") == [str(c["replies"][reply_type])]


def test_ticket_replies_unknown_type_is_refused(api, all_key, conversation):
    status, body = api.get("ticket_replies/read", key=all_key, ticket_id=conversation["ticket"], type="Secret")
    assert (status, body["success"]) == (200, "False") and "type" in body["message"]


def test_archived_ticket_replies_are_hidden_unless_asked_for(api, db, all_key, conversation):
    c = conversation
    archived = c["replies"]["Public"]
    set_columns(db, "ticket_replies", {"ticket_reply_archived_at": "2024-01-31 13:05:00"}, ticket_reply_id=archived)
    visible = [str(c["replies"]["Internal"]), str(c["replies"]["Client"])]
    assert ids(read_rows(api.get("ticket_replies/read", key=all_key, ticket_id=c["ticket"])),
               "ticket_reply_id") == visible
    assert ids(read_rows(api.get("ticket_replies/read", key=all_key)), "ticket_reply_id") == visible
    assert ids(read_rows(api.get("ticket_replies/read", key=all_key, ticket_id=c["ticket"], include_archived=0)),
               "ticket_reply_id") == visible
    assert api.get("ticket_replies/read", key=all_key, ticket_reply_id=archived) == (200, NO_RESOURCE)
    assert api.get("ticket_replies/read", key=all_key, ticket_id=c["ticket"], type="Public") == (200, NO_RESOURCE)

    rows = read_rows(api.get("ticket_replies/read", key=all_key, ticket_id=c["ticket"], include_archived=1))
    assert ids(rows, "ticket_reply_id") == visible + [str(archived)]
    assert rows[-1]["ticket_reply_archived_at"] == "2024-01-31 13:05:00"
    assert ids(read_rows(api.get("ticket_replies/read", key=all_key, ticket_reply_id=archived,
                                 include_archived="1")), "ticket_reply_id") == [str(archived)]


def test_ticket_replies_list_pages_in_id_order(api, all_key, conversation):
    c = conversation
    expected = [str(c["replies"][t]) for t in ("Internal", "Client", "Public")]
    assert ids(read_rows(api.get("ticket_replies/read", key=all_key, limit=2, offset=1)),
               "ticket_reply_id") == expected[1:]
    assert ids(read_rows(api.get("ticket_replies/read", key=all_key, ticket_id=c["ticket"], limit=1)),
               "ticket_reply_id") == expected[:1]


def test_ticket_replies_read_is_scoped_through_the_ticket(api, db, all_key, conversation):
    c = conversation
    their_ticket = new_ticket(db, c["b"], 9, "Their ticket")
    theirs = reply(db, their_ticket, "Private to B")
    key_a = c["key_a"]
    assert api.get("ticket_replies/read", key=key_a, ticket_id=their_ticket) == (200, NO_RESOURCE)
    assert api.get("ticket_replies/read", key=key_a, ticket_reply_id=theirs) == (200, NO_RESOURCE)
    mine = [str(c["replies"][t]) for t in ("Internal", "Client", "Public")]
    assert ids(read_rows(api.get("ticket_replies/read", key=key_a)), "ticket_reply_id") == mine
    assert ids(read_rows(api.get("ticket_replies/read", key=key_a, client_id=c["b"])), "ticket_reply_id") == mine

    assert ids(read_rows(api.get("ticket_replies/read", key=all_key)), "ticket_reply_id") == mine + [str(theirs)]
    assert ids(read_rows(api.get("ticket_replies/read", key=all_key, client_id=c["b"])), "ticket_reply_id") == \
        [str(theirs)]
    assert api.get("ticket_replies/read", key=all_key, ticket_id=their_ticket, client_id=c["a"]) == \
        (200, NO_RESOURCE)
