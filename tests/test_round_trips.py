"""How many statements a request costs (issue 12): each one is a round trip to the database,
and on the benchmark's workloads the round trips are most of the time. The counts are pinned
so that a change that adds one is seen; one that removes one updates them here."""
import dataclasses

import pytest
from helpers import BACKEND, Api, make_key

from itflow_api.lib.db.database import Database
from itflow_api.lib.web.app import create_app


@pytest.fixture
def api(config, db, keys):
    """The app with the per-key quota off: its counter is synced once a second per key, not
    per request, so whether a sync falls into a test's request is a matter of timing."""
    limits = dataclasses.replace(config.limits, requests_per_key="0")
    return Api(create_app(dataclasses.replace(config, limits=limits), db, keys))


@pytest.fixture
def statements(monkeypatch):
    """Every statement the database layer sends from now on, COMMIT and ROLLBACK included."""
    sent = []
    run, end = Database._run, Database._end

    def counting_run(self, conn, native, params, fetch):
        sent.append(native.split()[0].upper())
        return run(self, conn, native, params, fetch)

    def counting_end(self, local, how):
        sent.append(how.upper())
        return end(self, local, how)

    monkeypatch.setattr(Database, "_run", counting_run)
    monkeypatch.setattr(Database, "_end", counting_end)
    return sent


# The key's own look-up is one SELECT in each (the tests' key store keeps no cache).
KEY = ["SELECT"]


@pytest.mark.parametrize("by_id", [False, True], ids=["list", "by id"])
def test_a_read_is_the_key_and_one_select(api, keys, make_client, statements, by_id):
    client = make_client("Alpha")
    key = make_key(keys)
    statements.clear()
    status, body = api.get("clients/read", key=key, **({"client_id": client} if by_id else {}))
    assert (status, body["success"], body["count"]) == (200, "True", 1)
    assert statements == KEY + ["SELECT"]


def test_a_ticket_create_reads_once_before_it_writes(api, keys, make_client, statements):
    client = make_client("Alpha")
    key = make_key(keys)
    statements.clear()
    status, body = api.post("tickets/create", {"client_id": client, "ticket_subject": "Printer",
                                               "ticket_priority": "Low"}, key=key)
    assert (status, body["success"]) == (200, "True"), body
    if BACKEND == "mysql":
        # One SELECT answers the prefix, the primary contact and whether the client exists;
        # the number is one UPDATE on a connection of its own; the ticket and both log rows
        # are two INSERTs; the first statement begins the transaction (no BEGIN).
        assert statements == KEY + ["SELECT", "UPDATE", "INSERT", "INSERT", "COMMIT"]
    else:
        # SQLite: BEGIN IMMEDIATE takes the write lock before the key is looked up; the number
        # is an UPDATE and a SELECT inside it. None of these is a network round trip.
        assert statements == ["BEGIN"] + KEY + ["SELECT", "UPDATE", "SELECT", "INSERT", "INSERT", "COMMIT"]


def test_the_folded_select_still_refuses_a_missing_client_and_finds_the_primary_contact(api, db, keys, make_client):
    key = make_key(keys)
    status, body = api.post("tickets/create", {"client_id": 999999, "ticket_subject": "Printer"}, key=key)
    assert (status, body["success"]) == (200, "False") and "999999" in body["message"], body
    with db.transaction():
        assert db.count("tickets", {}) == 0
    client = make_client("Alpha")
    with db.transaction(write=True):
        db.insert("contacts", {"contact_name": "Other", "contact_client_id": client, "contact_primary": 0})
        primary = db.insert("contacts", {"contact_name": "Main", "contact_client_id": client, "contact_primary": 1})
    status, body = api.post("tickets/create", {"client_id": client, "ticket_subject": "Printer"}, key=key)
    assert (status, body["success"]) == (200, "True"), body
    with db.transaction():
        row = db.row("SELECT ticket_contact_id, ticket_prefix FROM tickets WHERE ticket_id = :id",
                     {"id": body["data"][0]["insert_id"]})
    assert row == {"ticket_contact_id": str(primary), "ticket_prefix": "TCK-"}
