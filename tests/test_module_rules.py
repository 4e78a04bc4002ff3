"""Module-specific field rules (docs/contract.md sections 6.1 / 6.2) and the hooks in lib/modules/*.py.

Each test sets up what it needs, makes one or two calls and asserts the stored values
exactly: every value in a row is a string, SQL NULL is None.
"""

import pytest
from helpers import (
    NO_RESOURCE,
    assert_recent,
    assert_write_logged,
    fetch,
    insert,
    log_rows,
    make_key,
    one,
    refused,
    set_columns,
    succeeded,
)

from itflow_api.lib.itflow import crypto

DECRYPT = "pw"


# --- helpers ------------------------------------------------------------------------------


def create(api, module, key, **fields):
    """Create through the API; returns the new record's id."""
    body = succeeded(api.post(f"{module}/create", fields, key=key))
    assert body["count"] == "1"
    return body["data"][0]["insert_id"]


@pytest.fixture
def client_a(make_client):
    return make_client("Alpha")


@pytest.fixture
def decrypt_key(keys):
    """An all-clients key that can decrypt credentials (it generates the master key)."""
    return make_key(keys, decrypt_password=DECRYPT)


def new_contact(api, key, client_id, name="Pat", email=None, **fields):
    email = email or f"{name.lower()}@example.com"
    return create(api, "contacts", key, client_id=client_id, contact_name=name, contact_email=email, **fields)


def new_asset(api, key, client_id, name="PC-1", **fields):
    return create(api, "assets", key, client_id=client_id, asset_name=name, **fields)


def primary_interface(db, asset_id):
    return one(db, "asset_interfaces", interface_asset_id=asset_id, interface_primary=1)


# --- clients ------------------------------------------------------------------------------

@pytest.mark.parametrize("sent, stored", [
    ("https://acme.example", "acme.example"),
    ("http://acme.example/path", "acme.example/path"),
    ("acme.example", "acme.example"),
])
def test_client_website_loses_leading_scheme(api, db, all_key, sent, stored):
    client_id = create(api, "clients", all_key, client_name="Acme", client_website=sent)
    assert one(db, "clients", client_id=client_id)["client_website"] == stored


def test_client_abbreviation_keeps_first_six_characters(api, db, all_key):
    client_id = create(api, "clients", all_key, client_name="Acme", client_abbreviation="ABCDEFGHIJ")
    assert one(db, "clients", client_id=client_id)["client_abbreviation"] == "ABCDEF"


def test_client_is_lead_is_stored_in_client_lead(api, db, all_key):
    lead = create(api, "clients", all_key, client_name="Lead", client_is_lead=1)
    customer = create(api, "clients", all_key, client_name="Customer")
    assert one(db, "clients", client_id=lead)["client_lead"] == "1"
    assert one(db, "clients", client_id=customer)["client_lead"] == "0"


def test_client_create_sets_accessed_at(api, db, all_key):
    client_id = create(api, "clients", all_key, client_name="Acme")
    assert_recent(one(db, "clients", client_id=client_id)["client_accessed_at"])


def test_client_create_with_scoped_key_is_refused_and_writes_nothing(api, db, two_clients):
    _, _, key_a = two_clients
    body = refused(api.post("clients/create", {"client_name": "Sneaky"}, key=key_a))
    assert "all-clients" in body["message"]
    assert len(fetch(db, "clients")) == 2
    assert log_rows(db) == []


def test_client_archive_sets_archived_at_and_stops_recurring_invoices(api, db, all_key, make_client):
    client_id, other_id = make_client("Leaving"), make_client("Staying")
    invoice = {"recurring_invoice_number": 1, "recurring_invoice_frequency": "month",
               "recurring_invoice_next_date": "2030-01-01", "recurring_invoice_currency_code": "USD",
               "recurring_invoice_category_id": 0, "recurring_invoice_status": 1}
    own = insert(db, "recurring_invoices", recurring_invoice_client_id=client_id, **invoice)
    others = insert(db, "recurring_invoices", recurring_invoice_client_id=other_id, **invoice)

    assert succeeded(api.post("clients/archive", {"client_id": client_id}, key=all_key))["count"] == 1
    assert_recent(one(db, "clients", client_id=client_id)["client_archived_at"])
    assert one(db, "recurring_invoices", recurring_invoice_id=own)["recurring_invoice_status"] == "0"
    assert one(db, "recurring_invoices", recurring_invoice_id=others)["recurring_invoice_status"] == "1"
    assert one(db, "clients", client_id=other_id)["client_archived_at"] is None


def test_client_unarchive_clears_archived_at(api, db, all_key, make_client):
    client_id = make_client("Back", client_archived_at="2024-01-31 13:05:00")
    assert succeeded(api.post("clients/unarchive", {"client_id": client_id}, key=all_key))["count"] == 1
    assert one(db, "clients", client_id=client_id)["client_archived_at"] is None


# --- contacts -----------------------------------------------------------------------------

def test_contact_phone_extension_and_mobile_keep_digits_only(api, db, all_key, client_a):
    contact_id = new_contact(api, all_key, client_a, contact_phone="+1 (555) 123-4567",
                             contact_extension="ext. 42", contact_mobile="555.987.6543")
    row = one(db, "contacts", contact_id=contact_id)
    assert (row["contact_phone"], row["contact_extension"], row["contact_mobile"]) == \
        ("15551234567", "42", "5559876543")


def test_duplicate_contact_email_in_same_client_is_refused_and_writes_nothing(api, db, all_key, client_a):
    first = new_contact(api, all_key, client_a, "Pat", "pat@example.com")
    before = log_rows(db)
    body = refused(api.post("contacts/create", {"client_id": client_a, "contact_name": "Pat again",
                                                "contact_email": "pat@example.com"}, key=all_key))
    assert "contact_email" in body["message"]
    assert [r["contact_id"] for r in fetch(db, "contacts")] == [str(first)]
    assert log_rows(db) == before


def test_same_contact_email_in_another_client_is_allowed(api, db, all_key, two_clients):
    a, b, _ = two_clients
    new_contact(api, all_key, a, "Pat", "pat@example.com")
    other = new_contact(api, all_key, b, "Pat", "pat@example.com")
    assert one(db, "contacts", contact_id=other)["contact_client_id"] == str(b)


def test_duplicate_contact_email_differing_only_in_case_is_refused(api, db, all_key, client_a):
    new_contact(api, all_key, client_a, "Bob", "Bob@example.com")
    refused(api.post("contacts/create", {"client_id": client_a, "contact_name": "Bob again",
                                         "contact_email": "bob@example.com"}, key=all_key))
    assert len(fetch(db, "contacts")) == 1


def test_contact_update_keeping_its_own_email_is_allowed(api, db, all_key, client_a):
    pat = new_contact(api, all_key, client_a, "Pat", "pat@example.com")
    succeeded(api.post("contacts/update", {"contact_id": pat, "contact_email": "pat@example.com",
                                           "contact_title": "CEO"}, key=all_key))
    assert one(db, "contacts", contact_id=pat)["contact_title"] == "CEO"


def test_contact_update_may_take_an_email_the_client_already_has(api, db, all_key, client_a):
    # ITFlow checks for a duplicate email on create only (docs/contract.md section 6.1).
    new_contact(api, all_key, client_a, "Pat", "pat@example.com")
    sam = new_contact(api, all_key, client_a, "Sam", "sam@example.com")
    succeeded(api.post("contacts/update", {"contact_id": sam, "contact_email": "pat@example.com"}, key=all_key))
    assert one(db, "contacts", contact_id=sam)["contact_email"] == "pat@example.com"


def test_primary_contact_on_create_clears_the_flag_on_the_clients_others(api, db, all_key, two_clients):
    a, b, _ = two_clients
    old = new_contact(api, all_key, a, "Old", contact_primary=1)
    other_client = new_contact(api, all_key, b, "Elsewhere", contact_primary=1)
    new = new_contact(api, all_key, a, "New", contact_primary=1)
    assert one(db, "contacts", contact_id=old)["contact_primary"] == "0"
    assert one(db, "contacts", contact_id=new)["contact_primary"] == "1"
    assert one(db, "contacts", contact_id=other_client)["contact_primary"] == "1"


def test_primary_contact_on_update_clears_the_flag_on_the_clients_others(api, db, all_key, two_clients):
    a, b, _ = two_clients
    old = new_contact(api, all_key, a, "Old", contact_primary=1)
    promoted = new_contact(api, all_key, a, "Promoted")
    other_client = new_contact(api, all_key, b, "Elsewhere", contact_primary=1)
    succeeded(api.post("contacts/update", {"contact_id": promoted, "contact_primary": 1}, key=all_key))
    assert one(db, "contacts", contact_id=old)["contact_primary"] == "0"
    assert one(db, "contacts", contact_id=promoted)["contact_primary"] == "1"
    assert one(db, "contacts", contact_id=other_client)["contact_primary"] == "1"


def test_phone_or_mobile_lookup_returns_one_row_matching_phone(api, all_key, client_a):
    first = new_contact(api, all_key, client_a, "First", contact_phone="555-0100")
    new_contact(api, all_key, client_a, "Second", contact_phone="5550100")
    body = succeeded(api.get("contacts/read", key=all_key, contact_phone_or_mobile="(555) 0100"))
    assert body["count"] == 1
    assert body["data"][0]["contact_id"] == str(first)


def test_phone_or_mobile_lookup_matches_mobile(api, all_key, client_a):
    new_contact(api, all_key, client_a, "Desk", contact_phone="5550100")
    mobile = new_contact(api, all_key, client_a, "Mobile", contact_mobile="555-0199")
    body = succeeded(api.get("contacts/read", key=all_key, contact_phone_or_mobile="5550199"))
    assert body["count"] == 1
    assert body["data"][0]["contact_id"] == str(mobile)
    assert body["data"][0]["contact_mobile"] == "5550199"


def test_phone_or_mobile_lookup_never_crosses_the_key_scope(api, all_key, two_clients):
    a, b, key_a = two_clients
    # B's contact matches by phone and comes first: ITFlow's unbracketed OR would leak it.
    new_contact(api, all_key, b, "Theirs", contact_phone="5550100")
    assert api.get("contacts/read", key=key_a, contact_phone_or_mobile="5550100")[1] == NO_RESOURCE
    ours = new_contact(api, all_key, a, "Ours", contact_mobile="5550100")
    body = succeeded(api.get("contacts/read", key=key_a, contact_phone_or_mobile="5550100"))
    assert [r["contact_id"] for r in body["data"]] == [str(ours)]
    assert body["data"][0]["contact_client_id"] == str(a)


def portal_contact(api, db, key, client_id):
    """A contact with every flag set and a linked client-portal user; (contact_id, user_id)."""
    user_id = insert(db, "users", user_name="Portal Pat", user_email="pat@example.com", user_type=2)
    contact_id = new_contact(api, key, client_id, "Pat", contact_important=1, contact_billing=1,
                             contact_technical=1)
    set_columns(db, "contacts", {"contact_user_id": user_id}, contact_id=contact_id)
    return contact_id, user_id


def test_contact_archive_clears_flags_and_archives_portal_user(api, db, all_key, client_a):
    contact_id, user_id = portal_contact(api, db, all_key, client_a)
    assert succeeded(api.post("contacts/archive", {"contact_id": contact_id}, key=all_key))["count"] == 1
    row = one(db, "contacts", contact_id=contact_id)
    assert (row["contact_important"], row["contact_billing"], row["contact_technical"]) == ("0", "0", "0")
    assert_recent(row["contact_archived_at"])
    assert_recent(one(db, "users", user_id=user_id)["user_archived_at"])


def test_contact_unarchive_clears_contact_and_portal_user(api, db, all_key, client_a):
    contact_id, user_id = portal_contact(api, db, all_key, client_a)
    succeeded(api.post("contacts/archive", {"contact_id": contact_id}, key=all_key))
    assert succeeded(api.post("contacts/unarchive", {"contact_id": contact_id}, key=all_key))["count"] == 1
    assert one(db, "contacts", contact_id=contact_id)["contact_archived_at"] is None
    assert one(db, "users", user_id=user_id)["user_archived_at"] is None


def test_contact_archive_without_portal_user_touches_no_user(api, db, all_key, client_a):
    bystander = insert(db, "users", user_name="Agent", user_email="agent@example.com")
    contact_id = new_contact(api, all_key, client_a, "Pat")
    succeeded(api.post("contacts/archive", {"contact_id": contact_id}, key=all_key))
    assert one(db, "users", user_id=bystander)["user_archived_at"] is None


# --- assets -------------------------------------------------------------------------------

def test_asset_create_writes_its_primary_interface(api, db, all_key, client_a):
    network = insert(db, "networks", network_name="LAN", network="10.0.0.0/24", network_client_id=client_a)
    asset_id = new_asset(api, all_key, client_a, asset_ip="10.0.0.5", asset_mac="AA:BB:CC:00:11:22",
                         asset_network_id=network)
    interface = primary_interface(db, asset_id)
    assert (interface["interface_name"], interface["interface_primary"]) == ("1", "1")
    assert (interface["interface_ip"], interface["interface_mac"], interface["interface_network_id"]) == \
        ("10.0.0.5", "AA:BB:CC:00:11:22", str(network))
    assert len(fetch(db, "asset_interfaces", interface_asset_id=asset_id)) == 1


def test_asset_list_read_carries_primary_interface_columns(api, all_key, client_a):
    asset_id = new_asset(api, all_key, client_a, asset_ip="10.0.0.5", asset_mac="AA:BB:CC:00:11:22")
    body = succeeded(api.get("assets/read", key=all_key))
    assert body["count"] == 1
    row = body["data"][0]
    assert row["asset_id"] == str(asset_id)
    assert (row["interface_name"], row["interface_primary"], row["interface_ip"], row["interface_mac"]) == \
        ("1", "1", "10.0.0.5", "AA:BB:CC:00:11:22")
    assert row["interface_asset_id"] == str(asset_id)


def test_asset_mac_lookup_finds_the_asset_by_its_primary_interface(api, all_key, client_a):
    new_asset(api, all_key, client_a, "PC-1", asset_mac="AA:AA:AA:AA:AA:AA")
    wanted = new_asset(api, all_key, client_a, "PC-2", asset_mac="BB:BB:BB:BB:BB:BB")
    body = succeeded(api.get("assets/read", key=all_key, asset_mac="BB:BB:BB:BB:BB:BB"))
    assert [(r["asset_id"], r["interface_mac"]) for r in body["data"]] == [(str(wanted), "BB:BB:BB:BB:BB:BB")]


def test_asset_type_lookup_upper_cases_the_first_letter(api, all_key, client_a):
    laptop = new_asset(api, all_key, client_a, "PC-1", asset_type="Laptop")
    new_asset(api, all_key, client_a, "SRV-1", asset_type="Server")
    body = succeeded(api.get("assets/read", key=all_key, asset_type="laptop"))
    assert [(r["asset_id"], r["asset_type"]) for r in body["data"]] == [(str(laptop), "Laptop")]


def test_asset_empty_dates_are_stored_as_null(api, db, all_key, client_a):
    asset_id = new_asset(api, all_key, client_a, asset_purchase_date="", asset_install_date="2024-01-31")
    row = one(db, "assets", asset_id=asset_id)
    assert row["asset_purchase_date"] is None
    assert row["asset_warranty_expire"] is None   # not sent
    assert row["asset_install_date"] == "2024-01-31"


def test_asset_update_changes_only_sent_fields_and_the_primary_interface(api, db, all_key, client_a):
    asset_id = new_asset(api, all_key, client_a, "PC-1", asset_make="Dell", asset_model="XPS",
                         asset_serial="S1", asset_ip="10.0.0.5", asset_mac="AA:BB:CC:00:11:22")
    body = succeeded(api.post("assets/update", {"asset_id": asset_id, "asset_model": "XPS 15",
                                                "asset_ip": "10.0.0.9"}, key=all_key))
    assert body["count"] == 1
    row = one(db, "assets", asset_id=asset_id)
    assert (row["asset_name"], row["asset_make"], row["asset_model"], row["asset_serial"]) == \
        ("PC-1", "Dell", "XPS 15", "S1")
    interface = primary_interface(db, asset_id)
    assert (interface["interface_ip"], interface["interface_mac"]) == ("10.0.0.9", "AA:BB:CC:00:11:22")
    assert len(fetch(db, "asset_interfaces", interface_asset_id=asset_id)) == 1


def test_asset_update_creates_the_primary_interface_when_missing(api, db, all_key, client_a):
    asset_id = insert(db, "assets", asset_name="Legacy", asset_client_id=client_a)
    # The first update writes the model's NULL columns back as '' (contract section 5)...
    assert api.post("assets/update", {"asset_id": asset_id}, key=all_key)[1] == {"success": "True", "count": 1}
    with db.transaction():
        db.delete("asset_interfaces", {"interface_asset_id": asset_id})
    # ...then only the interface changes, so the asset row counts 0 changed: "False", as in
    # ITFlow, yet the interface change is kept.
    status, body = api.post("assets/update", {"asset_id": asset_id, "asset_ip": "10.0.0.7"}, key=all_key)
    assert (status, body["success"], body["count"]) == (200, "False", 0)
    interface = primary_interface(db, asset_id)
    assert (interface["interface_name"], interface["interface_ip"]) == ("1", "10.0.0.7")


def test_asset_update_adds_a_history_row(api, db, all_key, client_a):
    asset_id = new_asset(api, all_key, client_a, "PC-1", asset_status="Deployed")
    assert fetch(db, "asset_history") == []
    succeeded(api.post("assets/update", {"asset_id": asset_id, "asset_name": "PC-1b"}, key=all_key))
    history = one(db, "asset_history", asset_history_asset_id=asset_id)
    assert history["asset_history_status"] == "Deployed"
    assert history["asset_history_description"] == "API updated PC-1b (test key)"


def test_asset_delete_removes_its_interfaces_but_not_another_assets(api, db, all_key, client_a):
    doomed = new_asset(api, all_key, client_a, "PC-1", asset_ip="10.0.0.1")
    kept = new_asset(api, all_key, client_a, "PC-2", asset_ip="10.0.0.2")
    assert succeeded(api.post("assets/delete", {"asset_id": doomed}, key=all_key))["count"] == 1
    assert fetch(db, "assets", asset_id=doomed) == []
    assert fetch(db, "asset_interfaces", interface_asset_id=doomed) == []
    assert one(db, "assets", asset_id=kept)["asset_name"] == "PC-2"
    assert primary_interface(db, kept)["interface_ip"] == "10.0.0.2"


def test_asset_delete_of_another_clients_asset_with_scoped_key_removes_nothing(api, db, all_key, two_clients):
    _, b, key_a = two_clients
    theirs = new_asset(api, all_key, b, "B-PC", asset_ip="10.1.0.1")
    before = log_rows(db)
    body = refused(api.post("assets/delete", {"asset_id": theirs}, key=key_a))
    assert str(theirs) in body["message"]
    assert one(db, "assets", asset_id=theirs)["asset_name"] == "B-PC"
    assert primary_interface(db, theirs)["interface_ip"] == "10.1.0.1"
    assert log_rows(db) == before


# --- tickets ------------------------------------------------------------------------------

def new_ticket(api, key, client_id=None, subject="Printer on fire", **fields):
    if client_id is not None:
        fields["client_id"] = client_id
    return create(api, "tickets", key, ticket_subject=subject, **fields)


def test_ticket_numbers_come_from_settings_and_increase(api, db, all_key, client_a):
    set_columns(db, "settings", {"config_ticket_next_number": 100}, company_id=1)
    first = new_ticket(api, all_key, client_a)
    second = new_ticket(api, all_key, client_a)
    assert [(r["ticket_prefix"], r["ticket_number"]) for r in
            (one(db, "tickets", ticket_id=first), one(db, "tickets", ticket_id=second))] == \
        [("TCK-", "100"), ("TCK-", "101")]
    assert one(db, "settings", company_id=1)["config_ticket_next_number"] == "102"


def test_new_ticket_defaults(api, db, all_key, client_a):
    ticket_id = new_ticket(api, all_key, client_a)
    row = one(db, "tickets", ticket_id=ticket_id)
    assert (row["ticket_status"], row["ticket_source"], row["ticket_priority"], row["ticket_created_by"]) == \
        ("1", "API", "Low", "0")
    assert len(row["ticket_url_key"]) == 32 and row["ticket_url_key"].isalnum()
    assert row["ticket_resolved_at"] is None


def test_ticket_priority_is_kept_when_sent(api, db, all_key, client_a):
    ticket_id = new_ticket(api, all_key, client_a, ticket_priority="High")
    assert one(db, "tickets", ticket_id=ticket_id)["ticket_priority"] == "High"


def test_ticket_url_keys_differ(api, db, all_key, client_a):
    keys = {one(db, "tickets", ticket_id=new_ticket(api, all_key, client_a))["ticket_url_key"] for _ in range(3)}
    assert len(keys) == 3


@pytest.mark.parametrize("details, stored", [
    (None, "< blank ><br>"),
    ("Smoke everywhere", "Smoke everywhere<br>"),
])
def test_ticket_details_get_br_appended(api, db, all_key, client_a, details, stored):
    ticket_id = new_ticket(api, all_key, client_a, ticket_details=details)
    assert one(db, "tickets", ticket_id=ticket_id)["ticket_details"] == stored


def test_ticket_without_contact_gets_the_clients_primary_contact(api, db, all_key, two_clients):
    a, b, _ = two_clients
    new_contact(api, all_key, a, "Plain")
    primary = new_contact(api, all_key, a, "Boss", contact_primary=1)
    new_contact(api, all_key, b, "Other boss", contact_primary=1)
    ticket_id = new_ticket(api, all_key, a)
    assert one(db, "tickets", ticket_id=ticket_id)["ticket_contact_id"] == str(primary)


def test_ticket_with_contact_keeps_it(api, db, all_key, client_a):
    plain = new_contact(api, all_key, client_a, "Plain")
    new_contact(api, all_key, client_a, "Boss", contact_primary=1)
    ticket_id = new_ticket(api, all_key, client_a, ticket_contact_id=plain)
    assert one(db, "tickets", ticket_id=ticket_id)["ticket_contact_id"] == str(plain)


def test_ticket_read_by_id_includes_status_name(api, all_key, client_a):
    ticket_id = new_ticket(api, all_key, client_a)
    body = succeeded(api.get("tickets/read", key=all_key, ticket_id=ticket_id))
    assert body["count"] == 1
    row = body["data"][0]
    assert (row["ticket_id"], row["ticket_status"], row["ticket_status_name"]) == (str(ticket_id), "1", "New")


def test_ticket_resolve_sets_status_and_timestamps_once(api, db, all_key, client_a):
    ticket_id = new_ticket(api, all_key, client_a)
    assert succeeded(api.post("tickets/resolve", {"ticket_id": ticket_id}, key=all_key))["count"] == 1
    row = one(db, "tickets", ticket_id=ticket_id)
    assert row["ticket_status"] == "4"
    assert_recent(row["ticket_resolved_at"])
    assert row["ticket_first_response_at"] == row["ticket_resolved_at"]

    body = refused(api.post("tickets/resolve", {"ticket_id": ticket_id}, key=all_key))
    assert "already resolved" in body["message"]
    assert one(db, "tickets", ticket_id=ticket_id)["ticket_resolved_at"] == row["ticket_resolved_at"]


def test_ticket_resolve_keeps_an_earlier_first_response(api, db, all_key, client_a):
    ticket_id = new_ticket(api, all_key, client_a)
    set_columns(db, "tickets", {"ticket_first_response_at": "2024-01-31 13:05:00"}, ticket_id=ticket_id)
    succeeded(api.post("tickets/resolve", {"ticket_id": ticket_id}, key=all_key))
    row = one(db, "tickets", ticket_id=ticket_id)
    assert row["ticket_first_response_at"] == "2024-01-31 13:05:00"
    assert_recent(row["ticket_resolved_at"])


def test_ticket_with_all_clients_key_and_no_client_goes_to_client_zero(api, db, all_key):
    ticket_id = new_ticket(api, all_key)
    row = one(db, "tickets", ticket_id=ticket_id)
    assert (row["ticket_client_id"], row["ticket_contact_id"]) == ("0", "0")


# --- credentials --------------------------------------------------------------------------

def new_credential(api, key, client_id, username="alice", password="s3cret!", **fields):
    return create(api, "credentials", key, client_id=client_id, credential_name="Router",
                  credential_username=username, credential_password=password,
                  api_key_decrypt_password=DECRYPT, **fields)


def master_key(db):
    """The site's master key, opened from the first decrypt key's hash with DECRYPT."""
    stored = [r["api_key_decrypt_hash"] for r in fetch(db, "api_keys") if r["api_key_decrypt_hash"]][0]
    return crypto.open_decrypt_hash(stored, DECRYPT)


def read_secrets(body):
    return [(r["credential_username"], r["credential_password"]) for r in body["data"]]


def test_credential_round_trip_with_password_from_body_query_or_header(api, decrypt_key, client_a):
    credential_id = new_credential(api, decrypt_key, client_a, "alice", "<p>s3cret & more</p>")
    expected = [("alice", "<p>s3cret & more</p>")]

    from_query = succeeded(api.get("credentials/read", key=decrypt_key, credential_id=credential_id,
                                   api_key_decrypt_password=DECRYPT))
    assert read_secrets(from_query) == expected
    from_header = succeeded(api.get("credentials/read", key=decrypt_key, credential_id=credential_id,
                                    headers={"X-API-Decrypt-Password": DECRYPT}))
    assert read_secrets(from_header) == expected
    result = api.client.simulate_get("/api/v1/credentials/read.php", params={"api_key": decrypt_key},
                                     json={"api_key_decrypt_password": DECRYPT})
    assert read_secrets(succeeded(api._check(result))) == expected


def test_credential_create_accepts_the_password_from_the_header(api, db, decrypt_key, client_a):
    credential_id = succeeded(api.post(
        "credentials/create", {"client_id": client_a, "credential_name": "NAS", "credential_username": "bob",
                               "credential_password": "pw1"},
        key=decrypt_key, headers={"X-API-Decrypt-Password": DECRYPT}))["data"][0]["insert_id"]
    row = one(db, "credentials", credential_id=credential_id)
    assert crypto.decrypt_field(row["credential_username"], master_key(db)) == "bob"


def test_credential_secrets_are_stored_encrypted(api, db, decrypt_key, client_a):
    credential_id = new_credential(api, decrypt_key, client_a, "alice", "s3cret!")
    row = one(db, "credentials", credential_id=credential_id)
    assert "alice" not in row["credential_username"]
    assert "s3cret!" not in row["credential_password"]
    master = master_key(db)
    assert crypto.decrypt_field(row["credential_username"], master) == "alice"
    assert crypto.decrypt_field(row["credential_password"], master) == "s3cret!"


def test_second_decrypt_key_reads_what_the_first_wrote(api, keys, decrypt_key, client_a):
    second = make_key(keys, decrypt_password="other", unlock_key=decrypt_key, unlock_password=DECRYPT)
    new_credential(api, decrypt_key, client_a, "alice", "s3cret!")
    body = succeeded(api.get("credentials/read", key=second, api_key_decrypt_password="other"))
    assert read_secrets(body) == [("alice", "s3cret!")]


def test_wrong_decrypt_password_is_refused_with_200_and_writes_nothing(api, db, decrypt_key, client_a):
    status, body = api.post("credentials/create", {
        "client_id": client_a, "credential_name": "Router", "credential_username": "alice",
        "credential_password": "s3cret!", "api_key_decrypt_password": "wrong"}, key=decrypt_key)
    assert (status, body["success"]) == (200, "False") and "api_key_decrypt_password" in body["message"]
    assert fetch(db, "credentials") == []
    assert log_rows(db) == []


def test_wrong_decrypt_password_on_read_shows_false_for_the_secrets(api, decrypt_key, client_a):
    # ITFlow returns the row with `false` for the two encrypted fields (docs/contract.md section 6.2).
    credential_id = new_credential(api, decrypt_key, client_a)
    status, body = api.get("credentials/read", key=decrypt_key, api_key_decrypt_password="wrong")
    assert (status, body["success"], body["count"]) == (200, "True", 1)
    row = body["data"][0]
    assert (row["credential_username"], row["credential_password"]) == (False, False)
    assert row["credential_id"] == str(credential_id) and row["credential_name"] == "Router"
    assert "s3cret" not in str(body)


def test_credential_read_without_decrypt_password_is_no_resource(api, decrypt_key, client_a):
    credential_id = new_credential(api, decrypt_key, client_a)
    for params in ({}, {"credential_id": credential_id}):
        status, body = api.get("credentials/read", key=decrypt_key, **params)
        # ITFlow's words first (scripts may match them), then what is missing
        assert (status, body["success"], body["count"], body["data"]) == (200, "False", 0, [])
        assert body["message"].startswith(NO_RESOURCE["message"]) and "api_key_decrypt_password" in body["message"]


def test_key_without_decrypt_password_cannot_open_credentials(api, db, all_key, decrypt_key, client_a):
    new_credential(api, decrypt_key, client_a)
    status, body = api.get("credentials/read", key=all_key, api_key_decrypt_password=DECRYPT)
    assert (status, body["data"][0]["credential_password"]) == (200, False)
    assert "s3cret" not in str(body)
    status, body = api.post("credentials/create", {"client_id": client_a, "credential_name": "X",
                                                   "api_key_decrypt_password": DECRYPT}, key=all_key)
    assert (status, body["success"]) == (200, "False") and "without a decrypt password" in body["message"]
    assert len(fetch(db, "credentials")) == 1


def test_credential_password_update_sets_password_changed_at(api, db, decrypt_key, client_a):
    credential_id = new_credential(api, decrypt_key, client_a)
    set_columns(db, "credentials", {"credential_password_changed_at": "2020-01-01 00:00:00"},
                credential_id=credential_id)
    succeeded(api.post("credentials/update", {"credential_id": credential_id, "credential_name": "Router 2",
                                              "api_key_decrypt_password": DECRYPT}, key=decrypt_key))
    assert one(db, "credentials", credential_id=credential_id)["credential_password_changed_at"] == \
        "2020-01-01 00:00:00"
    succeeded(api.post("credentials/update", {"credential_id": credential_id, "credential_password": "n3w",
                                              "api_key_decrypt_password": DECRYPT}, key=decrypt_key))
    row = one(db, "credentials", credential_id=credential_id)
    assert_recent(row["credential_password_changed_at"])
    assert crypto.decrypt_field(row["credential_password"], master_key(db)) == "n3w"
    assert crypto.decrypt_field(row["credential_username"], master_key(db)) == "alice"


def test_credential_username_up_to_350_bytes_is_accepted(api, db, decrypt_key, client_a):
    credential_id = new_credential(api, decrypt_key, client_a, username="u" * 350)
    row = one(db, "credentials", credential_id=credential_id)
    assert crypto.decrypt_field(row["credential_username"], master_key(db)) == "u" * 350


@pytest.mark.parametrize("username", ["u" * 351, "é" * 176], ids=["351-ascii", "352-bytes-utf8"])
def test_credential_username_over_350_bytes_is_refused_naming_the_field(api, db, decrypt_key, client_a,
                                                                         username):
    body = refused(api.post("credentials/create", {
        "client_id": client_a, "credential_name": "Router", "credential_username": username,
        "api_key_decrypt_password": DECRYPT}, key=decrypt_key))
    assert "credential_username" in body["message"]
    assert fetch(db, "credentials") == []


# --- text cleaning on create --------------------------------------------------------------

def test_plain_fields_lose_html_tags(api, db, all_key):
    client_id = create(api, "clients", all_key, client_name="<b>Acme</b>", client_notes=" <i>VIP</i>\n")
    row = one(db, "clients", client_id=client_id)
    assert (row["client_name"], row["client_notes"]) == ("Acme", "VIP")


def test_ticket_details_keep_their_html_but_the_subject_does_not(api, db, all_key, client_a):
    ticket_id = new_ticket(api, all_key, client_a, subject="<h1>Down</h1>",
                           ticket_details='<p>Call <a href="tel:1">me</a></p>')
    row = one(db, "tickets", ticket_id=ticket_id)
    assert row["ticket_subject"] == "Down"
    assert row["ticket_details"] == '<p>Call <a href="tel:1">me</a></p><br>'


# --- logs (section 5) ---------------------------------------------------------------------

def test_create_leaves_record_and_api_log_rows(api, db, all_key):
    client_id = create(api, "clients", all_key, client_name="Acme")
    assert_write_logged(db, "Client", "Create", client_id, client_id, "Acme")


def test_update_leaves_record_and_api_log_rows(api, db, all_key, client_a):
    contact_id = insert(db, "contacts", contact_name="Pat", contact_email="pat@example.com",
                        contact_client_id=client_a)
    succeeded(api.post("contacts/update", {"contact_id": contact_id, "contact_title": "CEO"}, key=all_key))
    assert_write_logged(db, "Contact", "Edit", contact_id, client_a, "Pat")


def test_delete_leaves_record_and_api_log_rows(api, db, all_key, client_a):
    asset_id = insert(db, "assets", asset_name="PC-1", asset_client_id=client_a)
    succeeded(api.post("assets/delete", {"asset_id": asset_id}, key=all_key))
    assert_write_logged(db, "Asset", "Delete", asset_id, client_a, "PC-1")


def test_archive_leaves_record_and_api_log_rows(api, db, all_key, client_a):
    domain_id = insert(db, "domains", domain_name="acme.example", domain_client_id=client_a)
    succeeded(api.post("domains/archive", {"domain_id": domain_id}, key=all_key))
    assert_write_logged(db, "Domain", "Archive", domain_id, client_a, "acme.example")


def test_look_ups_ignore_case_on_both_backends(api, all_key, client_a):
    """MariaDB's collation ignores case; SQLite columns are declared NOCASE to agree."""
    succeeded(api.post("assets/create", {"client_id": client_a, "asset_name": "Front-Desk-PC"}, key=all_key))
    status, body = api.get("assets/read", key=all_key, asset_name="front-desk-pc")
    assert body["count"] == 1 and body["data"][0]["asset_name"] == "Front-Desk-PC"


@pytest.mark.parametrize("function", ["archive", "unarchive", "delete"])
def test_credential_writes_without_the_decrypt_password_are_refused(api, db, decrypt_key, client_a, function):
    credential_id = new_credential(api, decrypt_key, client_a, "alice", "pw")
    before = one(db, "credentials", credential_id=credential_id)
    refused(api.post(f"credentials/{function}", {"credential_id": credential_id}, key=decrypt_key))
    assert one(db, "credentials", credential_id=credential_id) == before


def test_client_delete_is_refused_while_it_owns_records(api, db, all_key, make_client):
    client = make_client("Owner")
    asset = create(api, "assets", all_key, client_id=client, asset_name="PC")
    body = refused(api.post("clients/delete", {"client_id": client}, key=all_key))
    assert "1 assets" in body["message"] and "archive" in body["message"]
    assert one(db, "clients", client_id=client)["client_name"] == "Owner"
    succeeded(api.post("assets/delete", {"asset_id": asset}, key=all_key))
    assert succeeded(api.post("clients/delete", {"client_id": client}, key=all_key))["count"] == 1
    assert fetch(db, "clients", client_id=client) == []


def test_ticket_delete_takes_its_replies_and_history_along(api, db, all_key, client_a):
    ticket = create(api, "tickets", all_key, client_id=client_a, ticket_subject="Gone")
    other = create(api, "tickets", all_key, client_id=client_a, ticket_subject="Stays")
    for ticket_id in (ticket, other):
        succeeded(api.post("ticket_replies/create", {"ticket_id": ticket_id, "ticket_reply": "r"}, key=all_key))
        insert(db, "ticket_history", ticket_history_status="New", ticket_history_description="d",
               ticket_history_ticket_id=ticket_id)
    succeeded(api.post("tickets/delete", {"ticket_id": ticket}, key=all_key))
    assert fetch(db, "ticket_replies", ticket_reply_ticket_id=ticket) == []
    assert fetch(db, "ticket_history", ticket_history_ticket_id=ticket) == []
    assert len(fetch(db, "ticket_replies", ticket_reply_ticket_id=other)) == 1
    assert len(fetch(db, "ticket_history", ticket_history_ticket_id=other)) == 1
