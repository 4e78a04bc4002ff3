"""What documents, locations and vendors share (docs/contract.md sections 5 and 6): create,
read, update, archive, unarchive and delete with their exact envelopes and log rows, required
fields, paging, and a scoped key's reach.

Each test sets up what it needs (rows without a create endpoint are written straight to the
database), makes its calls and asserts the envelopes and stored values exactly: every value
in a row is a string, SQL NULL is None.
"""
import pytest
from helpers import (
    CLIENT_COLUMN,
    MISSING_ID,
    NO_RESOURCE,
    WRITABLE,
    assert_recent,
    assert_write_logged,
    changed_one,
    clear_logs,
    columns,
    fetch,
    ids,
    log_rows,
    new_record,
    one,
    read_rows,
    refused,
    same_refusal,
)


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
