"""documents (docs/contract.md section 6): the searchable text, the versions an update keeps,
delete, archive.

Each test sets up what it needs (rows without a create endpoint are written straight to the
database), makes its calls and asserts the envelopes and stored values exactly: every value
in a row is a string, SQL NULL is None.
"""
from helpers import assert_recent, assert_write_logged, changed_one, clear_logs, fetch, new_record, one, refused


def new_document(api, key, client_id=None, name="Runbook", content="<p>Step 1</p>", **fields):
    return new_record(api, "documents", key, client_id, document_name=name, document_content=content, **fields)


def test_document_create_stores_html_as_given_and_searchable_text(api, db, all_key, two_clients):
    a, _, _ = two_clients
    content = '<h1>Backup</h1><p>Run <b>nightly</b></p><img src="data:image/png;base64,iVBORw0KGgo=">'
    document_id = new_document(api, all_key, a, name=" <b>Runbook</b> ", content=content,
                               document_description="<i>Ops</i>")
    row = one(db, "documents", document_id=document_id)
    assert row["document_name"] == "Runbook"
    assert row["document_description"] == "Ops"
    assert row["document_content"] == content
    # name + description as sent (the name's trailing space too) + " " + content, a space put
    # before every '<' of the content, then cleaned as one text (ITFlow's document_model)
    assert row["document_content_raw"] == "Runbook Ops  Backup  Run  nightly"
    assert (row["document_client_id"], row["document_client_visible"], row["document_created_by"]) == \
        (str(a), "1", "0")
    assert fetch(db, "document_versions") == []


def test_document_create_searchable_text_without_description(api, db, all_key, two_clients):
    a, _, _ = two_clients
    document_id = new_document(api, all_key, a, name="Runbook", content="<p>Step 1</p>")
    assert one(db, "documents", document_id=document_id)["document_content_raw"] == "Runbook  Step 1"


def test_document_with_all_clients_key_and_no_client_goes_to_client_zero(api, db, all_key):
    document_id = new_document(api, all_key)
    assert one(db, "documents", document_id=document_id)["document_client_id"] == "0"


def test_document_update_keeps_the_previous_version(api, db, all_key, two_clients):
    a, _, _ = two_clients
    document_id = new_document(api, all_key, a, name="Runbook", content="<p>Step 1</p>",
                               document_description="Ops")
    changed_one(api.post("documents/update", {"document_id": document_id, "document_content": "<p>Step 2</p>"},
                         key=all_key))
    row = one(db, "documents", document_id=document_id)
    assert (row["document_name"], row["document_description"], row["document_content"]) == \
        ("Runbook", "Ops", "<p>Step 2</p>")
    assert row["document_content_raw"] == "Runbook  Step 2"   # contract 6.1: name + " " + content
    version = one(db, "document_versions", document_version_document_id=document_id)
    assert (version["document_version_name"], version["document_version_description"],
            version["document_version_content"]) == ("Runbook", "Ops", "<p>Step 1</p>")
    assert_recent(version["document_version_created_at"])

    changed_one(api.post("documents/update", {"document_id": document_id, "document_name": "Playbook",
                                              "document_description": "New"}, key=all_key))
    row = one(db, "documents", document_id=document_id)
    assert (row["document_name"], row["document_description"], row["document_content"]) == \
        ("Playbook", "New", "<p>Step 2</p>")
    assert row["document_content_raw"] == "Playbook  Step 2"
    versions = fetch(db, "document_versions", document_version_document_id=document_id)
    assert [(v["document_version_name"], v["document_version_description"], v["document_version_content"])
            for v in versions] == [("Runbook", "Ops", "<p>Step 1</p>"), ("Runbook", "Ops", "<p>Step 2</p>")]


def test_document_update_logs_the_edit(api, db, all_key, two_clients):
    a, _, _ = two_clients
    document_id = new_document(api, all_key, a)
    clear_logs(db)
    changed_one(api.post("documents/update", {"document_id": document_id, "document_name": "Renamed"},
                         key=all_key))
    assert_write_logged(db, "Document", "Edit", document_id, a, "Renamed")


def test_document_update_cannot_empty_a_required_field(api, db, all_key, two_clients):
    a, _, _ = two_clients
    document_id = new_document(api, all_key, a)
    before = one(db, "documents", document_id=document_id)
    for required in ("document_name", "document_content"):
        assert required in refused(api.post("documents/update", {"document_id": document_id, required: ""},
                                            key=all_key))["message"]
    assert one(db, "documents", document_id=document_id) == before
    assert fetch(db, "document_versions") == []


def test_document_delete_removes_its_versions_only(api, db, all_key, two_clients):
    a, _, _ = two_clients
    doomed, kept = new_document(api, all_key, a, name="Doomed"), new_document(api, all_key, a, name="Kept")
    for document_id, content in ((doomed, "<p>v1</p>"), (doomed, "<p>v2</p>"), (kept, "<p>v1</p>")):
        changed_one(api.post("documents/update", {"document_id": document_id, "document_content": content},
                             key=all_key))
    assert len(fetch(db, "document_versions", document_version_document_id=doomed)) == 2
    changed_one(api.post("documents/delete", {"document_id": doomed}, key=all_key))
    assert fetch(db, "documents", document_id=doomed) == []
    assert fetch(db, "document_versions", document_version_document_id=doomed) == []
    assert len(fetch(db, "document_versions", document_version_document_id=kept)) == 1
    assert one(db, "documents", document_id=kept)["document_name"] == "Kept"


def test_document_archive_and_unarchive(api, db, all_key, two_clients):
    a, _, _ = two_clients
    document_id = new_document(api, all_key, a)
    clear_logs(db)
    changed_one(api.post("documents/archive", {"document_id": document_id}, key=all_key))
    assert_recent(one(db, "documents", document_id=document_id)["document_archived_at"])
    assert_write_logged(db, "Document", "Archive", document_id, a, "Runbook")
    changed_one(api.post("documents/unarchive", {"document_id": document_id}, key=all_key))
    assert one(db, "documents", document_id=document_id)["document_archived_at"] is None


def test_scoped_key_updates_its_own_document(api, db, all_key, two_clients):
    a, _, key_a = two_clients
    document_id = new_document(api, all_key, a)
    changed_one(api.post("documents/update", {"document_id": document_id, "document_content": "<p>Mine</p>"},
                         key=key_a))
    assert one(db, "documents", document_id=document_id)["document_content"] == "<p>Mine</p>"
    assert len(fetch(db, "document_versions", document_version_document_id=document_id)) == 1


def test_a_document_update_stores_quotes_as_sent(api, db, all_key, make_client):
    # README "Where it differs": ITFlow 2.4.6's documents/update.php escapes twice (O\'Brien,
    # one more backslash per update); ours stores the text as sent, however often it is updated.
    client = make_client("Acme")
    status, body = api.post("documents/create", {"client_id": client, "document_name": "O'Brien",
                                                 "document_content": "<p>It's</p>"}, key=all_key)
    document_id = body["data"][0]["insert_id"]
    for note in ("Pat's notes", "Pat's notes 2"):
        status, answer = api.post("documents/update", {"document_id": document_id, "document_description": note},
                                  key=all_key)
        assert answer["success"] == "True"
    with db.transaction():
        row = db.row("SELECT document_name, document_description, document_content FROM documents "
                     "WHERE document_id = :i", {"i": document_id})
    assert row == {"document_name": "O'Brien", "document_description": "Pat's notes 2", "document_content": "<p>It's</p>"}
