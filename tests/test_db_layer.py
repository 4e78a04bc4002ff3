"""The data-access layer itself (lib/db.py), on whichever backend the run uses."""
import pytest


def _client(db, **columns):
    with db.transaction(write=True):
        return db.insert("clients", {"client_name": "Same", "client_rate": "10.50", "client_net_terms": 5,
                                     **columns})


def _update(db, values, client):
    with db.transaction(write=True):
        return db.update("clients", values, {"client_id": client})


def _stored(db, client, column):
    with db.transaction():
        return db.scalar(f"SELECT {column} FROM clients WHERE client_id = :id", {"id": client})


@pytest.mark.parametrize("values", [
    {"client_name": "Same"},
    {"client_net_terms": 5},
    {"client_net_terms": "5"},          # a numeric string for an integer column
    {"client_rate": "10.5"},            # DECIMAL(15,2) holds 10.50 already
    {"client_rate": 10.5},
    {"client_type": None},              # NULL to NULL
    {"client_name": "Same", "client_net_terms": "5", "client_rate": "10.50"},
])
def test_update_that_changes_nothing_counts_zero(db, values):
    client = _client(db)
    assert _update(db, values, client) == 0


@pytest.mark.parametrize("values, column, expected", [
    ({"client_name": "same"}, "client_name", "same"),  # case only: MySQL compares the bytes
    ({"client_name": "Same "}, "client_name", "Same "),
    ({"client_net_terms": "6"}, "client_net_terms", "6"),
    ({"client_rate": "10.51"}, "client_rate", "10.51"),
    ({"client_type": ""}, "client_type", ""),        # NULL to empty is a change
    ({"client_name": "Same", "client_type": "x"}, "client_type", "x"),  # one of two changes
])
def test_update_that_changes_a_value_counts_one(db, values, column, expected):
    client = _client(db)
    assert _update(db, values, client) == 1
    assert _stored(db, client, column) == expected
    assert _update(db, values, client) == 0  # the same update again changes nothing


def test_update_counts_only_the_rows_it_changed(db):
    a, b, c = _client(db, client_type="x"), _client(db, client_type="y"), _client(db, client_type="x")
    with db.transaction(write=True):
        assert db.update("clients", {"client_type": "x"}, {"client_name": "Same"}) == 1
        assert db.update("clients", {"client_type": "z"}, {"client_name": "Same"}) == 3
    assert [_stored(db, i, "client_type") for i in (a, b, c)] == ["z", "z", "z"]


def test_update_without_values_counts_zero_and_writes_nothing(db):
    client = _client(db)
    assert _update(db, {}, client) == 0
    assert _stored(db, client, "client_updated_at") is None


def test_update_of_a_missing_row_counts_zero(db):
    assert _update(db, {"client_name": "Nobody"}, 999999) == 0


def test_unchanged_update_leaves_updated_at_alone_and_a_change_stamps_it(db):
    client = _client(db)
    _update(db, {"client_name": "Same"}, client)
    assert _stored(db, client, "client_updated_at") is None
    _update(db, {"client_name": "Changed"}, client)
    assert _stored(db, client, "client_updated_at") is not None
