"""document_folders/rename, documents/move and time_entries read/update/delete
(docs/documents-and-time.md).

The side-by-side tests: tests/itflow_recorded/record_documents_time.py ran the newest ITFlow's
own agent pages (26.08, database 2.6.7) with php-cli as agent user 1 on a seeded database, one
action per second. Here the same seed goes into a newest-layout database of our own, the same
actions go to our endpoints with a key acting as that agent and the clock at each recorded
instant, and every row is compared whole (the ids and timestamps too, but for the ones the
database's own clock stamps), and the logs rows by what they say about whom (their wording
names the API key, as every API log row does).
"""
from datetime import date, timedelta

import pytest
from helpers import (
    Api,
    fetch,
    insert_role,
    insert_user,
    log_rows,
    make_key,
    page_twin,
    refused,
    succeeded,
    user_keys_database,
)
from helpers import recorded as load_recording

from itflow_api.lib.access.keys import KeyStore
from itflow_api.lib.itflow import schema
from itflow_api.lib.web.app import create_app

SECRET = b"documents-and-time-tests"


FOLDERS = load_recording("itflow-newest-document-folders.json")


def _seeded(newest_database, recorded):
    cfg, db = newest_database
    return page_twin(cfg, db, recorded["seed"], SECRET, tables=None)


def _replay(seeded, clock, recorded, endpoint_of):
    for step in recorded["steps"]:
        clock["now"] = step["instant"]
        path, body = endpoint_of(step)
        status, answer = seeded["api"].post(path, body, key=seeded["key"])
        assert status == 200 and answer["success"] == "True" and answer["count"] == 1, (step["step"], answer)


def _rows(db, table, order):
    with db.transaction():
        return db.rows(f"SELECT * FROM {table} ORDER BY {order}")


def _same_rows(db, recorded, tables, skip=()):
    for table, order in tables:
        ours, theirs = _rows(db, table, order), recorded["rows"][table]
        assert len(ours) == len(theirs), table
        for our_row, their_row in zip(ours, theirs, strict=True):
            assert list(our_row) == list(their_row), table  # same columns, same order
            for column, expected in their_row.items():
                if column not in skip:
                    assert our_row[column] == expected, (table, column, our_row, their_row)


def _same_log_rows(db, recorded):
    what = ("log_type", "log_action", "log_client_id", "log_user_id", "log_entity_id")
    ours = [r for r in _rows(db, "logs", "log_id") if r["log_type"] != "API"]
    assert [tuple(r[c] for c in what) for r in ours] == [tuple(r[c] for c in what) for r in recorded["rows"]["logs"]]
    # Every API write also leaves its "API"/"Success" row.
    assert len(_rows(db, "logs", "log_id")) == 2 * len(recorded["steps"])
    return ours


# --- document_folders/rename and documents/move, side by side with the page -------------------

def _folder_endpoint(step):
    fields_sent = step["fields"]
    if step["action"] == "rename_folder":
        return "document_folders/rename", {"folder_id": fields_sent["folder_id"],
                                           "folder_name": fields_sent["folder_name"]}
    return "documents/move", {"document_id": fields_sent["document_id"], "folder_id": fields_sent["folder"]}


@pytest.fixture
def folders_seeded(newest_database):
    return _seeded(newest_database, FOLDERS)


def test_rename_and_move_store_what_itflows_pages_store(folders_seeded, clock):
    _replay(folders_seeded, clock, FOLDERS, _folder_endpoint)
    # Every column, document_updated_at too: a move keeps it, as the page does.
    _same_rows(folders_seeded["db"], FOLDERS, (("folders", "folder_id"), ("documents", "document_id"),
                                               ("document_versions", "document_version_id")))
    ours = _same_log_rows(folders_seeded["db"], FOLDERS)
    # Deliberate difference: the description names the key, not the agent.
    assert [r["log_description"] for r in ours[:4]] == [
        "Renamed folder Network to Network & Firewalls via API (page twin)",
        "Renamed folder Theirs to Theirs (old) via API (page twin)",
        "Moved document Router setup to folder Firewalls via API (page twin)",
        "Moved document VPN to folder via API (page twin)"]


def test_what_the_folder_recording_shows():
    """The page behaviours the comparison relies on (so a re-recording that changes them is
    noticed rather than passing vacuously)."""
    documents = {int(r["document_id"]): r for r in FOLDERS["rows"]["documents"]}
    seed = {int(r["document_id"]): r for r in FOLDERS["seed"]["documents"]}
    assert [documents[i]["document_folder_id"] for i in (1, 2, 3)] == ["3", "0", "4"]
    assert all(documents[i]["document_updated_at"] == seed[i]["document_updated_at"] for i in (1, 2, 3))
    assert not FOLDERS["rows"]["document_versions"]
    assert FOLDERS["rows"]["folders"][0]["folder_name"] == "Network & Firewalls"


# --- the rules around them, on the default (2.4.6) layout --------------------------------------

@pytest.fixture
def filed(api, db, all_key, make_client):
    acme, other = make_client("Acme"), make_client("Other")

    def folder(client, name, parent=0):
        body = {"client_id": client, "folder_name": name, "parent_folder": parent}
        return int(succeeded(api.post("document_folders/create", body, key=all_key))["data"][0]["insert_id"])

    def document(client, name):
        body = {"client_id": client, "document_name": name, "document_content": "<p>x</p>"}
        return int(succeeded(api.post("documents/create", body, key=all_key))["data"][0]["insert_id"])

    return {"acme": acme, "other": other, "docs": folder(acme, "Docs"), "theirs": folder(other, "Theirs"),
            "manual": document(acme, "Manual"), "their_doc": document(other, "Their doc")}


def test_rename_needs_a_name_and_a_folder(api, db, all_key, filed):
    assert refused(api.post("document_folders/rename", {"folder_id": filed["docs"]}, key=all_key))["message"] \
        == "Missing required field: folder_name."
    assert refused(api.post("document_folders/rename", {"folder_id": filed["docs"], "folder_name": "<i></i> "},
                            key=all_key))["message"] == "Field(s) cannot be empty: folder_name."
    assert refused(api.post("document_folders/rename", {"folder_name": "X"}, key=all_key))["message"] \
        == "Missing required field: folder_id."
    assert refused(api.post("document_folders/rename", {"folder_id": 999, "folder_name": "X"},
                            key=all_key))["message"].startswith("No folder with folder_id 999")
    assert fetch(db, "folders", folder_id=filed["docs"])[0]["folder_name"] == "Docs"


def test_move_refuses_a_folder_of_another_client_or_none(api, db, all_key, filed):
    for folder in (filed["theirs"], 987654):
        body = refused(api.post("documents/move", {"document_id": filed["manual"], "folder_id": folder}, key=all_key))
        assert body["message"] == (f"No folder with folder_id {folder} for client {filed['acme']}, the document's "
                                   "client (nothing was changed).")
    assert refused(api.post("documents/move", {"document_id": filed["manual"]}, key=all_key))["message"] \
        == "Missing required field: folder_id (0 files the document at the top level)."
    assert fetch(db, "documents", document_id=filed["manual"])[0]["document_folder_id"] == "0"


def test_a_move_keeps_the_updated_stamp_and_saves_no_version(api, db, all_key, filed):
    before = fetch(db, "documents", document_id=filed["manual"])[0]
    succeeded(api.post("documents/move", {"document_id": filed["manual"], "folder_id": filed["docs"]}, key=all_key))
    after = fetch(db, "documents", document_id=filed["manual"])[0]
    assert after["document_folder_id"] == str(filed["docs"])
    assert after["document_updated_at"] == before["document_updated_at"]
    assert not fetch(db, "document_versions")
    assert [(r["log_type"], r["log_action"], r["log_entity_id"]) for r in log_rows(db)][-2:] == [
        ("Document", "Move", str(filed["manual"])), ("API", "Success", "0")]
    # Moving it where it is changes nothing and says so, as every update here does.
    body = refused(api.post("documents/move", {"document_id": filed["manual"], "folder_id": filed["docs"]},
                            key=all_key))
    assert body["message"].startswith("No rows changed")


def test_a_scoped_key_renames_and_moves_only_its_own(api, db, keys, filed):
    scoped = make_key(keys, filed["acme"])
    assert refused(api.post("document_folders/rename", {"folder_id": filed["theirs"], "folder_name": "Mine"},
                            key=scoped))["message"].startswith("No folder with folder_id")
    assert refused(api.post("documents/move", {"document_id": filed["their_doc"], "folder_id": 0},
                            key=scoped))["message"].startswith("No document with document_id")
    succeeded(api.post("document_folders/rename", {"folder_id": filed["docs"], "folder_name": "Manuals"}, key=scoped))
    succeeded(api.post("documents/move", {"document_id": filed["manual"], "folder_id": filed["docs"]}, key=scoped))
    assert fetch(db, "folders", folder_id=filed["theirs"])[0]["folder_name"] == "Theirs"
    assert fetch(db, "folders", folder_id=filed["docs"])[0]["folder_name"] == "Manuals"


@pytest.fixture(scope="module")
def user_database(tmp_path_factory):
    with user_keys_database(tmp_path_factory.mktemp("docusers")) as found:
        yield found


def test_user_keys_need_write_access_to_support(user_database):
    """Both are guarded by module_support level 2, as the pages are."""
    cfg, db = user_database
    keys = KeyStore(db, b"documents-and-time")
    with db.transaction(write=True):
        client = db.insert("clients", {"client_name": "Alpha"})
        folder = db.insert("folders", {"folder_name": "Docs", "folder_client_id": client})
        document = db.insert("documents", schema.filled_row("documents", {
            "document_name": "Manual", "document_client_id": client}))
        reader = insert_role(db, "Reader", 0, {"module_support": 1})
        tech = insert_role(db, "Tech", 0, {"module_support": 2})
        users = {"reader": insert_user(db, "reader", reader), "tech": insert_user(db, "tech", tech)}
    expire = (date.today() + timedelta(days=10)).isoformat()
    key = {name: keys.create(name, expire, user)[0] for name, user in users.items()}
    api = Api(create_app(cfg, db, keys))
    for path, body in (("document_folders/rename", {"folder_id": folder, "folder_name": "New"}),
                       ("documents/move", {"document_id": document, "folder_id": folder})):
        status, answer = api.post(path, body, key=key["reader"])
        assert status == 403 and answer["success"] == "False", path
        succeeded(api.post(path, body, key=key["tech"]))



# --- time_entries/update and time_entries/delete, side by side with the ticket page --------------

TIME = load_recording("itflow-newest-time-entries.json")


def _time_endpoint(step):
    sent = step["fields"]
    if step["action"] == "edit_ticket_reply":
        return "time_entries/update", {"ticket_reply_id": sent["ticket_reply_id"], "ticket_reply": sent["ticket_reply"],
                                       "ticket_reply_type": sent["ticket_reply_type"],
                                       "ticket_reply_time_worked": sent["time"]}
    return "time_entries/delete", {"ticket_reply_id": sent["ticket_reply_id"]}


@pytest.fixture
def time_seeded(newest_database):
    return _seeded(newest_database, TIME)


def _report(seeded, **query):
    status, body = seeded["api"].get("technicians/time", key=seeded["key"], year=2026, **query)
    assert status == 200, body
    return [(r["ticket_number"], r["technician"], r["time_worked"]) for r in body["data"]]


def test_update_and_delete_store_what_itflows_ticket_page_stores(time_seeded, clock):
    _replay(time_seeded, clock, TIME, _time_endpoint)
    # Every column, ticket_reply_updated_at and _archived_at too (the page's instant).
    _same_rows(time_seeded["db"], TIME, (("tickets", "ticket_id"), ("ticket_replies", "ticket_reply_id"),
                                         ("ticket_history", "ticket_history_id")))
    ours = _same_log_rows(time_seeded["db"], TIME)
    assert [r["log_description"] for r in ours[3:]] == [
        "Archived time entry 3 on ticket TCK-2 via API (page twin)",
        "Archived time entry 2 on ticket TCK-1 via API (page twin)"]


def test_the_technician_report_follows_the_time_entries(time_seeded, clock):
    """technicians/time before and after the recorded edits and archives: the edited times
    count; the archived replies count too, as in ITFlow's own technicians/time, and not with
    include_archived=0."""
    assert _report(time_seeded) == [("TCK-1", "Agent Smith", "01:00:00"), ("TCK-1", "Bea Tech", "00:30:00"),
                                    ("TCK-2", "Agent Smith", "02:00:00")]
    _replay(time_seeded, clock, TIME, _time_endpoint)
    assert _report(time_seeded, include_archived=0) == [("TCK-1", "Agent Smith", "02:05:00")]  # 01:45 + 00:20
    assert _report(time_seeded) == [
        ("TCK-1", "Agent Smith", "02:05:00"), ("TCK-1", "Bea Tech", "00:15:00"), ("TCK-2", "Agent Smith", "02:00:00")]


def test_time_entries_read_by_ticket_technician_and_date(time_seeded, clock):
    api, key = time_seeded["api"], time_seeded["key"]

    def entries(**query):
        status, body = api.get("time_entries/read", key=key, **query)
        assert status == 200, body
        return [(r["ticket_reply_id"], r["ticket_reply_time_worked"]) for r in body["data"]]

    # The agents' replies with time, in the order worked (reply 4 has none, 5 is the client's).
    assert entries() == [("1", "01:00:00"), ("2", "00:30:00"), ("3", "02:00:00")]
    assert entries(ticket_id=1) == [("1", "01:00:00"), ("2", "00:30:00")]
    assert entries(technician_id=2) == [("2", "00:30:00")]
    assert entries(date_from="2026-11-04", date_to="2026-11-04") == [("2", "00:30:00")]
    assert entries(ticket_id=1, technician_id=1, date_to="2026-11-03") == [("1", "01:00:00")]
    assert len(entries(date_to="9999-12-31")) == 3
    row = succeeded(api.get("time_entries/read", key=key, ticket_reply_id=3))["data"][0]
    assert (row["ticket_number"], row["ticket_client_id"], row["ticket_reply_by_name"]) == ("2", "2", "Agent Smith")
    _replay(time_seeded, clock, TIME, _time_endpoint)
    assert entries() == [("1", "01:45:00"), ("4", "00:20:00")]
    assert entries(include_archived=1) == [("1", "01:45:00"), ("2", "00:15:00"), ("3", "02:00:00"), ("4", "00:20:00")]
    body = refused(api.get("time_entries/read", key=key, date_from="4 Nov"))
    assert "date_from" in body["message"]


def test_what_the_time_recording_shows():
    replies = {int(r["ticket_reply_id"]): r for r in TIME["rows"]["ticket_replies"]}
    instants = [s["instant"] for s in TIME["steps"]]
    assert replies[1]["ticket_reply_updated_at"] == instants[0]   # ON UPDATE stamps an edit
    assert replies[2]["ticket_reply_type"] == "Internal" and replies[2]["ticket_reply_archived_at"] == instants[4]
    assert replies[3]["ticket_reply_updated_at"] == replies[3]["ticket_reply_archived_at"] == instants[3]
    assert replies[5]["ticket_reply_updated_at"] is None             # the client's reply untouched
    assert [r["log_type"] for r in TIME["rows"]["logs"]] == ["Ticket"] * 3 + ["Ticket Reply"] * 2
    assert not TIME["rows"]["ticket_history"]


# --- the rules around them, on the default (2.4.6) layout ---------------------------------------

@pytest.fixture
def worked(api, db, all_key, make_client):
    acme, other = make_client("Acme"), make_client("Other")
    user = insert_user(db, "Tina", 0)

    def ticket(client, **body):
        answer = api.post("tickets/create", {"client_id": client, "ticket_subject": "S", **body}, key=all_key)
        return int(succeeded(answer)["data"][0]["insert_id"])

    def reply(ticket_id, time="01:00:00", reply_type="Internal"):
        with db.transaction(write=True):
            return db.insert("ticket_replies", {"ticket_reply": "<p>work</p>", "ticket_reply_type": reply_type,
                                                "ticket_reply_time_worked": time, "ticket_reply_by": user,
                                                "ticket_reply_ticket_id": ticket_id})

    mine, theirs = ticket(acme), ticket(other)
    return {"acme": acme, "other": other, "user": user, "mine": mine, "theirs": theirs, "reply": reply,
            "ticket": ticket, "entry": reply(mine), "their_entry": reply(theirs)}


def test_update_checks_the_time_and_the_type(api, db, all_key, worked):
    entry = worked["entry"]
    for body, message in (({"ticket_reply_time_worked": "1.5h"}, "ticket_reply_time_worked"),
                          ({"ticket_reply_type": "Client"}, "Field ticket_reply_type must be Internal or Public."),
                          ({"ticket_reply": " "}, "Field(s) cannot be empty: ticket_reply."),
                          ({}, "Nothing to change")):
        assert message in refused(api.post("time_entries/update", {"ticket_reply_id": entry, **body},
                                           key=all_key))["message"]
    succeeded(api.post("time_entries/update", {"ticket_reply_id": entry, "ticket_reply_time_worked": "2:05",
                                               "ticket_reply_type": "public"}, key=all_key))
    row = fetch(db, "ticket_replies", ticket_reply_id=entry)[0]
    assert (row["ticket_reply_time_worked"], row["ticket_reply_type"], row["ticket_reply"]) == (
        "02:05:00", "Public", "<p>work</p>")
    assert row["ticket_reply_updated_at"]
    assert [(r["log_type"], r["log_action"], r["log_entity_id"]) for r in log_rows(db)][-2:] == [
        ("Ticket", "Reply", str(entry)), ("API", "Success", "0")]
    assert refused(api.post("time_entries/update", {"ticket_reply_id": entry, "ticket_reply_time_worked": "02:05:00"},
                            key=all_key))["message"].startswith("No rows changed")


def test_state_rules(api, db, all_key, worked):
    client_reply = worked["reply"](worked["mine"], None, "Client")
    assert refused(api.post("time_entries/update", {"ticket_reply_id": client_reply, "ticket_reply_time_worked":
                                                    "00:10:00"}, key=all_key))["message"].startswith(
        f"Ticket reply {client_reply} is the client's")
    succeeded(api.post("time_entries/delete", {"ticket_reply_id": worked["entry"]}, key=all_key))
    assert refused(api.post("time_entries/delete", {"ticket_reply_id": worked["entry"]}, key=all_key))["message"] \
        == f"Ticket reply {worked['entry']} is archived (nothing was changed)."
    closed = worked["ticket"](worked["acme"])
    late = worked["reply"](closed)
    succeeded(api.post("tickets/close", {"ticket_id": closed}, key=all_key))
    assert refused(api.post("time_entries/update", {"ticket_reply_id": late, "ticket_reply_time_worked": "00:01:00"},
                            key=all_key))["message"].startswith(f"Ticket {closed} is closed")
    assert fetch(db, "ticket_replies", ticket_reply_id=late)[0]["ticket_reply_time_worked"] == "01:00:00"


def test_a_scoped_key_reaches_only_its_clients_entries(api, db, keys, worked):
    scoped = make_key(keys, worked["acme"])
    assert [r["ticket_reply_id"] for r in succeeded(api.get("time_entries/read", key=scoped))["data"]] \
        == [str(worked["entry"])]
    for path, body in (("time_entries/update", {"ticket_reply_time_worked": "00:01:00"}), ("time_entries/delete", {})):
        answer = refused(api.post(path, {"ticket_reply_id": worked["their_entry"], **body}, key=scoped))
        assert answer["message"].startswith(f"No time entry with ticket_reply_id {worked['their_entry']}")
    assert fetch(db, "ticket_replies", ticket_reply_id=worked["their_entry"])[0]["ticket_reply_archived_at"] is None


def test_user_keys_need_support_access(user_database):
    """Read needs module_support level 1, update 2, delete 3 (the API's rule for delete; the
    page archives with 2)."""
    cfg, db = user_database
    keys = KeyStore(db, b"documents-and-time")
    with db.transaction(write=True):
        client = db.insert("clients", {"client_name": "Time Co"})
        ticket = db.insert("tickets", schema.filled_row("tickets", {
            "ticket_subject": "S", "ticket_number": 77, "ticket_status": 2, "ticket_client_id": client}))
        entry = db.insert("ticket_replies", {"ticket_reply": "x", "ticket_reply_type": "Internal",
                                             "ticket_reply_time_worked": "00:30:00", "ticket_reply_by": 0,
                                             "ticket_reply_ticket_id": ticket})
        roles = {level: insert_role(db, f"Support {level}", 0, {"module_support": level}) for level in (1, 2, 3)}
        users = {level: insert_user(db, f"time{level}", role) for level, role in roles.items()}
    expire = (date.today() + timedelta(days=10)).isoformat()
    key = {level: keys.create(f"time {level}", expire, user)[0] for level, user in users.items()}
    api = Api(create_app(cfg, db, keys))
    assert succeeded(api.get("time_entries/read", key=key[1], ticket_reply_id=entry))["count"] == 1
    update = {"ticket_reply_id": entry, "ticket_reply_time_worked": "00:45:00"}
    assert api.post("time_entries/update", update, key=key[1])[0] == 403
    succeeded(api.post("time_entries/update", update, key=key[2]))
    assert api.post("time_entries/delete", {"ticket_reply_id": entry}, key=key[2])[0] == 403
    succeeded(api.post("time_entries/delete", {"ticket_reply_id": entry}, key=key[3]))


def test_if_match_takes_the_etag_a_read_by_id_answers(api, db, all_key, worked):
    """The conditional writes every update and delete here take (docs/conditional-requests.md)."""
    entry = worked["entry"]
    read = api.client.simulate_get("/api/v1/time_entries/read.php",
                                   params={"api_key": all_key, "ticket_reply_id": entry})
    etag = read.headers["ETag"]
    body = {"ticket_reply_id": entry, "ticket_reply_time_worked": "00:05:00"}
    succeeded(api.post("time_entries/update", body, key=all_key, headers={"If-Match": etag}))
    status, answer = api.post("time_entries/delete", {"ticket_reply_id": entry}, key=all_key,
                              headers={"If-Match": etag})
    assert status == 412 and answer["success"] == "False"
    assert fetch(db, "ticket_replies", ticket_reply_id=entry)[0]["ticket_reply_archived_at"] is None


def test_an_atomic_batch_runs_them_all_or_none(api, db, all_key, worked, filed):
    """Through the one write pipeline: a batch item is the single call (docs/batches.md)."""
    operations = [
        {"module": "time_entries", "function": "update", "ids": [worked["entry"]],
         "body": {"ticket_reply_time_worked": "00:10:00"}},
        {"module": "documents", "function": "move", "body": {"document_id": filed["manual"], "folder_id": filed["docs"]}},
        {"module": "time_entries", "function": "delete", "body": {"ticket_reply_id": 987654}},
    ]
    status, body = api.post("batch", {"atomic": True, "operations": operations}, key=all_key)
    assert status == 200 and body["data"][2]["success"] == "False", body
    assert fetch(db, "ticket_replies", ticket_reply_id=worked["entry"])[0]["ticket_reply_time_worked"] == "01:00:00"
    assert fetch(db, "documents", document_id=filed["manual"])[0]["document_folder_id"] == "0"
    status, body = api.post("batch", {"atomic": True, "operations": operations[:2]}, key=all_key)
    assert [item["success"] for item in body["data"]] == ["True", "True"], body
    assert fetch(db, "ticket_replies", ticket_reply_id=worked["entry"])[0]["ticket_reply_time_worked"] == "00:10:00"
    assert fetch(db, "documents", document_id=filed["manual"])[0]["document_folder_id"] == str(filed["docs"])
