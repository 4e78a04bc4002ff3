"""The contract every module honours, checked module by module: envelopes, look-ups by id,
paging, update/archive/delete, refusals that change nothing, and client scope for both kinds
of key."""
import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import log_rows, make_key

from itflow_api.lib.modules import assets, certificates, clients, contacts, credentials, domains, networks, software, tickets

DECRYPT = "module-test-pw"

# module definition → the smallest valid create body, and a text field an update may change
SAMPLES = {
    assets.MODULE: ({"asset_name": "PC-01"}, "asset_notes"),
    certificates.MODULE: ({"certificate_name": "Web", "certificate_domain": "example.com"}, "certificate_notes"),
    clients.MODULE: ({"client_name": "Initech"}, "client_notes"),
    contacts.MODULE: ({"contact_name": "Pat", "contact_email": "pat@example.com"}, "contact_notes"),
    credentials.MODULE: ({"credential_name": "Router", "credential_password": "pw1"}, "credential_note"),
    domains.MODULE: ({"domain_name": "example.com"}, "domain_notes"),
    networks.MODULE: ({"network_name": "LAN", "network": "10.0.0.0/24"}, "network_notes"),
    software.MODULE: ({"software_name": "Office"}, "software_notes"),
    tickets.MODULE: ({"ticket_subject": "Printer jam"}, "ticket_category"),
}
MODULES = list(SAMPLES)
SCOPED = [m for m in MODULES if m.client_column != m.id_column]


@pytest.fixture
def keyset(keys, make_client):
    """Two clients, an all-clients key, a key scoped to client A (both can decrypt) and one
    scoped to client B (cannot decrypt)."""
    a, b = make_client("Alpha"), make_client("Bravo")
    everyone = make_key(keys, decrypt_password=DECRYPT)
    only_a = make_key(keys, client_id=a, decrypt_password=DECRYPT, unlock_key=everyone, unlock_password=DECRYPT)
    only_b = make_key(keys, client_id=b)
    return {"a": a, "b": b, "all": everyone, "only_a": only_a, "only_b": only_b}


def _extra(module):
    return {"api_key_decrypt_password": DECRYPT} if module is credentials.MODULE else {}


_serial = itertools.count(1)


def create(api, module, key, client_id=None, **fields):
    body = {**SAMPLES[module][0], **fields, **_extra(module)}
    if module is contacts.MODULE and "contact_email" not in fields:  # one email per client
        body["contact_email"] = f"pat{next(_serial)}@example.com"
    if client_id is not None:
        body["client_id"] = client_id
    return api.post(f"{module.name}/create", body, key=key)


def read(api, module, key, **params):
    return api.get(f"{module.name}/read", key=key, **params, **_extra(module))


def write(api, module, function, key, **body):
    return api.post(f"{module.name}/{function}", {**body, **_extra(module)}, key=key)


def stored(db, module, record_id):
    with db.transaction():
        return db.row(f"SELECT * FROM {module.table} WHERE {module.id_column} = :id", {"id": record_id})


def table_count(db, module):
    with db.transaction():
        return db.count(module.table, {})


def new_record(api, module, keyset, client="a"):
    client_id = None if module is clients.MODULE else keyset[client]
    status, body = create(api, module, keyset["all"], client_id)
    assert status == 200 and body["success"] == "True", body
    return body["data"][0]["insert_id"]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_full_lifecycle_with_exact_envelopes(api, db, keyset, module):
    key = keyset["all"]
    client_id = None if module is clients.MODULE else keyset["a"]
    status, body = create(api, module, key, client_id)
    assert status == 200
    assert body["success"] == "True" and body["count"] == "1"
    assert list(body) == ["success", "count", "data"]
    record_id = body["data"][0]["insert_id"]
    assert isinstance(record_id, int) and record_id > 0

    id_lookup = {module.id_column: record_id} if module is not clients.MODULE else {"client_id": record_id}
    status, body = read(api, module, key, **id_lookup)
    assert status == 200 and body["success"] == "True" and body["count"] == 1
    row = body["data"][0]
    assert row[module.id_column] == str(record_id)
    assert all(v is None or isinstance(v, str) for v in row.values()), row

    text_field = SAMPLES[module][1]
    status, body = write(api, module, "update", key, **{module.id_column: record_id, text_field: "changed"})
    assert body == {"success": "True", "count": 1}
    assert stored(db, module, record_id)[text_field] == "changed"
    # ITFlow counts changed rows, so a repeat that changes nothing answers "False" (HTTP 200).
    status, body = write(api, module, "update", key, **{module.id_column: record_id, text_field: "changed"})
    assert (status, body["success"], body["count"]) == (200, "False", 0)
    assert "No rows changed" in body["message"]

    assert write(api, module, "archive", key, **{module.id_column: record_id})[1] == {"success": "True", "count": 1}
    assert stored(db, module, record_id)[module.archived_column] is not None
    status, body = read(api, module, key, **id_lookup)  # archived records stay readable by id
    assert body["count"] == 1
    assert write(api, module, "unarchive", key, **{module.id_column: record_id})[1] == {"success": "True", "count": 1}
    assert stored(db, module, record_id)[module.archived_column] is None

    assert write(api, module, "delete", key, **{module.id_column: record_id})[1] == {"success": "True", "count": 1}
    assert stored(db, module, record_id) is None
    status, body = read(api, module, key, **id_lookup)
    assert body["success"] == "False" and body["message"].startswith("No resource")


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_archive_twice_or_unarchive_when_not_archived_writes_nothing(api, db, keyset, module):
    # ITFlow looks the record up in the state the change needs (clients/archive.php:12-17,
    # contacts/unarchive.php:15-20, ...): otherwise no UPDATE, no logs row, "False" (HTTP 200).
    key, record_id = keyset["all"], new_record(api, module, keyset)
    ident = {module.id_column: record_id}
    logs = len(log_rows(db))
    status, body = write(api, module, "unarchive", key, **ident)
    assert (status, body["success"], body["count"], body["data"]) == (200, "False", 0, [])
    assert "not archived" in body["message"]
    assert len(log_rows(db)) == logs
    assert write(api, module, "archive", key, **ident)[1] == {"success": "True", "count": 1}
    archived_at, logs = stored(db, module, record_id)[module.archived_column], len(log_rows(db))
    status, body = write(api, module, "archive", key, **ident)
    assert (status, body["success"]) == (200, "False") and "already archived" in body["message"]
    assert len(log_rows(db)) == logs and stored(db, module, record_id)[module.archived_column] == archived_at



@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_every_write_logs_the_record_row_and_the_api_row(api, db, keyset, module):
    record_id = new_record(api, module, keyset)
    entity_rows = log_rows(db, log_type=module.entity, log_action="Create")
    assert len(entity_rows) == 1
    assert entity_rows[0]["log_entity_id"] == str(record_id)
    assert entity_rows[0]["log_description"].endswith("via API (test key)")
    api_rows = log_rows(db, log_type="API", log_action="Success")
    assert len(api_rows) == 1 and api_rows[0]["log_description"].startswith("Created ")


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_missing_required_field_is_refused_and_writes_nothing(api, db, keyset, module):
    for required in module.required:
        body = {k: v for k, v in SAMPLES[module][0].items() if k != required}
        if module is not clients.MODULE:
            body["client_id"] = keyset["a"]
        status, answer = api.post(f"{module.name}/create", {**body, **_extra(module)}, key=keyset["all"])
        assert status == 200
        assert answer["success"] == "False" and required in answer["message"]
        assert answer["count"] == 0 and answer["data"] == []
    assert table_count(db, module) == (2 if module is clients.MODULE else 0)
    assert log_rows(db) == []


@pytest.mark.parametrize("module", SCOPED, ids=lambda m: m.name)
def test_all_clients_key_must_name_a_real_client(api, db, keyset, module):
    if module.client_optional:
        status, body = create(api, module, keyset["all"])
        assert body["success"] == "True"
        assert stored(db, module, body["data"][0]["insert_id"])[module.client_column] == "0"
    else:
        status, body = create(api, module, keyset["all"])
        assert body["success"] == "False" and "client_id" in body["message"]
    status, body = create(api, module, keyset["all"], 999999)
    assert body["success"] == "False" and "999999" in body["message"]


@pytest.mark.parametrize("module", SCOPED, ids=lambda m: m.name)
def test_scoped_key_writes_only_to_its_client(api, db, keyset, module):
    status, body = create(api, module, keyset["only_a"], keyset["b"])
    assert body["success"] == "True"
    assert stored(db, module, body["data"][0]["insert_id"])[module.client_column] == str(keyset["a"])


@pytest.mark.parametrize("module", SCOPED, ids=lambda m: m.name)
def test_other_clients_records_are_indistinguishable_from_missing(api, db, keyset, module):
    theirs = new_record(api, module, keyset, client="b")
    mine = new_record(api, module, keyset, client="a")
    key = keyset["only_a"]
    before = stored(db, module, theirs)

    assert read(api, module, key, **{module.id_column: theirs})[1] == \
        read(api, module, key, **{module.id_column: 987654})[1]
    status, body = read(api, module, key)
    assert [r[module.id_column] for r in body["data"]] == [str(mine)]
    # client_id is ignored for a scoped key
    status, body = read(api, module, key, client_id=keyset["b"])
    assert [r[module.id_column] for r in body["data"]] == [str(mine)]

    for function in ("update", "archive", "delete"):
        fields = {module.id_column: theirs, SAMPLES[module][1]: "hijacked"}
        status, body = write(api, module, function, key, **fields)
        assert status == 200 and body["success"] == "False", (function, body)
        assert str(theirs) in body["message"]
        missing = write(api, module, function, key, **{**fields, module.id_column: 987654})[1]
        assert missing["message"].replace("987654", "N") == body["message"].replace(str(theirs), "N")
    assert stored(db, module, theirs) == before


@pytest.mark.parametrize("module", SCOPED, ids=lambda m: m.name)
def test_all_clients_key_reads_everything_and_client_id_narrows(api, keyset, module):
    a = new_record(api, module, keyset, client="a")
    b = new_record(api, module, keyset, client="b")
    status, body = read(api, module, keyset["all"])
    assert [r[module.id_column] for r in body["data"]] == [str(a), str(b)]
    status, body = read(api, module, keyset["all"], client_id=keyset["b"])
    assert [r[module.id_column] for r in body["data"]] == [str(b)]
    # An all-clients key naming client_id on a write must match the record's client.
    status, body = write(api, module, "update", keyset["all"], client_id=keyset["a"],
                         **{module.id_column: b, SAMPLES[module][1]: "x"})
    assert body["success"] == "False"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_list_reads_page_in_id_order(api, keyset, module):
    ids = [new_record(api, module, keyset) for _ in range(3)]
    if module is clients.MODULE:
        ids = [str(keyset["a"]), str(keyset["b"])] + [str(i) for i in ids]
    else:
        ids = [str(i) for i in ids]
    status, body = read(api, module, keyset["all"], limit=2, offset=1)
    assert body["count"] == 2
    assert [r[module.id_column] for r in body["data"]] == ids[1:3]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_update_and_delete_need_an_existing_id(api, keyset, module):
    for function in ("update", "delete", "archive", "unarchive"):
        status, body = write(api, module, function, keyset["all"])
        assert body["success"] == "False" and module.id_column in body["message"]
        status, body = write(api, module, function, keyset["all"], **{module.id_column: 424242})
        assert body["success"] == "False" and "424242" in body["message"]
        status, body = write(api, module, function, keyset["all"], **{module.id_column: "forty"})
        assert (status, body["success"]) == (200, "False") and module.id_column in body["message"]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_update_changes_only_the_fields_sent(api, db, keyset, module):
    record_id = new_record(api, module, keyset)
    before = stored(db, module, record_id)
    text_field = SAMPLES[module][1]
    write(api, module, "update", keyset["all"], **{module.id_column: record_id, text_field: "only this"})
    after = stored(db, module, record_id)
    changed = {k for k in after if after[k] != before[k]} - {module.table.rstrip("s") + "_updated_at",
                                                              "client_updated_at", "software_updated_at"}
    # Section 5: besides, the update model writes a stored NULL back as '' (0 for numbers).
    emptied = {k for k in changed if before[k] is None and after[k] in ("", "0", 0)}
    assert {c for c in changed - emptied if not c.endswith("_updated_at")} == {text_field}


def test_a_refused_write_rolls_back_everything(api, db, keyset, monkeypatch):
    """A failure after the record was inserted leaves neither record nor log rows."""
    from itflow_api.lib.core.envelope import Refused

    def refuse(*args):
        raise Refused("refused after insert")
    monkeypatch.setattr(assets.MODULE.hooks, "after_create", refuse)
    status, body = create(api, assets.MODULE, keyset["all"], keyset["a"])
    assert body["message"] == "refused after insert"
    assert table_count(db, assets.MODULE) == 0
    with db.transaction():
        assert db.count("asset_interfaces", {}) == 0
    assert log_rows(db) == []


def test_parallel_ticket_creates_get_distinct_consecutive_numbers(api, db, keyset):
    with db.transaction(write=True):
        db.update("settings", {"config_ticket_next_number": 500}, {"company_id": 1})

    def one(i):
        return api.post("tickets/create", {"ticket_subject": f"Load {i}", "client_id": keyset["a"]}, key=keyset["all"])

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(one, range(50)))
    assert all(body["success"] == "True" for _, body in results), results
    with db.transaction():
        numbers = sorted(int(r["ticket_number"]) for r in db.rows("SELECT ticket_number FROM tickets"))
        next_number = db.scalar("SELECT config_ticket_next_number FROM settings WHERE company_id = 1")
    assert numbers == list(range(500, 550))
    assert next_number == "550"


# module → {look-up parameter: (value stored through the API, value looked up)}
LOOKUP_VALUES = {
    assets.MODULE: {"asset_type": ("Laptop", "laptop"), "asset_name": ("PC-7", "PC-7"),
                    "asset_serial": ("SN-7", "SN-7"), "asset_mac": ("aa:bb:cc:00:00:07", "aa:bb:cc:00:00:07"),
                    "asset_uri": ("https://pc7", "https://pc7"), "asset_uri_2": ("ssh://pc7", "ssh://pc7")},
    certificates.MODULE: {"certificate_name": ("Wildcard", "Wildcard")},
    clients.MODULE: {"client_name": ("Umbrella", "Umbrella")},
    contacts.MODULE: {"contact_email": ("kim@example.com", "kim@example.com"),
                      "contact_phone_or_mobile": ("555 0107", "5550107")},
    domains.MODULE: {"domain_name": ("https://umbrella.example", "umbrella.example")},
    networks.MODULE: {"network_name": ("Guest", "Guest")},
    software.MODULE: {"software_key": ("KEY-7", "KEY-7"), "software_name": ("Visio", "Visio"),
                      "software_type": ("Desktop", "Desktop")},
}
LOOKUP_CASES = [(m, param) for m, params in LOOKUP_VALUES.items() for param in params]


@pytest.mark.parametrize("module, param", LOOKUP_CASES, ids=lambda v: getattr(v, "name", v))
def test_each_look_up_finds_exactly_its_records(api, keyset, module, param):
    stored, looked_up = LOOKUP_VALUES[module][param]
    field = "contact_mobile" if param == "contact_phone_or_mobile" else param
    client_id = None if module is clients.MODULE else keyset["a"]
    decoy = create(api, module, keyset["all"], client_id)[1]["data"][0]["insert_id"]
    wanted = create(api, module, keyset["all"], client_id, **{field: stored})[1]["data"][0]["insert_id"]
    status, body = read(api, module, keyset["all"], **{param: looked_up})
    assert status == 200 and body["success"] == "True", body
    assert [r[module.id_column] for r in body["data"]] == [str(wanted)]
    assert decoy != wanted
    # the key of another client finds nothing
    if module is not clients.MODULE:
        assert read(api, module, keyset["only_b"], **{param: looked_up})[1]["success"] == "False"
