"""Values read the way ITFlow + MariaDB read them (docs/contract.md sections 2, 4, 5, 6.1): every table
row below is a request a real client sends and what ends up stored, on both backends."""
import pytest
from helpers import fetch, log_rows, make_key, one, refused, succeeded

from itflow_api.lib.itflow import schema
from itflow_api.lib.itflow.create_columns import CREATE_COLUMNS

DECRYPT = "field-test-pw"


@pytest.fixture
def client_a(make_client):
    return make_client("Alpha")


def create_asset(api, key, client_id, **fields):
    return api.post("assets/create", {"client_id": client_id, "asset_name": "PC", **fields}, key=key)


# --- dates --------------------------------------------------------------------------------

@pytest.mark.parametrize("sent, stored", [
    ("2024-06-12", "2024-06-12"),
    ("2024/06/12", "2024-06-12"),   # the RMM sync script's yyyy/MM/dd
    ("2024.06.12", "2024-06-12"),
    ("20240612", "2024-06-12"),
    ("2024-6-1", "2024-06-01"),
    (" 2024-06-12 ", "2024-06-12"),
    ("2024-06-12 13:45:00", "2024-06-12"),  # a DATE column drops the time, as MariaDB does
    ("0000-00-00", "0000-00-00"),   # ITFlow's own PowerShell examples send the zero date
    ("", None),
])
def test_dates_in_every_shape_mariadb_takes(api, db, all_key, client_a, sent, stored):
    body = succeeded(create_asset(api, all_key, client_a, asset_purchase_date=sent, asset_warranty_expire=sent))
    row = one(db, "assets", asset_id=body["data"][0]["insert_id"])
    assert (row["asset_purchase_date"], row["asset_warranty_expire"]) == (stored, stored)


@pytest.mark.parametrize("sent", ["2024-13-45", "tomorrow", "2024-02-30", "12/06", "2024-06-12x"])
def test_dates_mariadb_would_refuse_are_refused_with_200_naming_the_field(api, db, all_key, client_a, sent):
    body = refused(create_asset(api, all_key, client_a, asset_install_date=sent))
    assert "asset_install_date" in body["message"]
    assert fetch(db, "assets") == [] and log_rows(db) == []


def test_zero_date_reads_back_as_the_zero_date(api, all_key, client_a):
    asset_id = succeeded(create_asset(api, all_key, client_a, asset_purchase_date="0000-00-00"))["data"][0]["insert_id"]
    status, body = api.get("assets/read", key=all_key, asset_id=asset_id)
    assert body["data"][0]["asset_purchase_date"] == "0000-00-00"


# --- integers, flags, text -------------------------------------------------------------------

def test_empty_strings_for_ids_are_zero_as_in_itflow_examples(api, db, all_key, client_a):
    body = succeeded(create_asset(api, all_key, client_a, asset_vendor_id="", asset_location_id="",
                                  asset_contact_id="", asset_network_id=""))
    row = one(db, "assets", asset_id=body["data"][0]["insert_id"])
    assert (row["asset_vendor_id"], row["asset_location_id"], row["asset_contact_id"]) == ("0", "0", "0")


@pytest.mark.parametrize("sent, stored", [(True, "1"), (False, "0"), ("1", "1"), ("", "0"), ("yes", "0")])
def test_flags_take_booleans_and_numeric_text(api, db, all_key, client_a, sent, stored):
    result = api.post("contacts/create", {"client_id": client_a, "contact_name": "Pat",
                                          "contact_email": "pat@example.com", "contact_important": sent}, key=all_key)
    if stored is None:
        assert "contact_important" in refused(result)["message"]
        return
    row = one(db, "contacts", contact_id=succeeded(result)["data"][0]["insert_id"])
    assert row["contact_important"] == stored


def test_every_value_as_a_string_like_powershell_sends(api, db, all_key, client_a):
    body = succeeded(api.post("clients/create", {"client_name": "Acme", "client_rate": "95.5",
                                                 "client_net_terms": "30", "client_is_lead": "0"}, key=all_key))
    row = one(db, "clients", client_id=body["data"][0]["insert_id"])
    assert (row["client_rate"], row["client_net_terms"], row["client_lead"]) == ("95.50", "30", "0")


def test_boolean_false_for_text_is_empty_like_php(api, db, all_key, client_a):
    body = succeeded(create_asset(api, all_key, client_a, asset_notes=False, asset_make=True))
    row = one(db, "assets", asset_id=body["data"][0]["insert_id"])
    assert (row["asset_notes"], row["asset_make"]) == ("", "1")


@pytest.mark.parametrize("field, value", [
    ("asset_mac", "m" * 300), ("asset_ip", "1" * 300), ("asset_vendor_id", 2 ** 63), ("asset_vendor_id", 2 ** 31),
])
def test_values_no_column_can_hold_are_refused_naming_the_field(api, db, all_key, client_a, field, value):
    body = refused(create_asset(api, all_key, client_a, **{field: value}))
    assert field in body["message"]
    assert fetch(db, "assets") == [] and fetch(db, "asset_interfaces") == []


def test_a_lone_surrogate_in_json_text_is_refused_naming_the_field(api, db, all_key, client_a):
    raw = f'{{"api_key": "{all_key}", "client_id": {client_a:d}, "asset_name": "PC \\ud800"}}'
    assert "asset_name" in refused(api.post("assets/create", raw=raw))["message"]
    assert fetch(db, "assets") == []


def test_huge_ids_in_look_ups_and_writes_are_refused_not_errors(api, all_key):
    status, body = api.get("assets/read", key=all_key, asset_id=str(2 ** 70))
    assert (status, body["success"]) == (200, "False")
    status, body = api.post("assets/update", {"asset_id": 2 ** 70, "asset_name": "x"}, key=all_key)
    assert (status, body["success"]) == (200, "False")


# --- what a create leaves alone ----------------------------------------------------------------

MINIMAL_CREATES = {
    "clients": ("clients", {"client_name": "Initech"}, False),
    "contacts": ("contacts", {"contact_name": "Pat", "contact_email": "pat@example.com"}, True),
    "assets": ("assets", {"asset_name": "PC"}, True),
    "certificates": ("certificates", {"certificate_name": "Web", "certificate_domain": "example.com"}, True),
    "credentials": ("credentials", {"credential_name": "Router"}, True),
    "documents": ("documents", {"document_name": "Runbook", "document_content": "<p>x</p>"}, True),
    "locations": ("locations", {"location_name": "HQ"}, True),
    "tickets": ("tickets", {"ticket_subject": "Printer"}, True),
    "domains": ("domains", {"domain_name": "example.com"}, True),
    "networks": ("networks", {"network_name": "LAN", "network": "10.0.0.0/24"}, True),
    "software": ("software", {"software_name": "Office"}, True),
    "vendors": ("vendors", {"vendor_name": "Dell"}, True),
}

# Named in issue 9: columns ITFlow leaves to their default, read back as null.
LEFT_NULL = {
    "contacts": ["contact_phone_country_code", "contact_mobile_country_code", "contact_photo", "contact_pin"],
    "assets": ["asset_uri_2", "asset_uri_client", "asset_purchase_reference", "asset_photo",
               "asset_physical_location"],
    "credentials": ["credential_category"],
    "tickets": ["ticket_category"],
    "locations": ["location_phone", "location_fax", "location_photo"],
}
# Managed by the server on create (timestamps, numbering, derived text).
SET_BY_SERVER = {"client_accessed_at", "ticket_prefix", "ticket_number", "ticket_source", "ticket_status",
                 "ticket_url_key", "ticket_details", "ticket_priority", "ticket_contact_id",
                 "document_content_raw", "document_created_by",
                 "credential_username", "credential_password",  # stored encrypted, even when empty
                 "ticket_vendor_ticket_number"}  # written as 0: its own test below


@pytest.fixture
def decrypt_all_key(keys):
    return make_key(keys, decrypt_password=DECRYPT)


def _fresh_row(api, db, key, client_id, module):
    table, body, scoped = MINIMAL_CREATES[module]
    body = dict(body)
    if scoped:
        body["client_id"] = client_id
    if module == "credentials":
        body["api_key_decrypt_password"] = DECRYPT
    record_id = succeeded(api.post(f"{module}/create", body, key=key))["data"][0]["insert_id"]
    return table, body, one(db, table, **{schema.primary_key(table): record_id})


@pytest.mark.parametrize("module", list(MINIMAL_CREATES))
def test_a_fresh_row_has_nulls_where_itflow_leaves_columns_alone(api, db, decrypt_all_key, client_a, module):
    table, body, row = _fresh_row(api, db, decrypt_all_key, client_a, module)
    for column in LEFT_NULL.get(module, []):
        assert row[column] is None, (column, row[column])
    listed = set(CREATE_COLUMNS[table])
    for col in schema.columns(table):
        name, value = col.name, row[col.name]
        if col.auto_increment or name in body or name in SET_BY_SERVER or \
                name.endswith(("_created_at", "_updated_at", "_client_id")):
            continue
        if name in listed:
            # Written with the model's empty value: '' for text, 0 for numbers, NULL for dates.
            assert value in ("", "0", "0.00", None) or col.default is not None, (name, value)
            if col.is_temporal:
                assert value is None, (name, value)
            elif col.is_text and not name.endswith("_client_id"):
                assert value == "" or col.default is not None, (name, value)
        else:
            # Not written: the declared default (NULL when there is none).
            default = None if col.default in (None, "NULL") else col.default.strip("'")
            if default is not None and col.scale is not None:
                default = f"{float(default):.{col.scale}f}"
            if default == "current_timestamp()":
                continue
            assert value == default, (name, value, default)


def test_ticket_vendor_ticket_number_reads_0_on_a_fresh_ticket(api, db, all_key, client_a):
    ticket_id = succeeded(api.post("tickets/create", {"client_id": client_a, "ticket_subject": "x"},
                                   key=all_key))["data"][0]["insert_id"]
    assert one(db, "tickets", ticket_id=ticket_id)["ticket_vendor_ticket_number"] == "0"
    status, body = api.get("tickets/read", key=all_key, ticket_id=ticket_id)
    assert body["data"][0]["ticket_vendor_ticket_number"] == "0"


def test_a_column_outside_the_list_is_written_when_sent(api, db, all_key, client_a):
    body = succeeded(create_asset(api, all_key, client_a, asset_uri_2="https://ilo.example", asset_photo=""))
    row = one(db, "assets", asset_id=body["data"][0]["insert_id"])
    assert (row["asset_uri_2"], row["asset_photo"], row["asset_uri_client"]) == ("https://ilo.example", "", None)


# --- updates --------------------------------------------------------------------------------

def test_scoped_key_updates_its_own_client_without_client_id(api, db, keys, client_a, make_client):
    other = make_client("Other")
    key = make_key(keys, client_id=client_a)
    assert succeeded(api.post("clients/update", {"client_notes": "VIP"}, key=key))["count"] == 1
    assert one(db, "clients", client_id=client_a)["client_notes"] == "VIP"
    assert one(db, "clients", client_id=other)["client_notes"] != "VIP"
    # Naming another client changes the key's own client, as in ITFlow: never the other one.
    succeeded(api.post("clients/update", {"client_id": other, "client_notes": "x"}, key=key))
    assert one(db, "clients", client_id=other)["client_notes"] != "x"
    assert one(db, "clients", client_id=client_a)["client_notes"] == "x"


def test_all_clients_key_still_needs_client_id_to_update_a_client(api, all_key, client_a):
    assert "client_id" in refused(api.post("clients/update", {"client_notes": "x"}, key=all_key))["message"]


def test_update_that_changes_nothing_answers_false_and_one_that_changes_answers_true(api, db, all_key, client_a):
    asset_id = succeeded(create_asset(api, all_key, client_a, asset_notes="same"))["data"][0]["insert_id"]
    # ITFlow's update model rewrites asset_uri_2, which its create leaves NULL, as '' (section 5):
    # the first update after a create changes the row, the identical one after it does not.
    status, body = api.post("assets/update", {"asset_id": asset_id, "asset_notes": "same"}, key=all_key)
    assert body == {"success": "True", "count": 1}
    assert one(db, "assets", asset_id=asset_id)["asset_uri_2"] == ""
    status, body = api.post("assets/update", {"asset_id": asset_id, "asset_notes": "same"}, key=all_key)
    assert (status, body["success"], body["count"]) == (200, "False", 0)
    assert body["message"].startswith("No rows changed")
    # The same value as another type or case still is the same, except case: MySQL compares bytes.
    status, body = api.post("assets/update", {"asset_id": asset_id, "asset_vendor_id": "0"}, key=all_key)
    assert body["success"] == "False"
    status, body = api.post("assets/update", {"asset_id": asset_id, "asset_notes": "SAME"}, key=all_key)
    assert body == {"success": "True", "count": 1}


def test_update_counts_changed_rows_for_every_value_kind(api, db, all_key, client_a):
    body = succeeded(api.post("clients/create", {"client_name": "Acme", "client_rate": "95.5"}, key=all_key))
    client_id = body["data"][0]["insert_id"]
    for same in ("95.5", "95.50", 95.5):
        assert api.post("clients/update", {"client_id": client_id, "client_rate": same},
                        key=all_key)[1]["success"] == "False", same
    assert api.post("clients/update", {"client_id": client_id, "client_rate": "96"}, key=all_key)[1]["count"] == 1


def test_a_list_of_addresses_stores_the_first_on_the_primary_interface(api, db, all_key, client_a):
    # ITFlow stores the word "Array" (functions/sanitize.php:12-33); ours the first address, and says so.
    body = succeeded(create_asset(api, all_key, client_a, asset_ip=["10.0.0.5", "10.0.0.6"], asset_mac=[]))
    assert body["message"] == ("Created; asset_ip was sent as a list of 2; its first value '10.0.0.5' was stored; "
                               "asset_mac was sent as a list of 0; it was stored empty.")
    interface = one(db, "asset_interfaces", interface_asset_id=body["data"][0]["insert_id"])
    assert (interface["interface_ip"], interface["interface_mac"]) == ("10.0.0.5", "")


def test_a_reference_to_another_clients_record_is_left_empty_and_the_record_kept(api, db, all_key, client_a,
                                                                                 make_client):
    # ITFlow's models intval references and store them (assets/asset_model.php:131-161);
    # ours keeps the write but never stores an id of another client's record (contract section 5).
    other = make_client("Other")
    location = succeeded(api.post("locations/create", {"client_id": other, "location_name": "Their HQ"},
                                  key=all_key))["data"][0]["insert_id"]
    body = succeeded(create_asset(api, all_key, client_a, asset_location_id=str(location), asset_vendor_id=424242))
    assert body["message"].startswith("Created; ") and body["message"].endswith(".")
    assert f"asset_location_id {location} is not a location of client {client_a} and was left empty" in body["message"]
    assert f"asset_vendor_id 424242 is not a vendor of client {client_a} and was left empty" in body["message"]
    row = one(db, "assets", asset_id=body["data"][0]["insert_id"])
    assert (row["asset_name"], row["asset_location_id"], row["asset_vendor_id"]) == ("PC", "0", "0")
    status, body = api.post("assets/update", {"asset_id": row["asset_id"], "asset_location_id": location,
                                              "asset_notes": "moved"}, key=all_key)
    assert body["success"] == "True" and "asset_location_id" in body["message"]
    assert one(db, "assets", asset_id=row["asset_id"])["asset_location_id"] == "0"
