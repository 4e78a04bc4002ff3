"""The endpoints beyond the nine documented modules (api-v1.md sections 4-7): documents,
locations, vendors, the read-only expenses / invoices / quotes / products, invoice_items,
ticket_replies and technicians/time.

Each test sets up what it needs (rows without a create endpoint are written straight to the
database), makes its calls and asserts the envelopes and stored values exactly: every value
in a row is a string, SQL NULL is None.
"""
from datetime import date, datetime

import pytest
from helpers import NO_RESOURCE, assert_recent, assert_write_logged, fetch, insert, log_rows, one, refused, set_columns

from itflow_api.lib.itflow import schema

MISSING_ID = 987654


# --- helpers ------------------------------------------------------------------------------


def clear_logs(db):
    with db.transaction(write=True):
        db.execute("DELETE FROM logs")


def columns(table):
    return [c.name for c in schema.columns(table)]


def created_id(result):
    """A create's exact envelope; returns the insert id."""
    status, body = result
    assert status == 200, body
    assert list(body) == ["success", "count", "data"], body
    insert_id = body["data"][0]["insert_id"] if body.get("data") else None
    assert isinstance(insert_id, int) and insert_id > 0, body
    assert body == {"success": "True", "count": "1", "data": [{"insert_id": insert_id}]}
    return insert_id


def changed_one(result):
    assert result == (200, {"success": "True", "count": 1}), result


def read_rows(result):
    """A read's exact envelope; returns its rows (every value a string or None)."""
    status, body = result
    assert status == 200, body
    assert list(body) == ["success", "count", "data"], body
    assert body["success"] == "True" and body["count"] == len(body["data"]) > 0, body
    for row in body["data"]:
        assert all(v is None or isinstance(v, str) for v in row.values()), row
    return body["data"]


def ids(rows, column):
    return [r[column] for r in rows]


def same_refusal(theirs, missing, their_id):
    """B's record must look exactly like one that does not exist."""
    assert theirs[0] == missing[0]
    assert theirs[1]["message"].replace(str(their_id), "N") == missing[1]["message"].replace(str(MISSING_ID), "N")
    assert {k: v for k, v in theirs[1].items() if k != "message"} == \
        {k: v for k, v in missing[1].items() if k != "message"}


# --- documents, locations, vendors: the shared lifecycle ---------------------------------

WRITABLE = {
    "documents": ("document_id", {"document_name": "Runbook", "document_content": "<p>Step 1</p>"},
                  "document_description", "document_archived_at", "Document", "document_name"),
    "locations": ("location_id", {"location_name": "HQ"}, "location_notes", "location_archived_at",
                  "Location", "location_name"),
    "vendors": ("vendor_id", {"vendor_name": "Dell"}, "vendor_notes", "vendor_archived_at", "Vendor", "vendor_name"),
}
CLIENT_COLUMN = {"documents": "document_client_id", "locations": "location_client_id",
                 "vendors": "vendor_client_id"}


def new_record(api, module, key, client_id=None, **fields):
    body = {**WRITABLE[module][1], **fields}
    if client_id is not None:
        body["client_id"] = client_id
    return created_id(api.post(f"{module}/create", body, key=key))


@pytest.mark.parametrize("module", list(WRITABLE))
def test_lifecycle_with_exact_envelopes_and_logs(api, db, all_key, two_clients, module):
    a, _, _ = two_clients
    id_column, sample, text_field, archived_column, entity, name_column = WRITABLE[module]
    record_id = new_record(api, module, all_key, a)
    name = sample[name_column]
    assert_write_logged(db, entity, "Create", record_id, a, name)

    rows = read_rows(api.get(f"{module}/read", key=all_key, **{id_column: record_id}))
    assert len(rows) == 1
    assert list(rows[0]) == columns(module)
    assert rows[0][id_column] == str(record_id)
    assert rows[0][CLIENT_COLUMN[module]] == str(a)
    assert rows[0][name_column] == name
    assert rows[0] == one(db, module, **{id_column: record_id})

    clear_logs(db)
    changed_one(api.post(f"{module}/update", {id_column: record_id, text_field: "<b>changed</b> "}, key=all_key))
    assert one(db, module, **{id_column: record_id})[text_field] == "changed"
    assert_write_logged(db, entity, "Edit", record_id, a, name)

    clear_logs(db)
    changed_one(api.post(f"{module}/archive", {id_column: record_id}, key=all_key))
    assert_recent(one(db, module, **{id_column: record_id})[archived_column])
    assert_write_logged(db, entity, "Archive", record_id, a, name)
    assert len(read_rows(api.get(f"{module}/read", key=all_key, **{id_column: record_id}))) == 1
    changed_one(api.post(f"{module}/unarchive", {id_column: record_id}, key=all_key))
    assert one(db, module, **{id_column: record_id})[archived_column] is None

    clear_logs(db)
    changed_one(api.post(f"{module}/delete", {id_column: record_id}, key=all_key))
    assert fetch(db, module, **{id_column: record_id}) == []
    assert_write_logged(db, entity, "Delete", record_id, a, name)
    assert api.get(f"{module}/read", key=all_key, **{id_column: record_id}) == (200, NO_RESOURCE)


@pytest.mark.parametrize("module", list(WRITABLE))
def test_required_fields_are_refused_and_nothing_is_written(api, db, all_key, two_clients, module):
    a, _, _ = two_clients
    sample = WRITABLE[module][1]
    for required in sample:
        body = {k: v for k, v in sample.items() if k != required}
        message = refused(api.post(f"{module}/create", {**body, "client_id": a}, key=all_key))["message"]
        assert required in message
        # an empty value is as good as none
        message = refused(api.post(f"{module}/create", {**sample, required: "", "client_id": a},
                                   key=all_key))["message"]
        assert required in message
    assert fetch(db, module) == []
    assert log_rows(db) == []


@pytest.mark.parametrize("module", list(WRITABLE))
def test_writes_need_an_existing_id(api, db, all_key, two_clients, module):
    id_column = WRITABLE[module][0]
    for function in ("update", "delete", "archive", "unarchive"):
        assert id_column in refused(api.post(f"{module}/{function}", {}, key=all_key))["message"]
        assert str(MISSING_ID) in refused(api.post(f"{module}/{function}", {id_column: MISSING_ID},
                                                   key=all_key))["message"]
        status, body = api.post(f"{module}/{function}", {id_column: "forty"}, key=all_key)
        assert (status, body["success"]) == (200, "False") and id_column in body["message"]
    assert log_rows(db) == []


@pytest.mark.parametrize("module", list(WRITABLE))
def test_all_clients_key_reads_everything_pages_and_client_id_narrows(api, all_key, two_clients, module):
    a, b, _ = two_clients
    id_column = WRITABLE[module][0]
    made = [new_record(api, module, all_key, client) for client in (a, b, a, b)]
    assert ids(read_rows(api.get(f"{module}/read", key=all_key)), id_column) == [str(i) for i in made]
    assert ids(read_rows(api.get(f"{module}/read", key=all_key, limit=2, offset=1)), id_column) == \
        [str(i) for i in made[1:3]]
    assert ids(read_rows(api.get(f"{module}/read", key=all_key, client_id=b)), id_column) == \
        [str(made[1]), str(made[3])]
    # client_id also narrows a look-up by id
    assert api.get(f"{module}/read", key=all_key, client_id=b, **{id_column: made[0]}) == (200, NO_RESOURCE)


@pytest.mark.parametrize("module", list(WRITABLE))
def test_scoped_key_never_sees_or_changes_other_clients_records(api, db, all_key, two_clients, module):
    a, b, key_a = two_clients
    id_column, _, text_field = WRITABLE[module][:3]
    theirs = new_record(api, module, all_key, b)
    mine = new_record(api, module, all_key, a)
    before = one(db, module, **{id_column: theirs})
    logs_before = log_rows(db)

    assert api.get(f"{module}/read", key=key_a, **{id_column: theirs}) == (200, NO_RESOURCE)
    assert ids(read_rows(api.get(f"{module}/read", key=key_a)), id_column) == [str(mine)]
    assert ids(read_rows(api.get(f"{module}/read", key=key_a, client_id=b)), id_column) == [str(mine)]

    for function in ("update", "archive", "unarchive", "delete"):
        body = {text_field: "hijacked"}
        theirs_result = api.post(f"{module}/{function}", {**body, id_column: theirs}, key=key_a)
        refused(theirs_result)
        missing = api.post(f"{module}/{function}", {**body, id_column: MISSING_ID}, key=key_a)
        same_refusal(theirs_result, missing, theirs)
    assert one(db, module, **{id_column: theirs}) == before
    assert log_rows(db) == logs_before
    if module == "documents":
        assert fetch(db, "document_versions") == []


@pytest.mark.parametrize("module", list(WRITABLE))
def test_scoped_key_writes_to_its_own_client_whatever_the_request_says(api, db, two_clients, module):
    a, b, key_a = two_clients
    record_id = new_record(api, module, key_a, b)
    assert one(db, module, **{WRITABLE[module][0]: record_id})[CLIENT_COLUMN[module]] == str(a)


def test_all_clients_key_naming_a_missing_client_is_refused(api, db, all_key):
    for module in WRITABLE:
        assert "999999" in refused(api.post(f"{module}/create", {**WRITABLE[module][1], "client_id": 999999},
                                            key=all_key))["message"]
        assert fetch(db, module) == []


# --- documents ----------------------------------------------------------------------------

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


# --- locations ----------------------------------------------------------------------------

def new_location(api, key, client_id, name="HQ", **fields):
    return new_record(api, "locations", key, client_id, location_name=name, **fields)


def primaries(db, *location_ids):
    return [one(db, "locations", location_id=i)["location_primary"] for i in location_ids]


def test_location_create_needs_a_client(api, db, all_key):
    assert "client_id" in refused(api.post("locations/create", {"location_name": "HQ"}, key=all_key))["message"]
    assert fetch(db, "locations") == []
    assert log_rows(db) == []


def test_location_create_stores_cleaned_fields(api, db, all_key, two_clients):
    a, _, _ = two_clients
    location_id = new_location(api, all_key, a, " <b>HQ</b> ", location_city="Berlin", location_primary=1)
    row = one(db, "locations", location_id=location_id)
    assert (row["location_name"], row["location_city"], row["location_primary"], row["location_client_id"]) == \
        ("HQ", "Berlin", "1", str(a))
    assert row["location_archived_at"] is None


def test_primary_location_on_create_clears_the_clients_other_primary_only(api, db, all_key, two_clients):
    a, b, _ = two_clients
    old = new_location(api, all_key, a, "Old", location_primary=1)
    plain = new_location(api, all_key, a, "Plain")
    elsewhere = new_location(api, all_key, b, "Elsewhere", location_primary=1)
    new = new_location(api, all_key, a, "New", location_primary=1)
    assert primaries(db, old, plain, elsewhere, new) == ["0", "0", "1", "1"]


def test_non_primary_location_leaves_the_primary_alone(api, db, all_key, two_clients):
    a, _, _ = two_clients
    primary = new_location(api, all_key, a, "Main", location_primary=1)
    other = new_location(api, all_key, a, "Annex", location_primary=0)
    assert primaries(db, primary, other) == ["1", "0"]
    changed_one(api.post("locations/update", {"location_id": other, "location_notes": "x"}, key=all_key))
    assert primaries(db, primary, other) == ["1", "0"]


def test_primary_location_on_update_clears_the_clients_other_primary_only(api, db, all_key, two_clients):
    a, b, key_a = two_clients
    old = new_location(api, all_key, a, "Old", location_primary=1)
    promoted = new_location(api, all_key, a, "Promoted")
    elsewhere = new_location(api, all_key, b, "Elsewhere", location_primary=1)
    changed_one(api.post("locations/update", {"location_id": promoted, "location_primary": 1}, key=key_a))
    assert primaries(db, old, promoted, elsewhere) == ["0", "1", "1"]
    # making it primary again keeps it primary
    changed_one(api.post("locations/update", {"location_id": promoted, "location_primary": "1"}, key=all_key))
    assert primaries(db, old, promoted, elsewhere) == ["0", "1", "1"]


def test_scoped_key_cannot_make_another_clients_location_primary(api, db, all_key, two_clients):
    a, b, key_a = two_clients
    mine = new_location(api, all_key, a, "Mine", location_primary=1)
    theirs = new_location(api, all_key, b, "Theirs")
    refused(api.post("locations/update", {"location_id": theirs, "location_primary": 1}, key=key_a))
    assert primaries(db, mine, theirs) == ["1", "0"]


# --- vendors ------------------------------------------------------------------------------

def test_vendor_create_read_update_by_vendor_id(api, db, all_key, two_clients):
    a, _, _ = two_clients
    vendor_id = new_record(api, "vendors", all_key, a, vendor_name="<b>Dell</b>", vendor_phone="555-0100",
                           vendor_website="dell.example")
    other = new_record(api, "vendors", all_key, a, vendor_name="HP")
    rows = read_rows(api.get("vendors/read", key=all_key, vendor_id=vendor_id))
    assert len(rows) == 1
    row = rows[0]
    assert list(row) == columns("vendors")
    assert (row["vendor_id"], row["vendor_name"], row["vendor_website"], row["vendor_client_id"],
            row["vendor_template_id"]) == (str(vendor_id), "Dell", "dell.example", str(a), "0")
    changed_one(api.post("vendors/update", {"vendor_id": vendor_id, "vendor_account_number": "ACC-1"},
                         key=all_key))
    row = one(db, "vendors", vendor_id=vendor_id)
    assert (row["vendor_name"], row["vendor_account_number"]) == ("Dell", "ACC-1")
    assert one(db, "vendors", vendor_id=other)["vendor_account_number"] in ("", None)


def test_vendor_with_all_clients_key_and_no_client_goes_to_client_zero(api, db, all_key):
    vendor_id = new_record(api, "vendors", all_key)
    assert one(db, "vendors", vendor_id=vendor_id)["vendor_client_id"] == "0"


# --- expenses, invoices, quotes, products (read only) ------------------------------------

def new_invoice(db, client_id, number=1, status="Sent", **columns):
    values = {"invoice_prefix": "INV-", "invoice_number": number, "invoice_status": status,
              "invoice_date": "2024-01-31", "invoice_due": "2024-02-29", "invoice_currency_code": "USD",
              "invoice_category_id": 0, "invoice_client_id": client_id}
    return insert(db, "invoices", **{**values, **columns})


def new_quote(db, client_id, number=1, **columns):
    values = {"quote_prefix": "QUO-", "quote_number": number, "quote_status": "Draft", "quote_date": "2024-01-31",
              "quote_currency_code": "USD", "quote_category_id": 0, "quote_client_id": client_id}
    return insert(db, "quotes", **{**values, **columns})


def new_expense(db, client_id, amount="10.00", **columns):
    values = {"expense_description": "Cables", "expense_amount": amount, "expense_currency_code": "USD",
              "expense_date": "2024-01-31", "expense_client_id": client_id}
    return insert(db, "expenses", **{**values, **columns})


def new_product(db, name="Support hour", price="12.5", **columns):
    values = {"product_name": name, "product_price": price, "product_currency_code": "USD",
              "product_category_id": 0}
    return insert(db, "products", **{**values, **columns})


FINANCE = {
    "expenses": ("expense_id", lambda db, client, n: new_expense(db, client, f"{n}.5")),
    "invoices": ("invoice_id", lambda db, client, n: new_invoice(db, client, n)),
    "quotes": ("quote_id", lambda db, client, n: new_quote(db, client, n)),
}


@pytest.mark.parametrize("module", list(FINANCE))
def test_read_only_lists_page_in_id_order_and_narrow_by_client(api, db, all_key, two_clients, module):
    a, b, _ = two_clients
    id_column, make = FINANCE[module]
    made = [str(make(db, client, n)) for n, client in enumerate((a, b, a, b), start=1)]
    assert ids(read_rows(api.get(f"{module}/read", key=all_key)), id_column) == made
    assert ids(read_rows(api.get(f"{module}/read", key=all_key, limit=2, offset=1)), id_column) == made[1:3]
    assert ids(read_rows(api.get(f"{module}/read", key=all_key, offset=3)), id_column) == made[3:]
    assert ids(read_rows(api.get(f"{module}/read", key=all_key, client_id=b)), id_column) == [made[1], made[3]]
    assert api.get(f"{module}/read", key=all_key, offset=4) == (200, NO_RESOURCE)


@pytest.mark.parametrize("module", list(FINANCE))
def test_read_only_by_id_returns_the_whole_record(api, db, all_key, two_clients, module):
    a, _, _ = two_clients
    id_column, make = FINANCE[module]
    make(db, a, 1)
    record_id = make(db, a, 2)
    rows = read_rows(api.get(f"{module}/read", key=all_key, **{id_column: record_id}))
    assert rows == [one(db, module, **{id_column: record_id})]
    assert list(rows[0]) == columns(module)
    assert api.get(f"{module}/read", key=all_key, **{id_column: MISSING_ID}) == (200, NO_RESOURCE)


@pytest.mark.parametrize("module", list(FINANCE))
def test_read_only_scoped_key_sees_only_its_client(api, db, two_clients, module):
    a, b, key_a = two_clients
    id_column, make = FINANCE[module]
    theirs, mine = make(db, b, 1), make(db, a, 2)
    assert ids(read_rows(api.get(f"{module}/read", key=key_a)), id_column) == [str(mine)]
    assert ids(read_rows(api.get(f"{module}/read", key=key_a, client_id=b)), id_column) == [str(mine)]
    assert api.get(f"{module}/read", key=key_a, **{id_column: theirs}) == \
        api.get(f"{module}/read", key=key_a, **{id_column: MISSING_ID}) == (200, NO_RESOURCE)
    assert len(read_rows(api.get(f"{module}/read", key=key_a, **{id_column: mine}))) == 1


@pytest.mark.parametrize("module", list(FINANCE) + ["products"])
def test_read_only_modules_have_no_write_endpoints(api, db, all_key, two_clients, module):
    for function in ("create", "update", "delete"):
        status, body = api.post(f"{module}/{function}", {"client_id": two_clients[0]}, key=all_key)
        assert (status, body["success"]) == (404, "False")
    assert fetch(db, module) == []


def test_invoice_row_renders_decimals_dates_and_nulls_like_mysql(api, db, all_key, two_clients):
    a, _, _ = two_clients
    invoice_id = new_invoice(db, a, 42, invoice_amount="12.5", invoice_discount_amount=3,
                             invoice_credit_amount="0.1")
    row = read_rows(api.get("invoices/read", key=all_key, invoice_id=invoice_id))[0]
    assert (row["invoice_amount"], row["invoice_discount_amount"], row["invoice_credit_amount"]) == \
        ("12.50", "3.00", "0.10")
    assert (row["invoice_number"], row["invoice_prefix"], row["invoice_date"], row["invoice_due"]) == \
        ("42", "INV-", "2024-01-31", "2024-02-29")
    assert (row["invoice_note"], row["invoice_archived_at"]) == (None, None)
    assert (row["invoice_client_id"], row["invoice_category_id"], row["invoice_recurring_invoice_id"]) == \
        (str(a), "0", "0")


def test_expense_and_quote_decimals_render_with_two_places(api, db, all_key, two_clients):
    a, _, _ = two_clients
    expense_id = new_expense(db, a, amount=7)
    quote_id = new_quote(db, a, 3, quote_amount="1234.5", quote_discount_amount="0.05")
    expense = read_rows(api.get("expenses/read", key=all_key, expense_id=expense_id))[0]
    assert (expense["expense_amount"], expense["expense_date"], expense["expense_account_id"]) == \
        ("7.00", "2024-01-31", None)
    quote = read_rows(api.get("quotes/read", key=all_key, quote_id=quote_id))[0]
    assert (quote["quote_amount"], quote["quote_discount_amount"], quote["quote_expire"]) == \
        ("1234.50", "0.05", None)


def test_products_are_not_client_scoped(api, db, all_key, two_clients):
    _, b, key_a = two_clients
    first, second = new_product(db, "Support hour", "12.5"), new_product(db, "Router", 99)
    for key, params in ((all_key, {}), (key_a, {}), (key_a, {"client_id": b}), (all_key, {"client_id": b})):
        rows = read_rows(api.get("products/read", key=key, **params))
        assert ids(rows, "product_id") == [str(first), str(second)]
    rows = read_rows(api.get("products/read", key=key_a, product_id=second))
    assert rows == [one(db, "products", product_id=second)]
    assert list(rows[0]) == columns("products")
    assert (rows[0]["product_name"], rows[0]["product_price"], rows[0]["product_type"]) == \
        ("Router", "99.00", "service")
    assert read_rows(api.get("products/read", key=all_key, product_id=first))[0]["product_price"] == "12.50"
    assert ids(read_rows(api.get("products/read", key=all_key, limit=1, offset=1)), "product_id") == [str(second)]
    assert api.get("products/read", key=key_a, product_id=MISSING_ID) == (200, NO_RESOURCE)


def test_empty_finance_reads_are_no_resource(api, all_key):
    for module in ("expenses", "invoices", "quotes", "products"):
        assert api.get(f"{module}/read", key=all_key) == (200, NO_RESOURCE)


# --- invoice_items: read ------------------------------------------------------------------

FILTER_REQUIRED = "A filter is required. Please supply either invoice_id or item_id."


def new_item(db, invoice_id, name="Item", order=0, **columns):
    values = {"item_name": name, "item_quantity": 1, "item_price": "10", "item_subtotal": "10",
              "item_tax": 0, "item_total": "10", "item_order": order, "item_invoice_id": invoice_id}
    return insert(db, "invoice_items", **{**values, **columns})


@pytest.mark.parametrize("params", [{}, {"client_id": 1}, {"limit": 5}])
def test_invoice_items_read_needs_a_filter(api, db, all_key, two_clients, params):
    a, _, _ = two_clients
    new_item(db, new_invoice(db, a))
    status, body = api.get("invoice_items/read", key=all_key, **params)
    assert status == 400
    assert body == {"success": "False", "message": FILTER_REQUIRED, "count": 0, "data": []}


def test_invoice_items_read_by_invoice_orders_by_item_order_then_id(api, db, all_key, two_clients):
    a, _, _ = two_clients
    invoice_id, other_invoice = new_invoice(db, a, 1), new_invoice(db, a, 2)
    third = new_item(db, invoice_id, "Third", order=2)
    first = new_item(db, invoice_id, "First", order=1, item_price="12.5", item_quantity="1.5")
    new_item(db, other_invoice, "Elsewhere", order=0)
    second = new_item(db, invoice_id, "Second", order=1)
    rows = read_rows(api.get("invoice_items/read", key=all_key, invoice_id=invoice_id))
    assert ids(rows, "item_id") == [str(first), str(second), str(third)]
    assert all(list(row) == columns("invoice_items") for row in rows)
    assert rows[0] == one(db, "invoice_items", item_id=first)
    assert (rows[0]["item_price"], rows[0]["item_quantity"], rows[0]["item_invoice_id"]) == \
        ("12.50", "1.50", str(invoice_id))
    assert ids(read_rows(api.get("invoice_items/read", key=all_key, invoice_id=invoice_id, limit=1, offset=1)),
               "item_id") == [str(second)]


def test_invoice_items_read_by_item_id(api, db, all_key, two_clients):
    a, _, _ = two_clients
    invoice_id = new_invoice(db, a)
    new_item(db, invoice_id, "One")
    item_id = new_item(db, invoice_id, "Two")
    rows = read_rows(api.get("invoice_items/read", key=all_key, item_id=item_id))
    assert rows == [one(db, "invoice_items", item_id=item_id)]
    assert list(rows[0]) == columns("invoice_items")
    assert api.get("invoice_items/read", key=all_key, item_id=MISSING_ID) == (200, NO_RESOURCE)
    assert api.get("invoice_items/read", key=all_key, invoice_id=MISSING_ID) == (200, NO_RESOURCE)


def test_invoice_items_read_is_scoped_through_the_invoice(api, db, all_key, two_clients):
    a, b, key_a = two_clients
    mine_invoice, their_invoice = new_invoice(db, a, 1), new_invoice(db, b, 2)
    mine, theirs = new_item(db, mine_invoice, "Mine"), new_item(db, their_invoice, "Theirs")

    assert api.get("invoice_items/read", key=key_a, invoice_id=their_invoice) == (200, NO_RESOURCE)
    assert api.get("invoice_items/read", key=key_a, item_id=theirs) == (200, NO_RESOURCE)
    assert api.get("invoice_items/read", key=key_a, item_id=theirs, client_id=b) == (200, NO_RESOURCE)
    assert ids(read_rows(api.get("invoice_items/read", key=key_a, invoice_id=mine_invoice, client_id=b)),
               "item_id") == [str(mine)]
    assert ids(read_rows(api.get("invoice_items/read", key=key_a, item_id=mine)), "item_id") == [str(mine)]

    assert ids(read_rows(api.get("invoice_items/read", key=all_key, item_id=theirs)), "item_id") == [str(theirs)]
    assert api.get("invoice_items/read", key=all_key, item_id=theirs, client_id=a) == (200, NO_RESOURCE)
    assert ids(read_rows(api.get("invoice_items/read", key=all_key, invoice_id=their_invoice, client_id=b)),
               "item_id") == [str(theirs)]


# --- invoice_items: create ----------------------------------------------------------------

def add_item(api, key, invoice, **fields):
    body = {"invoice_id": invoice, "name": "Support", "qty": 1, "price": "10.00", **fields}
    return api.post("invoice_items/create", {k: v for k, v in body.items() if v is not None}, key=key)


def test_invoice_item_create_computes_tax_totals_and_invoice_amount(api, db, all_key, two_clients):
    a, _, _ = two_clients
    tax_id = insert(db, "taxes", tax_name="VAT", tax_percent=8.25)
    invoice_id = new_invoice(db, a, 7, invoice_discount_amount="5.00")
    item_id = created_id(add_item(api, all_key, invoice_id, name="<b>Laptop</b>", description="14 inch",
                                  qty=3, price="19.99", tax_id=tax_id, item_order=2, product_id=9))
    item = one(db, "invoice_items", item_id=item_id)
    assert {k: item[k] for k in ("item_name", "item_description", "item_quantity", "item_price", "item_subtotal",
                                 "item_tax", "item_total", "item_order", "item_tax_id", "item_product_id",
                                 "item_invoice_id")} == {
        "item_name": "Laptop", "item_description": "14 inch", "item_quantity": "3.00", "item_price": "19.99",
        "item_subtotal": "59.97", "item_tax": "4.95", "item_total": "64.92", "item_order": "2",
        "item_tax_id": str(tax_id), "item_product_id": "9", "item_invoice_id": str(invoice_id)}
    # 64.92 less the 5.00 discount
    assert one(db, "invoices", invoice_id=invoice_id)["invoice_amount"] == "59.92"

    second = created_id(add_item(api, all_key, invoice_id, name="Cable", qty="2", price=2.5))
    item = one(db, "invoice_items", item_id=second)
    assert (item["item_subtotal"], item["item_tax"], item["item_total"], item["item_tax_id"]) == \
        ("5.00", "0.00", "5.00", "0")
    assert one(db, "invoices", invoice_id=invoice_id)["invoice_amount"] == "64.92"
    # and the read shows both lines
    assert ids(read_rows(api.get("invoice_items/read", key=all_key, invoice_id=invoice_id)), "item_id") == \
        [str(second), str(item_id)]


def test_invoice_item_amount_counts_items_already_on_the_invoice(api, db, all_key, two_clients):
    a, _, _ = two_clients
    invoice_id = new_invoice(db, a, invoice_amount="0.00")
    new_item(db, invoice_id, "Earlier", item_total="100.10")
    created_id(add_item(api, all_key, invoice_id, qty="0.5", price="10.01"))
    assert one(db, "invoices", invoice_id=invoice_id)["invoice_amount"] == "105.11"


def test_invoice_item_create_writes_the_two_log_rows(api, db, all_key, two_clients):
    a, _, _ = two_clients
    invoice_id = new_invoice(db, a, 7)
    created_id(add_item(api, all_key, invoice_id, name="Laptop"))
    rows = log_rows(db)
    assert len(rows) == 2, rows
    record, api_row = rows
    assert (record["log_type"], record["log_action"], record["log_entity_id"], record["log_client_id"]) == \
        ("Invoice", "Edit", str(invoice_id), str(a))
    assert "Laptop" in record["log_description"] and record["log_description"].endswith("via API (test key)")
    assert (api_row["log_type"], api_row["log_action"], api_row["log_client_id"]) == ("API", "Success", str(a))
    assert api_row["log_description"].endswith("via API (test key)")


def assert_nothing_written(db, invoice_id, amount="0.00"):
    assert fetch(db, "invoice_items") == []
    assert one(db, "invoices", invoice_id=invoice_id)["invoice_amount"] == amount
    assert log_rows(db) == []


@pytest.mark.parametrize("missing", ["invoice_id", "name", "qty", "price"])
def test_invoice_item_missing_required_field_is_refused(api, db, all_key, two_clients, missing):
    a, _, _ = two_clients
    invoice_id = new_invoice(db, a)
    assert missing in refused(add_item(api, all_key, invoice_id, **{missing: None}))["message"]
    if missing == "name":
        assert "name" in refused(add_item(api, all_key, invoice_id, name=""))["message"]
        assert "name" in refused(add_item(api, all_key, invoice_id, name="<b></b>"))["message"]
    assert_nothing_written(db, invoice_id)


@pytest.mark.parametrize("qty", [0, "0", "0.00", -1, "0.001"])
def test_invoice_item_quantity_must_be_more_than_zero(api, db, all_key, two_clients, qty):
    a, _, _ = two_clients
    invoice_id = new_invoice(db, a)
    assert "qty" in refused(add_item(api, all_key, invoice_id, qty=qty))["message"]
    assert_nothing_written(db, invoice_id)


def test_invoice_item_on_a_paid_invoice_is_refused(api, db, all_key, two_clients):
    a, _, _ = two_clients
    invoice_id = new_invoice(db, a, status="Paid", invoice_amount="10.00")
    assert "Paid" in refused(add_item(api, all_key, invoice_id))["message"]
    assert_nothing_written(db, invoice_id, "10.00")


def test_invoice_item_with_unknown_tax_is_refused(api, db, all_key, two_clients):
    a, _, _ = two_clients
    invoice_id = new_invoice(db, a)
    assert "tax_id" in refused(add_item(api, all_key, invoice_id, tax_id=MISSING_ID))["message"]
    assert_nothing_written(db, invoice_id)


def test_invoice_item_on_missing_invoice_is_refused(api, db, all_key, two_clients):
    refused(add_item(api, all_key, MISSING_ID))
    assert fetch(db, "invoice_items") == [] and log_rows(db) == []


def test_invoice_item_on_another_clients_invoice_is_refused_like_a_missing_one(api, db, all_key, two_clients):
    a, b, key_a = two_clients
    theirs = new_invoice(db, b, 1)
    theirs_result = add_item(api, key_a, theirs)
    refused(theirs_result)
    same_refusal(theirs_result, add_item(api, key_a, MISSING_ID), theirs)
    # an all-clients key naming another client_id is held to it as well
    refused(add_item(api, all_key, theirs, client_id=a))
    assert_nothing_written(db, theirs)

    mine = new_invoice(db, a, 2)
    item_id = created_id(add_item(api, key_a, mine, client_id=b))
    assert one(db, "invoice_items", item_id=item_id)["item_invoice_id"] == str(mine)
    assert one(db, "invoices", invoice_id=mine)["invoice_amount"] == "10.00"


def test_invoice_item_bad_numbers_are_refused(api, db, all_key, two_clients):
    a, _, _ = two_clients
    invoice_id = new_invoice(db, a)
    for field, value in (("qty", "many"), ("price", "ten"), ("invoice_id", "seven")):
        status, body = add_item(api, all_key, invoice_id, **{field: value})
        assert (status, body["success"]) == (200, "False") and field in body["message"]
    assert_nothing_written(db, invoice_id)


# --- ticket_replies: create ---------------------------------------------------------------

def new_ticket(db, client_id, number=1, subject="Printer on fire", **columns):
    values = {"ticket_prefix": "TCK-", "ticket_number": number, "ticket_subject": subject,
              "ticket_details": "<p>Help</p>", "ticket_status": 1, "ticket_created_by": 0,
              "ticket_client_id": client_id}
    return insert(db, "tickets", **{**values, **columns})


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


# --- ticket_replies: read -----------------------------------------------------------------

REPLY_EXTRAS = ["ticket_prefix", "ticket_number", "ticket_subject", "ticket_client_id", "ticket_reply_by_name"]


def reply(db, ticket_id, text, reply_type="Internal", by=0, worked=None, **columns):
    return insert(db, "ticket_replies", ticket_reply=text, ticket_reply_type=reply_type, ticket_reply_by=by,
                  ticket_reply_time_worked=worked, ticket_reply_ticket_id=ticket_id, **columns)


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


# --- technicians/time ---------------------------------------------------------------------

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


def test_technician_time_invalid_year_is_refused(api, all_key, timesheet):
    status, body = api.get("technicians/time", key=all_key, year="twenty")
    assert (status, body["success"]) == (200, "False") and "year" in body["message"]


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


def test_invoice_item_empty_price_counts_as_missing(api, db, all_key, make_client):
    client = make_client("Acme")
    invoice = insert(db, "invoices", invoice_number=1, invoice_status="Draft", invoice_date="2024-01-01",
                     invoice_due="2024-02-01", invoice_currency_code="USD", invoice_category_id=0,
                     invoice_client_id=client)
    status, body = api.post("invoice_items/create", {"invoice_id": invoice, "name": "x", "qty": 1, "price": ""},
                            key=all_key)
    assert body["success"] == "False" and "price" in body["message"]
    with db.transaction():
        assert db.count("invoice_items", {}) == 0
