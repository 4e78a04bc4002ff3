"""clients/update's, contacts/update's and assets/update's `tags`, side by side with ITFlow's edit pages.

tests/itflow_recorded/record_tags.py ran the newest ITFlow's agent client page (26.08, database
2.6.7; agent/post/client.php edit_client, agent/post/contact.php edit_contact and
agent/post/asset.php edit_asset, their tags multi-selects included) with php-cli as agent user 1. Here the same seed goes into a
newest-layout database of our own, each step's body goes to clients/update, contacts/update or assets/update
(tags by id, by name, as a list or "a,b,c") with a key acting as that agent and the clock at the
recorded instant; the link rows and the records' rows are compared after every step (the rows
but for the database clock's stamps and the columns our layout has not), and the logs rows by
what they say about whom.
"""
import json
import os

import pytest
from helpers import assert_same_log_rows, fetch, ordered_rows, page_twin, refused, succeeded

HERE = os.path.dirname(__file__)
with open(os.path.join(HERE, "itflow_recorded", "itflow-newest-tags.json"), encoding="utf-8") as _handle:
    RECORDED = json.load(_handle)
SECRET = b"tags-tests"
SKIP = {"client_created_at", "client_updated_at", "client_accessed_at",  # the database's own clock
        "contact_created_at", "contact_updated_at", "contact_accessed_at",
        "asset_created_at", "asset_updated_at", "asset_accessed_at"}
LOGGED = ("log_type", "log_action", "log_client_id", "log_user_id", "log_entity_id")
TABLES = ("user_roles", "users", "clients", "categories", "tags", "client_tags", "contacts", "contact_tags", "assets",
          "asset_interfaces", "asset_tags")
RECORDS = {"clients": "client_id", "contacts": "contact_id", "assets": "asset_id"}
LINKS = {"client_tags": "client_id, tag_id", "contact_tags": "contact_id, tag_id",
         "asset_tags": "asset_tag_asset_id, asset_tag_tag_id"}
# The steps whose edit changes the client's row or its tags ("the same tags again" changes
# neither: ITFlow's page logs it all the same, and so does this; the answer says "False").
CHANGES = [True, True, False, True, True, True, True, True, True, True]


@pytest.fixture
def seeded(newest_database):
    cfg, db = newest_database
    seed = {**RECORDED["seed"], "settings": {"config_timezone": "UTC"}}
    return page_twin(cfg, db, seed, SECRET, tables=TABLES)


def _replay(seeded, clock, check=None):
    for step, changes in zip(RECORDED["steps"], CHANGES, strict=True):
        clock["now"] = step["instant"]
        status, answer = seeded["api"].post(step["function"], step["body"], key=seeded["key"])
        assert status == 200 and answer["success"] == ("True" if changes else "False"), (step["step"], answer)
        if check:
            check(step)


def test_the_link_rows_and_records_rows_are_the_pages(seeded, clock):
    def check(step):
        db = seeded["db"]
        for table, order in LINKS.items():
            assert ordered_rows(db, table, order) == step["after"][table], (step["step"], table)
        for table, order in RECORDS.items():
            ours, theirs = ordered_rows(db, table, order), step["after"][table]
            assert len(ours) == len(theirs)
            for our_row, their_row in zip(ours, theirs, strict=True):
                for column, expected in their_row.items():
                    if column not in SKIP and column in our_row:
                        assert our_row[column] == expected, (step["step"], column, our_row, their_row)
    _replay(seeded, clock, check)


def test_the_logs_rows_say_the_same_about_whom_and_what(seeded, clock):
    _replay(seeded, clock)
    theirs = RECORDED["rows"]["logs"]
    ours = assert_same_log_rows(seeded["db"], theirs, LOGGED)
    assert ours[1]["log_description"] == "Acme Ltd via API (page twin)"
    assert [r["log_type"] for r in ours] == ["Client"] * 5 + ["Contact"] * 3 + ["Asset"] * 2


def test_what_the_recording_shows():
    steps = RECORDED["steps"]
    assert steps[0]["form"]["tags"] == [2, 1] and steps[3]["form"].get("tags") is None
    assert [row["tag_id"] for row in steps[0]["after"]["client_tags"]] == ["1", "2", "2"]  # client 2's stays
    assert steps[3]["after"]["client_tags"] == [{"client_id": "2", "tag_id": "2"}]  # none posted: all removed


def test_refusals_change_nothing(seeded):
    db, api, key = seeded["db"], seeded["api"], seeded["key"]
    before = ordered_rows(db, "client_tags", "client_id, tag_id")
    message = refused(api.post("clients/update", {"client_id": 1, "tags": "VIP,Gold"}, key=key))["message"]
    assert message == ("No client tag named 'Gold': tags takes a tag id or one of: Managed (1), Monthly (3), "
                       "VIP (2).")
    message = refused(api.post("clients/update", {"client_id": 1, "tags": [4]}, key=key))["message"]
    assert message.startswith("No client tag with tag_id 4: tags takes a tag id or one of: Managed (1)")  # a contact tag
    assert "tags takes tag ids or names" in refused(api.post(
        "clients/update", {"client_id": 1, "tags": [{"id": 1}]}, key=key))["message"]
    assert ordered_rows(db, "client_tags", "client_id, tag_id") == before
    # A create ignores tags, as ITFlow's API ignores a field it does not take: the client is
    # stored (never lost for it), with no tags and no note about them.
    status, body = api.post("clients/create", {"client_name": "New", "tags": ["VIP", "Gold"]}, key=key)
    assert status == 200 and set(body) == {"success", "count", "data"} and body["success"] == "True", body
    assert fetch(db, "clients", client_name="New")
    assert ordered_rows(db, "client_tags", "client_id, tag_id") == before
    with db.transaction(write=True):
        db.insert("tags", {"tag_name": "vip", "tag_type": 1})
    assert "2 of the client tag choices are named 'VIP'" in refused(api.post(
        "clients/update", {"client_id": 1, "tags": "VIP"}, key=key))["message"]


def test_tags_alone_and_names_in_any_case(seeded):
    db, api, key = seeded["db"], seeded["api"], seeded["key"]
    succeeded(api.post("clients/update", {"client_id": 1, "tags": " managed , VIP,1"}, key=key))
    assert [r["tag_id"] for r in fetch(db, "client_tags", client_id=1)] == ["1", "2"]
    assert refused(api.post("clients/update", {"client_id": 1, "tags": "2,1"}, key=key))  # nothing changed
    succeeded(api.post("clients/update", {"client_id": 1, "tags": ""}, key=key))
    assert not fetch(db, "client_tags", client_id=1)


def test_contact_tags_by_name_refused_with_the_contact_tags(seeded):
    db, api, key = seeded["db"], seeded["api"], seeded["key"]
    message = refused(api.post("contacts/update", {"contact_id": 1, "tags": "Managed"}, key=key))["message"]
    assert message == "No contact tag named 'Managed': tags takes a tag id or one of: Billing (5), VIP (4)."
    succeeded(api.post(
        "contacts/create", {"contact_name": "C", "contact_email": "c@x.example", "client_id": 1, "tags": "VIP"},
        key=key))  # stored; the tags are the update's
    succeeded(api.post("contacts/update", {"contact_id": 1, "tags": "vip"}, key=key))
    assert [r["tag_id"] for r in fetch(db, "contact_tags", contact_id=1)] == ["4"]


def test_on_a_246_layout_tags_are_refused(api, db, all_key, make_client):
    client = make_client("Acme")
    message = refused(api.post("clients/update", {"client_id": client, "client_name": "Acme 2", "tags": "VIP"},
                               key=all_key))["message"]
    assert message.startswith("This database has no client_tags table, where ITFlow keeps a client's tags")
    assert fetch(db, "clients", client_id=client)[0]["client_name"] == "Acme"
    succeeded(api.post("clients/update", {"client_id": client, "client_name": "Acme 2"}, key=all_key))
    contact = succeeded(api.post("contacts/create", {"client_id": client, "contact_name": "Ann",
                                                     "contact_email": "ann@x.example"}, key=all_key))["data"][0]["insert_id"]
    assert "no contact_tags table" in refused(api.post("contacts/update", {"contact_id": contact, "tags": ""},
                                                       key=all_key))["message"]


def test_a_client_key_sets_only_its_clients_tags(api, db, two_clients):
    a, b, key = two_clients
    answer = api.post("clients/update", {"client_id": b, "tags": ""}, key=key)[1]
    assert answer["success"] == "False"
    with db.transaction(write=True):
        other = db.insert("contacts", {"contact_name": "B", "contact_email": "b@x.example", "contact_client_id": b})
    assert api.post("contacts/update", {"contact_id": other, "tags": ""}, key=key)[1]["success"] == "False"


def test_tags_read_by_type_and_by_id(seeded):
    api, key = seeded["api"], seeded["key"]
    rows = succeeded(api.get("tags/read", key=key, tag_type=1))["data"]
    assert [(r["tag_id"], r["tag_name"]) for r in rows] == [("1", "Managed"), ("3", "Monthly"), ("2", "VIP")]
    assert [r["tag_name"] for r in succeeded(api.get("tags/read", key=key, tag_id=5))["data"]] == ["Billing"]
    assert len(succeeded(api.get("tags/read", key=key))["data"]) == 7


def test_tags_read_on_a_246_layout_is_refused(api, all_key):
    assert "no tags table" in refused(api.get("tags/read", key=all_key))["message"]


def test_asset_tags_by_name_refused_with_the_asset_tags(seeded):
    db, api, key = seeded["db"], seeded["api"], seeded["key"]
    message = refused(api.post("assets/update", {"asset_id": 1, "tags": "VIP"}, key=key))["message"]
    assert message == "No asset tag named 'VIP': tags takes a tag id or one of: Leased (7), Server (6)."
    succeeded(api.post("assets/update", {"asset_id": 1, "tags": "leased"}, key=key))
    assert [r["asset_tag_tag_id"] for r in fetch(db, "asset_tags", asset_tag_asset_id=1)] == ["7"]
