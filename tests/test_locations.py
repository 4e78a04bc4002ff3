"""locations (docs/contract.md section 6): a client is required, and one primary location per client.

Each test sets up what it needs (rows without a create endpoint are written straight to the
database), makes its calls and asserts the envelopes and stored values exactly: every value
in a row is a string, SQL NULL is None.
"""
from helpers import changed_one, fetch, log_rows, new_record, one, refused


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
