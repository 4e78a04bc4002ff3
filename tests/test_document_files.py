"""documents/link_file, documents/unlink_file and files/read (docs/documents-and-time.md).

The side-by-side test: tests/itflow_recorded/record_documents_time.py (part `files`) ran the
newest ITFlow's own document page (26.08, database 2.6.7) with php-cli as agent user 1 on a
seeded database, one action per second: link_file_to_document and unlink_file_from_document.
Here the same seed goes into a newest-layout database of our own, the same actions go to our
endpoints with a key acting as that agent and the clock at each recorded instant, and every
row of documents, files and document_files is compared whole, and the logs rows by what they
say about whom (their wording names the API key, as every API log row does).
"""
from datetime import date, timedelta

import pytest
from helpers import fetch, insert_role, insert_user, log_rows, ordered_rows, page_twin, recorded, refused, succeeded

from itflow_api.lib.access.keys import KeyStore

SECRET = b"document-files-tests"
RECORDED = recorded("itflow-newest-document-files.json")
TABLES = ("user_roles", "users", "clients", "folders", "documents", "files", "document_files")
COMPARED = (("documents", "document_id"), ("files", "file_id"), ("document_files", "document_id, file_id"))


@pytest.fixture
def seeded(newest_database):
    cfg, db = newest_database
    return page_twin(cfg, db, RECORDED["seed"], SECRET, tables=TABLES)


def _endpoint(step):
    return ("documents/link_file" if step["action"] == "link_file_to_document" else "documents/unlink_file",
            {"document_id": step["fields"]["document_id"], "file_id": step["fields"]["file_id"]})


def _replay(seeded, clock):
    answers = []
    for step in RECORDED["steps"]:
        clock["now"] = step["instant"]
        path, body = _endpoint(step)
        status, answer = seeded["api"].post(path, body, key=seeded["key"])
        assert status == 200, (step["step"], answer)
        answers.append(answer)
    return answers


def test_link_and_unlink_store_what_itflows_document_page_stores(seeded, clock):
    answers = _replay(seeded, clock)
    # Every step changed its row but the last: unlinking a file that is not linked changes
    # nothing (answered "False", as every write that changes nothing), and is logged as the page logs it.
    assert [a["success"] for a in answers] == ["True"] * 6 + ["False"]
    assert answers[-1]["message"].startswith("No rows changed")
    db = seeded["db"]
    for table, order in COMPARED:
        ours, theirs = ordered_rows(db, table, order), RECORDED["rows"][table]
        assert ours == theirs, table  # whole rows: nothing of a document or a file changes
    what = ("log_type", "log_action", "log_client_id", "log_user_id", "log_entity_id")
    ours = [r for r in ordered_rows(db, "logs", "log_id") if r["log_type"] != "API"]
    assert [tuple(r[c] for c in what) for r in ours] == [tuple(r[c] for c in what) for r in RECORDED["rows"]["logs"]]
    assert len(ordered_rows(db, "logs", "log_id")) == 2 * len(RECORDED["steps"])  # and an API/Success row each
    # Deliberate difference: the description names the key, not the agent.
    assert [r["log_description"] for r in ours[:1] + ours[4:5]] == [
        "Linked file rack.png to document Router setup via API (page twin)",
        "Unlinked file rack.png from document Router setup via API (page twin)"]


def test_what_the_recording_shows():
    rows = RECORDED["rows"]
    assert rows["document_files"] == [{"document_id": "1", "file_id": "2"}, {"document_id": "2", "file_id": "1"},
                                      {"document_id": "3", "file_id": "3"}]
    assert [(r["log_type"], r["log_action"], r["log_entity_id"]) for r in rows["logs"]] == [
        ("Document", "Link", "1"), ("Document", "Link", "1"), ("Document", "Link", "3"), ("Document", "Link", "2"),
        ("Document", "Unlink", "1"), ("Document", "Unlink", "2"), ("Document", "Unlink", "2")]
    # The documents and files themselves are as seeded: no stamp moves.
    assert [r["document_updated_at"] for r in rows["documents"]] == [
        d["document_updated_at"] for d in RECORDED["seed"]["documents"]]
    assert all(r["file_updated_at"] is None for r in rows["files"])


def test_files_read_lists_metadata_and_a_documents_files(seeded, clock):
    _replay(seeded, clock)
    api, key = seeded["api"], seeded["key"]
    everything = succeeded(api.get("files/read", key=key))
    assert [r["file_id"] for r in everything["data"]] == ["1", "2", "3", "4"]
    assert everything["data"] == RECORDED["rows"]["files"]  # the columns as stored, no content
    for document_id, files in (("1", ["2"]), ("2", ["1"]), ("3", ["3"])):
        body = succeeded(api.get("files/read", key=key, document_id=document_id))
        assert [r["file_id"] for r in body["data"]] == files
    assert refused(api.get("files/read", key=key, document_id=999))["message"]
    one = succeeded(api.get("files/read", key=key, file_id=2, fields="file_id,file_name,file_size"))
    assert one["data"] == [{"file_id": "2", "file_name": "contract.pdf", "file_size": "2000"}]
    body = succeeded(api.get("files/read", key=key, filter="file_ext==pdf", sort="-file_size"))
    assert [r["file_name"] for r in body["data"]] == ["theirs.pdf", "contract.pdf"]


def test_link_refusals(seeded):
    api, key, db = seeded["api"], seeded["key"], seeded["db"]
    before = ordered_rows(db, "document_files", "document_id, file_id")
    for file_id in (3, 987):  # another client's file, no file
        body = refused(api.post("documents/link_file", {"document_id": 1, "file_id": file_id}, key=key))
        assert body["message"] == (f"No file with file_id {file_id} for client 1, the document's client "
                                   "(nothing was changed).")
        body = refused(api.post("documents/unlink_file", {"document_id": 1, "file_id": file_id}, key=key))
        assert body["message"].startswith(f"No file with file_id {file_id} for client 1")
    assert refused(api.post("documents/link_file", {"document_id": 2, "file_id": 2}, key=key))["message"] \
        == "File 2 is already linked to document 2 (nothing was changed)."
    assert refused(api.post("documents/link_file", {"document_id": 1}, key=key))["message"] \
        == "Missing required field: file_id."
    assert refused(api.post("documents/link_file", {"file_id": 1}, key=key))["message"] \
        == "Missing required field: document_id."
    assert refused(api.post("documents/link_file", {"document_id": 999, "file_id": 1}, key=key))["message"] \
        .startswith("No document with document_id 999")
    assert ordered_rows(db, "document_files", "document_id, file_id") == before
    assert not log_rows(db, log_type="Document")


def _user_key(db, name, levels, allow=()):
    with db.transaction(write=True):
        role = insert_role(db, name, 0, levels)
        user = insert_user(db, name, role)
        for client in allow:
            db.insert("user_client_permissions", {"user_id": user, "client_id": client, "permission_type": "allow"})
    expire = (date.today() + timedelta(days=10)).isoformat()
    return KeyStore(db, SECRET).create(name, expire, user)[0]


def test_a_user_of_one_client_reaches_only_its_files_and_documents(seeded):
    api, db = seeded["api"], seeded["db"]
    theirs = _user_key(db, "theirs", {"module_support": 2}, allow=(2,))
    assert [r["file_id"] for r in succeeded(api.get("files/read", key=theirs))["data"]] == ["3"]
    assert refused(api.get("files/read", key=theirs, file_id=1))
    status, body = api.post("documents/link_file", {"document_id": 1, "file_id": 4}, key=theirs)
    assert (status, body["message"]) == (403, "The user linked to this API key does not have access to the target "
                                              "client for this write.")
    succeeded(api.post("documents/link_file", {"document_id": 3, "file_id": 3}, key=theirs))
    assert fetch(db, "document_files", document_id=3) == [{"document_id": "3", "file_id": "3"}]


def test_user_keys_need_support_access_to_link(seeded):
    api, db = seeded["api"], seeded["db"]
    reader, tech = _user_key(db, "reader", {"module_support": 1}), _user_key(db, "tech", {"module_support": 2})
    nobody = _user_key(db, "nobody", {"module_sales": 3})
    assert succeeded(api.get("files/read", key=reader))["count"] == 4
    assert api.get("files/read", key=nobody)[0] == 403
    for action in ("link_file", "unlink_file"):
        status, body = api.post(f"documents/{action}", {"document_id": 1, "file_id": 4}, key=reader)
        assert status == 403 and body["success"] == "False", body
    succeeded(api.post("documents/link_file", {"document_id": 1, "file_id": 4}, key=tech))
    succeeded(api.post("documents/unlink_file", {"document_id": 1, "file_id": 4}, key=tech))
    assert not fetch(db, "document_files", document_id=1)


def test_an_atomic_batch_links_all_or_none(seeded):
    api, key, db = seeded["api"], seeded["key"], seeded["db"]
    operations = [{"module": "documents", "function": "link_file", "body": {"document_id": 1, "file_id": 1}},
                  {"module": "documents", "function": "link_file", "body": {"document_id": 1, "file_id": 3}}]
    status, body = api.post("batch", {"atomic": True, "operations": operations}, key=key)
    assert status == 200 and body["data"][1]["success"] == "False", body  # another client's file
    assert fetch(db, "document_files", document_id=1) == []
    operations[1]["body"]["file_id"] = 4
    status, body = api.post("batch", {"atomic": True, "operations": operations}, key=key)
    assert [item["success"] for item in body["data"]] == ["True", "True"], body
    assert [r["file_id"] for r in fetch(db, "document_files", document_id=1)] == ["1", "4"]


def test_deleting_a_document_removes_its_links(seeded):
    api, key, db = seeded["api"], seeded["key"], seeded["db"]
    succeeded(api.post("documents/link_file", {"document_id": 1, "file_id": 1}, key=key))
    succeeded(api.post("documents/delete", {"document_id": 2}, key=key))
    # As ITFlow's foreign key (ON DELETE CASCADE) removes them; the files stay.
    assert ordered_rows(db, "document_files", "document_id, file_id") == [{"document_id": "1", "file_id": "1"}]
    assert len(ordered_rows(db, "files", "file_id")) == 4


# --- a database without the tables (this server's own 2.4.6 layout) ---------------------------

def test_refused_clearly_where_the_database_has_no_files(api, db, all_key, make_client):
    client = make_client("Acme")
    body = {"client_id": client, "document_name": "Manual", "document_content": "<p>x</p>"}
    document = int(succeeded(api.post("documents/create", body, key=all_key))["data"][0]["insert_id"])
    for action in ("link_file", "unlink_file"):
        message = refused(api.post(f"documents/{action}", {"document_id": document, "file_id": 1},
                                   key=all_key))["message"]
        assert message == ("This database has no files table, where ITFlow keeps a client's files (a database "
                           "created in the 2.4.6 layout by init-db has none): nothing was read or changed.")
    assert refused(api.get("files/read", key=all_key))["message"].startswith("This database has no files table")
    assert [r["log_type"] for r in log_rows(db)] == ["Document", "API"]  # the create's, nothing more
