"""POST /api/v1/batch.php (ours): many endpoint calls in one request. Each item answers what
its single call would have (validation, scope, roles, logs rows), the key is checked once and
charged one quota unit per item; atomic batches are all or nothing, others item by item."""
from datetime import date, timedelta

import pytest
from falcon import testing
from helpers import (
    MISSING_ID,
    Api,
    fetch,
    insert,
    insert_role,
    insert_user,
    log_rows,
    make_key,
    one,
    user_keys_database,
)

from itflow_api.lib.access import permissions
from itflow_api.lib.access.keys import KeyStore
from itflow_api.lib.core import messages
from itflow_api.lib.db.errors import DatabaseError, StorageFull, WriteConflict
from itflow_api.lib.itflow import schema
from itflow_api.lib.web.app import create_app

ITEM_KEYS = ("index", "module", "function", "status", "rolled_back")


def batch(api, key, operations, atomic=None, **extra):
    body = {"operations": operations, **extra}
    if atomic is not None:
        body["atomic"] = atomic
    return api.post("batch", body, key=key)


def envelope_of(item):
    """An item's own envelope: what its single call answers."""
    return {k: v for k, v in item.items() if k not in ITEM_KEYS}


def op(module, function, body=None, ids=None):
    found = {"module": module, "function": function}
    if body is not None:
        found["body"] = body
    if ids is not None:
        found["ids"] = ids
    return found


def new_asset(db, client_id, name="PC", **columns):
    return insert(db, "assets", **{"asset_name": name, "asset_client_id": client_id, "asset_status": "",
                                   "asset_notes": "", **columns})


def assets(db):
    return [(row["asset_name"], row["asset_status"]) for row in fetch(db, "assets")]


def failing_on(app, monkeypatch, asset_name, error):
    """The item that names `asset_name` raises `error` where its endpoint would run."""
    pipeline = app.service.pipeline
    perform = pipeline.perform

    def failing(session, target, params, memo):
        if params.get("asset_name") == asset_name:
            raise error
        return perform(session, target, params, memo)

    monkeypatch.setattr(pipeline, "perform", failing)


# --- what a batch answers ------------------------------------------------------------------

def test_mixed_items_answer_in_order_each_with_its_single_calls_envelope(api, db, all_key, make_client):
    client = make_client("Alpha")
    old = new_asset(db, client, "Old")
    kept = new_asset(db, client, "Kept")
    status, body = batch(api, all_key, [
        op("assets", "create", {"asset_name": "PC-01", "client_id": client, "asset_type": "Desktop"}),
        op("assets", "update", {"asset_id": kept, "asset_status": "Retired"}),
        op("assets", "delete", {"asset_id": old}),
        op("assets", "read", {"asset_id": kept}),
        op("clients", "read", {"client_id": client}),
    ])
    assert status == 200 and body["success"] == "True" and body["count"] == 5, body
    assert body["message"] == "All 5 items succeeded."
    items = body["data"]
    assert [(i["index"], i["module"], i["function"], i["status"]) for i in items] == [
        (0, "assets", "create", 200), (1, "assets", "update", 200), (2, "assets", "delete", 200),
        (3, "assets", "read", 200), (4, "clients", "read", 200)]
    created = items[0]["data"][0]["insert_id"]
    assert envelope_of(items[0]) == {"success": "True", "count": "1", "data": [{"insert_id": created}]}
    assert envelope_of(items[1]) == {"success": "True", "count": 1}
    assert envelope_of(items[2]) == {"success": "True", "count": 1}
    # the read sees the update made earlier in the same batch, and equals its single call
    assert items[3]["data"][0]["asset_status"] == "Retired"
    assert envelope_of(items[3]) == api.get("assets/read", key=all_key, asset_id=kept)[1]
    assert envelope_of(items[4]) == api.get("clients/read", key=all_key, client_id=client)[1]
    assert sorted(assets(db)) == [("Kept", "Retired"), ("PC-01", "")]
    assert one(db, "assets", asset_id=created)["asset_type"] == "Desktop"
    # the create's hook ran as it does for a single call: the primary interface exists
    assert int(one(db, "asset_interfaces", interface_asset_id=created)["interface_primary"]) == 1


def test_bulk_ids_update_and_delete_one_item_per_id(api, db, all_key, make_client):
    client = make_client("Alpha")
    ids = [new_asset(db, client, f"PC-{n}") for n in range(3)]
    status, body = batch(api, all_key, [op("assets", "update", {"asset_status": "Retired"}, ids=ids)])
    assert (status, body["success"], body["count"]) == (200, "True", 3), body
    assert [(i["index"], i["function"], envelope_of(i)) for i in body["data"]] == \
        [(n, "update", {"success": "True", "count": 1}) for n in range(3)]
    assert assets(db) == [(f"PC-{n}", "Retired") for n in range(3)]
    # each id is its own update, logged like one: two rows per record
    assert sorted(int(r["log_entity_id"]) for r in log_rows(db, log_type="Asset")) == sorted(ids)
    status, body = batch(api, all_key, [op("assets", "delete", ids=[str(ids[0]), ids[2]])])
    assert [envelope_of(i) for i in body["data"]] == [{"success": "True", "count": 1}] * 2
    assert assets(db) == [("PC-1", "Retired")]


def test_get_items_take_their_body_as_the_query_string(api, db, all_key, make_client):
    client = make_client("Alpha")
    for n in range(3):
        new_asset(db, client, f"PC-{n}")
    status, body = batch(api, all_key, [op("assets", "read", {"limit": 2, "offset": 1}),
                                        op("assets", "read", {"filter": "asset_name==PC-2"})])
    assert [row["asset_name"] for row in body["data"][0]["data"]] == \
        [row["asset_name"] for row in api.get("assets/read", key=all_key, limit="2", offset="1")[1]["data"]]
    assert len(body["data"][0]["data"]) == 2
    assert [row["asset_name"] for row in body["data"][1]["data"]] == ["PC-2"]


def test_logs_rows_are_those_of_the_single_calls(api, db, all_key, make_client):
    client = make_client("Alpha")

    def calls(asset_id):
        return [("assets/update", {"asset_id": asset_id, "asset_notes": "n"}),
                ("assets/archive", {"asset_id": asset_id}), ("assets/unarchive", {"asset_id": asset_id}),
                ("assets/delete", {"asset_id": asset_id})]

    def logged(asset_id):
        rows = log_rows(db)
        with db.transaction(write=True):
            db.execute("DELETE FROM logs")
        return [{**{k: v for k, v in r.items() if k not in ("log_id", "log_created_at")},
                 "log_entity_id": "ID" if str(r["log_entity_id"]) == str(asset_id) else r["log_entity_id"]} for r in rows]

    single = api.post("assets/create", {"asset_name": "PC-01", "client_id": client}, key=all_key)[1]
    single_id = single["data"][0]["insert_id"]
    for path, body in calls(single_id):
        assert api.post(path, body, key=all_key)[1]["success"] == "True"
    singles = logged(single_id)
    status, body = batch(api, all_key, [op("assets", "create", {"asset_name": "PC-01", "client_id": client})])
    batch_id = body["data"][0]["data"][0]["insert_id"]
    status, body = batch(api, all_key, [op(*path.split("/"), fields) for path, fields in calls(batch_id)])
    assert body["success"] == "True", body
    assert len(singles) == 10 and logged(batch_id) == singles


def test_the_batchs_decrypt_password_reaches_its_items(api, keys, make_client):
    client, key = make_client("Alpha"), make_key(keys, decrypt_password="batch-decrypt-pw")
    status, body = batch(api, key, [
        op("credentials", "create", {"credential_name": "Router", "credential_password": "s3cret", "client_id": client}),
        op("credentials", "read", {"client_id": client})], api_key_decrypt_password="batch-decrypt-pw")
    assert body["success"] == "True", body
    assert body["data"][1]["data"][0]["credential_password"] == "s3cret"
    # without it, the read answers what a single read without the password answers
    status, body = batch(api, key, [op("credentials", "read", {"client_id": client})])
    assert envelope_of(body["data"][0]) == api.get("credentials/read", key=key, client_id=str(client))[1]
    assert "s3cret" not in str(body)


# --- atomic and not --------------------------------------------------------------------------

def test_atomic_success_writes_everything(api, db, all_key, make_client):
    client = make_client("Alpha")
    kept = new_asset(db, client, "Kept")
    status, body = batch(api, all_key, [op("assets", "create", {"asset_name": "A", "client_id": client}),
                                        op("assets", "update", {"asset_notes": "x"}, ids=[kept])], atomic=True)
    assert (status, body["success"], body["count"]) == (200, "True", 2), body
    assert body["message"] == "All 2 items succeeded in one transaction."
    assert not any("rolled_back" in item for item in body["data"])
    assert sorted(assets(db)) == [("A", ""), ("Kept", "")]
    assert len(log_rows(db)) == 4


@pytest.mark.parametrize("failing, status", [
    (op("assets", "update", {"asset_id": MISSING_ID, "asset_notes": "x"}), 200),  # refused by the endpoint
    (op("assets", "create", {"client_id": 0}), 200),                              # a required field missing
    (op("nothing", "create", {"x": 1}), 404),                                     # no such endpoint
])
def test_atomic_failure_rolls_everything_back_and_names_the_item(api, db, all_key, make_client, failing, status):
    client = make_client("Alpha")
    kept = new_asset(db, client, "Kept")
    operations = [op("assets", "create", {"asset_name": "A", "client_id": client}),
                  op("assets", "update", {"asset_status": "Retired"}, ids=[kept]),
                  failing,
                  op("assets", "create", {"asset_name": "never", "client_id": client})]
    single = api.post(f"{failing['module']}/{failing['function']}", failing["body"], key=all_key)
    status_code, body = batch(api, all_key, operations, atomic=True)
    assert status_code == 200 and body["success"] == "False", body
    assert body["count"] == 3  # the fourth was not run
    first, second, failed = body["data"]
    assert first["rolled_back"] is True and second["rolled_back"] is True and "rolled_back" not in failed
    assert (failed["index"], failed["status"]) == (2, status)
    assert (failed["status"], envelope_of(failed)) == single
    assert body["message"].startswith(f"Item 2 ({failing['module']}/{failing['function']}) did not succeed: "
                                      f"{failed['message']}")
    assert "rolled back" in body["message"] and "1 item(s) after it were not run" in body["message"]
    assert assets(db) == [("Kept", "")]
    assert log_rows(db) == []


def test_non_atomic_failure_keeps_the_good_items(api, db, all_key, make_client):
    client = make_client("Alpha")
    status, body = batch(api, all_key, [op("assets", "create", {"asset_name": "A", "client_id": client}),
                                        op("assets", "update", {"asset_id": MISSING_ID, "asset_notes": "x"}),
                                        op("assets", "create", {"asset_name": "B", "client_id": client})])
    assert (status, body["success"], body["count"]) == (200, "False", 3), body
    assert [i["success"] for i in body["data"]] == ["True", "False", "True"]
    assert body["message"] == ("2 of 3 items succeeded; item(s) 1 did not (see each item's message); "
                               "the others went through.")
    assert sorted(assets(db)) == [("A", ""), ("B", "")]
    assert len(log_rows(db)) == 4  # the two creates' rows; the refused update left none


def test_atomic_batch_runs_again_whole_after_a_write_conflict(app, api, db, all_key, make_client, monkeypatch):
    client = make_client("Alpha")
    pipeline, lost = app.service.pipeline, []
    perform = pipeline.perform

    def conflicting(session, target, params, memo):
        if params.body.get("asset_name") == "B" and not lost:
            lost.append(True)
            raise WriteConflict("deadlock (test)")
        return perform(session, target, params, memo)

    monkeypatch.setattr(pipeline, "perform", conflicting)
    status, body = batch(api, all_key, [op("assets", "create", {"asset_name": "A", "client_id": client}),
                                        op("assets", "create", {"asset_name": "B", "client_id": client})], atomic=True)
    assert body["success"] == "True" and lost == [True], body
    assert sorted(assets(db)) == [("A", ""), ("B", "")]  # A once: its first attempt was rolled back
    assert len(log_rows(db)) == 4


def test_a_database_error_fails_its_item_alone_or_an_atomic_batch_whole(app, api, db, all_key, make_client,
                                                                       monkeypatch):
    client = make_client("Alpha")
    pipeline = app.service.pipeline
    perform = pipeline.perform

    def failing(session, target, params, memo):
        if target.path == "/api/v1/clients/read.php":
            raise DatabaseError("server went away (test)")
        return perform(session, target, params, memo)

    monkeypatch.setattr(pipeline, "perform", failing)
    operations = [op("assets", "create", {"asset_name": "A", "client_id": client}), op("clients", "read"),
                  op("assets", "create", {"asset_name": "B", "client_id": client})]
    status, body = batch(api, all_key, operations)
    # The items after the one the database failed are not tried (each would wait out its own
    # timeout against a database that is gone) and say so; what ran before them stays.
    assert status == 200 and [i["status"] for i in body["data"]] == [200, 503, 503], body
    assert envelope_of(body["data"][1]) == {"success": "False", "message": messages.DATABASE_UNAVAILABLE,
                                            "count": 0, "data": []}
    assert envelope_of(body["data"][2]) == {"success": "False", "message": messages.BATCH_NOT_RUN,
                                            "count": 0, "data": []}
    assert sorted(assets(db)) == [("A", "")]
    status, body = batch(api, all_key, operations, atomic=True)
    assert (status, body["message"]) == (503, messages.DATABASE_UNAVAILABLE)
    assert len(assets(db)) == 1


def test_a_database_error_in_groups_side_by_side_stops_the_groups_not_yet_started(app, api, db, all_key,
                                                                                 make_client, monkeypatch):
    from itflow_api.lib.web import batch as batch_module
    client = make_client("Alpha")
    failing_on(app, monkeypatch, "PC-03", DatabaseError("server went away (test)"))
    monkeypatch.setattr(batch_module, "EACH_GROUP", 2)
    operations = [op("assets", "create", {"asset_name": f"PC-{n:02d}", "client_id": client}) for n in range(12)]
    status, body = batch(api, all_key, operations)
    answers = [(i["index"], i["status"], i["message"] if i["success"] != "True" else "ok") for i in body["data"]]
    assert [index for index, _, _ in answers] == list(range(12)), answers  # in item order
    assert answers[3] == (3, 503, messages.DATABASE_UNAVAILABLE), answers
    assert answers[2][1:] == (200, "ok")  # the same group's item before it stands
    for _, status, message in answers[4:]:  # a group already running finishes; later ones are not run
        assert (status, message) in ((200, "ok"), (503, messages.BATCH_NOT_RUN)), answers
    stored = sorted(name for name, _ in assets(db))
    assert stored == [f"PC-{index:02d}" for index, _, message in answers if message == "ok"], (stored, answers)


def test_a_full_disk_stops_a_batch_with_507_per_item(app, api, db, all_key, make_client, monkeypatch):
    client = make_client("Alpha")
    failing_on(app, monkeypatch, "B", StorageFull("disk full (test)"))
    operations = [op("assets", "create", {"asset_name": n, "client_id": client}) for n in "ABC"]
    status, body = batch(api, all_key, operations)
    assert status == 200 and [i["status"] for i in body["data"]] == [200, 507, 507], body
    assert [i["message"] for i in body["data"][1:]] == [messages.STORAGE_FULL, messages.BATCH_NOT_RUN]
    assert "database_error" not in body["data"][1]
    assert sorted(assets(db)) == [("A", "")]


# --- scope and roles -------------------------------------------------------------------------

def test_a_client_key_cannot_reach_another_clients_record_through_a_batch(api, db, keys, all_key, two_clients):
    a, b, key_a = two_clients
    theirs = new_asset(db, b, "Theirs")
    mine = new_asset(db, a, "Mine")
    attempts = [op("assets", "update", {"asset_id": theirs, "asset_notes": "x"}),
                op("assets", "delete", {"asset_id": theirs}),
                op("assets", "read", {"asset_id": theirs})]
    singles = [api.post(f"assets/{o['function']}", o["body"], key=key_a) if o["function"] != "read"
               else api.get("assets/read", key=key_a, asset_id=str(theirs)) for o in attempts]
    # an item cannot switch to another key: its api_key is ignored
    sneaky = op("assets", "update", {"asset_id": theirs, "asset_notes": "y", "api_key": all_key})
    status, body = batch(api, key_a, [*attempts, op("assets", "update", {"asset_notes": "n"}, ids=[mine, theirs]),
                                      sneaky])
    assert status == 200 and body["count"] == 6, body
    assert [(i["status"], envelope_of(i)) for i in body["data"][:3]] == singles
    assert [i["success"] for i in body["data"][3:]] == ["True", "False", "False"]
    assert body["data"][4]["message"] == body["data"][5]["message"] == singles[0][1]["message"]
    assert one(db, "assets", asset_id=theirs)["asset_notes"] == ""
    assert one(db, "assets", asset_id=mine)["asset_notes"] == "n"
    assert [int(r["log_entity_id"]) for r in log_rows(db, log_type="Asset")] == [mine]


@pytest.fixture(scope="module")
def user_database(tmp_path_factory):
    with user_keys_database(tmp_path_factory.mktemp("batch_users")) as found:
        yield found


def test_a_user_keys_role_is_checked_per_item(user_database):
    cfg, db = user_database
    with db.transaction(write=True):
        for table in schema.tables():
            db.execute(f"DELETE FROM {table}")
    db.create_schema(schema.LAYOUT_USER_KEYS)
    keys = KeyStore(db, b"batch-user-keys")
    api = Api(create_app(cfg, db, keys))
    with db.transaction(write=True):
        client = db.insert("clients", {"client_name": "Alpha"})
        asset = db.insert("assets", {"asset_name": "Box", "asset_client_id": client})
        reader = insert_user(db, "reader", insert_role(db, "Reader", levels={"module_support": 1,
                                                                            "module_client": 1}))
    key = keys.create("reader key", (date.today() + timedelta(days=10)).isoformat(), reader)[0]
    status, body = batch(api, key, [op("assets", "read", {"asset_id": asset}),
                                    op("assets", "create", {"asset_name": "x", "client_id": client}),
                                    op("assets", "delete", ids=[asset])])
    assert status == 200 and body["success"] == "False", body
    assert [i["status"] for i in body["data"]] == [200, 403, 403]
    assert [i["message"] for i in body["data"][1:]] == [permissions.NO_PERMISSION] * 2
    assert envelope_of(body["data"][1]) == api.post("assets/create", {"asset_name": "x", "client_id": client},
                                                    key=key)[1]
    assert [row["asset_name"] for row in fetch(db, "assets")] == ["Box"]


# --- the key, the quota and the limits -----------------------------------------------------------

@pytest.mark.parametrize("atomic", [False, True])
def test_a_wrong_or_missing_key_is_refused_like_a_single_call(api, db, make_client, atomic):
    client = make_client("Alpha")
    create = [op("assets", "create", {"asset_name": "A", "client_id": client})]
    single = api.post("assets/create", create[0]["body"], key="not-a-key")
    assert batch(api, "not-a-key", create, atomic=atomic) == single
    assert single[0] == 401
    status, body = batch(api, None, create, atomic=atomic)
    assert (status, body["message"]) == (401, messages.NO_KEY)
    assert fetch(db, "assets") == []
    failed = log_rows(db, log_type="API", log_action="Failed")
    assert [r["log_description"] for r in failed] == [
        "Incorrect or expired key (endpoint: /api/v1/assets/create.php)",
        "Incorrect or expired key (endpoint: /api/v1/batch.php)"]


def test_the_key_can_come_in_a_header(app, db, keys, make_client):
    client, key = make_client("Alpha"), make_key(keys)
    result = testing.TestClient(app).simulate_post("/api/v1/batch.php", headers={"X-API-KEY": key}, json={
        "operations": [op("assets", "create", {"asset_name": "A", "client_id": client})]})
    assert result.status_code == 200 and result.json["success"] == "True", result.json


def test_quota_costs_one_unit_per_item(config, db, keys, make_client):
    config.limits.requests_per_key, config.limits.quota_sync_seconds = "5/minute", 0
    try:
        app = create_app(config, db, keys)
    finally:
        config.limits.__init__()  # the session's config goes back to its defaults
    client, key = make_client("Alpha"), make_key(keys)
    http = testing.TestClient(app)

    def send(count):
        operations = [op("assets", "create", {"asset_name": f"A{n}", "client_id": client}) for n in range(count)]
        return http.simulate_post("/api/v1/batch.php", json={"api_key": key, "operations": operations})

    result = send(3)
    assert result.status_code == 200 and result.json["success"] == "True"
    assert (result.headers["X-RateLimit-Limit"], result.headers["X-RateLimit-Remaining"]) == ("5", "2")
    result = send(3)  # would be 6 of 5: refused whole, nothing of it run
    assert result.status_code == 429 and int(result.headers["Retry-After"]) > 0, result.json
    assert result.json["message"].startswith("This API key has used its 5 requests")
    assert len(fetch(db, "assets")) == 3
    result = send(2)  # the refused batch took none of the 2 units left
    assert result.status_code == 200 and result.json["success"] == "True", result.json
    assert result.headers["X-RateLimit-Remaining"] == "0"
    assert len(fetch(db, "assets")) == 5


def test_more_items_than_max_batch_is_refused_whole(app, config, api, db, all_key, make_client):
    client = make_client("Alpha")
    ids = [new_asset(db, client, f"PC-{n}") for n in range(4)]
    config.server.max_batch = 3
    try:
        status, body = batch(api, all_key, [op("assets", "update", {"asset_notes": "x"}, ids=ids)])
        assert (status, body["success"]) == (400, "False"), body
        assert "has 4 items" in body["message"] and "at most 3" in body["message"]
        assert log_rows(db) == [] and {r["asset_notes"] for r in fetch(db, "assets")} == {""}
        status, body = batch(api, all_key, [op("assets", "update", {"asset_notes": "x"}, ids=ids[:3])])
        assert (status, body["count"]) == (200, 3), body
    finally:
        config.server.max_batch = 1000


def test_the_body_limit_is_max_batch_bytes(config, api, db, all_key):
    padding = "x" * (config.server.max_body_bytes + 1000)  # over a single call's limit
    read = [op("clients", "read", {"unused": padding})]
    assert api.post("assets/create", {"asset_name": "A", "asset_notes": padding}, key=all_key)[0] == 413
    status, body = batch(api, all_key, read)
    assert status == 200, body
    saved, config.server.max_batch_bytes = config.server.max_batch_bytes, 1024
    try:
        status, body = batch(api, all_key, read)
    finally:
        config.server.max_batch_bytes = saved
    assert (status, body["message"]) == (413, messages.BODY_TOO_LARGE.format(max_bytes=1024))


# --- malformed requests ------------------------------------------------------------------------

GOOD = op("assets", "create", {"asset_name": "A", "client_id": 0})


@pytest.mark.parametrize("extra, words", [
    ({}, "Send the batch as a JSON body with 'operations'"),
    ({"operations": "assets/create"}, "'operations' must be a JSON list"),
    ({"operations": {"module": "assets"}}, "'operations' must be a JSON list"),
    ({"operations": []}, "'operations' is empty"),
    ({"operations": [GOOD, "assets/create"]}, "operations[1] must be a JSON object"),
    ({"operations": [GOOD, {"function": "create"}]}, "operations[1]: 'module' is missing"),
    ({"operations": [GOOD, {"module": "assets", "function": 7}]}, "operations[1]: 'function' is missing"),
    ({"operations": [GOOD, {**GOOD, "boby": {}}]}, "operations[1] has unknown field(s) boby"),
    ({"operations": [GOOD, {**GOOD, "body": ["x"]}]}, "operations[1]: 'body' must be a JSON object"),
    ({"operations": [GOOD, op("batch", "run", {"operations": [GOOD]})]}, "cannot contain another batch"),
    ({"operations": [GOOD, op("assets", "create", ids=[1])]}, "'ids' works with update, delete"),
    ({"operations": [GOOD, op("assets", "delete", ids=4)]}, "'ids' must be a non-empty JSON list"),
    ({"operations": [GOOD, op("assets", "delete", ids=[])]}, "'ids' must be a non-empty JSON list"),
    ({"operations": [GOOD, op("assets", "delete", ids=[1, "two"])]}, "'ids' holds 'two'"),
    ({"operations": [GOOD, op("assets", "delete", ids=[0])]}, "'ids' holds 0"),
    ({"operations": [GOOD, op("assets", "delete", {"asset_id": 3}, ids=[1])]}, "both by 'ids' and by 'asset_id'"),
    ({"operations": [GOOD, op("webhooks", "delete", ids=[1])]}, "'ids' is not available for webhooks/delete"),
    ({"operations": [GOOD], "atomic": "maybe"}, "'atomic' must be true"),
])
def test_a_malformed_batch_is_refused_whole_and_nothing_runs(api, db, all_key, extra, words):
    status, body = api.post("batch", extra, key=all_key)
    assert (status, body["success"], body["count"], body["data"]) == (400, "False", 0, []), body
    assert words in body["message"], body["message"]
    assert fetch(db, "assets") == [] and log_rows(db) == []


def test_a_body_that_is_not_json_is_refused(api, all_key):
    status, body = api.post("batch", raw="operations=[]", headers={"X-API-KEY": all_key})
    assert status == 400 and body["message"] == messages.BODY_NOT_JSON


def test_only_post_is_answered(app, all_key):
    result = testing.TestClient(app).simulate_get("/api/v1/batch.php", params={"api_key": all_key})
    assert result.status_code == 405 and result.headers["Allow"] == "POST"
    assert result.json["message"] == "Can only send POST requests to this endpoint."


# --- Idempotency-Key on a batch ----------------------------------------------------------------

@pytest.mark.parametrize("atomic", [False, True])
def test_a_batch_sent_again_with_its_idempotency_key_is_answered_not_run(app, db, all_key, make_client, atomic):
    client = make_client("Alpha")
    http = testing.TestClient(app)
    body = {"api_key": all_key, "atomic": atomic,
            "operations": [op("assets", "create", {"asset_name": n, "client_id": client}) for n in ("A", "B")]}
    first = http.simulate_post("/api/v1/batch.php", json=body, headers={"Idempotency-Key": f"sync-{atomic}"})
    again = http.simulate_post("/api/v1/batch.php", json=body, headers={"Idempotency-Key": f"sync-{atomic}"})
    assert first.status_code == again.status_code == 200 and first.json["success"] == "True", first.json
    assert again.content == first.content and again.headers.get("Idempotent-Replayed") == "true"
    assert sorted(assets(db)) == [("A", ""), ("B", "")]
    assert len(log_rows(db)) == 4  # two per create, once
    changed = dict(body, operations=body["operations"][:1])
    refused = http.simulate_post("/api/v1/batch.php", json=changed, headers={"Idempotency-Key": f"sync-{atomic}"})
    assert refused.status_code == 422 and refused.json["success"] == "False"


def test_an_atomic_batch_that_rolled_back_runs_again_under_the_same_idempotency_key(app, db, all_key, make_client):
    client = make_client("Alpha")
    http = testing.TestClient(app)
    operations = [op("assets", "create", {"asset_name": "A", "client_id": client}),
                  op("assets", "update", {"asset_id": 987654, "asset_notes": "x"})]
    body = {"api_key": all_key, "atomic": True, "operations": operations}
    first = http.simulate_post("/api/v1/batch.php", json=body, headers={"Idempotency-Key": "retry-me"})
    assert first.status_code == 200 and first.json["success"] == "False" and assets(db) == []
    new_asset(db, client, "Target")
    target = next(r["asset_id"] for r in fetch(db, "assets") if r["asset_name"] == "Target")
    # Nothing was written the first time, so nothing was remembered: the same key runs again.
    operations[1]["body"]["asset_id"] = target
    again = http.simulate_post("/api/v1/batch.php", json=body, headers={"Idempotency-Key": "retry-me"})
    assert again.status_code == 200 and again.json["success"] == "True", again.json
    assert "Idempotent-Replayed" not in again.headers
    assert sorted(r["asset_name"] for r in fetch(db, "assets")) == ["A", "Target"]


def test_an_item_refused_after_it_wrote_is_undone_alone_and_items_commit_in_groups(app, api, db, all_key,
                                                                                    make_client, monkeypatch):
    from itflow_api.lib.core.envelope import ApiError
    from itflow_api.lib.web import batch as batch_module
    client = make_client("Alpha")
    pipeline = app.service.pipeline
    perform = pipeline.perform

    def refuse_after_writing(session, target, params, memo):
        body = perform(session, target, params, memo)  # the asset, its interface and logs rows
        if params.get("asset_name") == "B":
            db.execute("UPDATE assets SET asset_notes = 'written' WHERE asset_name = 'B'")  # a real write
            raise ApiError("refused after writing (test)")
        return body

    commits, groups = [], []  # the commits of the items' transactions, and each group's size
    end, group = db._end, batch_module._Run._group

    inside = []

    def counted_end(local, how):
        if inside:
            commits.append(how)
        return end(local, how)

    def counted_group(run, items):
        groups.append(len(items))
        inside.append(True)
        try:
            return group(run, items)
        finally:
            inside.pop()

    monkeypatch.setattr(db, "_end", counted_end)
    monkeypatch.setattr(batch_module._Run, "_group", counted_group)
    monkeypatch.setattr(pipeline, "perform", refuse_after_writing)
    monkeypatch.setattr(batch_module, "EACH_GROUP", 2)
    clear_before = len(log_rows(db))
    operations = [op("assets", "create", {"asset_name": n, "client_id": client}) for n in "ABCDE"]
    status, body = batch(api, all_key, operations)
    assert [(i["status"], i["success"]) for i in body["data"]] == \
        [(200, "True"), (200, "False"), (200, "True"), (200, "True"), (200, "True")]
    assert body["data"][1]["message"] == "refused after writing (test)"
    assert sorted(name for name, _ in assets(db)) == ["A", "C", "D", "E"]
    kept = {row["asset_id"] for row in fetch(db, "assets")}
    assert {row["interface_asset_id"] for row in fetch(db, "asset_interfaces")} == kept
    assert len(log_rows(db)) - clear_before == 8  # two per item that stands, none for B
    # five items in groups of two; the first group ran with no savepoints, was rolled back when
    # B turned out refused after writing, and ran again with a savepoint per item
    # (on MariaDB the groups run side by side, so their ends come in any order)
    assert sorted(groups) == [1, 2, 2] and sorted(commits) == ["commit", "commit", "commit", "rollback"]


def _statements(db, monkeypatch):
    """The statements the database runs from here on, as sent."""
    sent = []
    run = db._run

    def noted(conn, native, params, fetch):
        sent.append(native)
        return run(conn, native, params, fetch)

    monkeypatch.setattr(db, "_run", noted)
    return sent


def test_items_refused_before_writing_cost_no_savepoint_and_no_second_run(api, db, all_key, make_client,
                                                                         monkeypatch):
    client = make_client("Alpha")
    sent = _statements(db, monkeypatch)
    operations = [op("assets", "create", {"asset_name": name, "client_id": client}) for name in ("A", "", "C")]
    operations.append(op("assets", "update", {"asset_id": MISSING_ID, "asset_notes": "x"}))
    status, body = batch(api, all_key, operations)
    assert [i["success"] for i in body["data"]] == ["True", "False", "True", "False"]
    assert body["data"][1]["message"] == "Missing required field(s): asset_name."
    assert sorted(name for name, _ in assets(db)) == ["A", "C"]
    assert not [s for s in sent if "SAVEPOINT" in s.upper()]
    # no item ran twice; where the database hands back new ids, both rows went in one statement
    assert sum(s.startswith("INSERT INTO assets ") for s in sent) == (1 if db.returns_inserted_ids() else 2)
    assert len(log_rows(db, log_type="Asset")) == 2


def test_updates_by_ids_read_their_rows_in_one_statement_within_the_keys_scope(api, db, keys, two_clients,
                                                                              monkeypatch):
    a, b, key_a = two_clients
    mine = [new_asset(db, a, f"Mine-{n}") for n in range(3)]
    theirs = [new_asset(db, b, f"Theirs-{n}") for n in range(2)]
    _, single = api.post("assets/update", {"asset_id": theirs[0], "asset_notes": "x"}, key=key_a)
    sent = _statements(db, monkeypatch)
    status, body = batch(api, key_a, [op("assets", "update", {"asset_notes": "n"},
                                         ids=[mine[0], theirs[0], mine[1], theirs[1], mine[2], MISSING_ID])])
    assert [i["success"] for i in body["data"]] == ["True", "False", "True", "False", "True", "False"]
    assert body["data"][1]["message"] == body["data"][3]["message"].replace(str(theirs[1]), str(theirs[0])) \
        == single["message"]
    reads = [s for s in sent if s.startswith("SELECT * FROM assets")]
    assert len(reads) == 1 and " IN (" in reads[0], reads
    assert {row["asset_name"]: row["asset_notes"] for row in fetch(db, "assets")} == {
        **{f"Mine-{n}": "n" for n in range(3)}, **{f"Theirs-{n}": "" for n in range(2)}}
    assert sorted(int(r["log_entity_id"]) for r in log_rows(db, log_type="Asset")) == mine


@pytest.mark.parametrize("shape, side_by_side", [
    ("creates", True),                 # assets: independent writes
    ("updates of distinct assets", True),
    ("one asset twice", False),        # the later item must see the earlier one's change
    ("contacts", False),               # a contact may take the primary flag from another
])
def test_groups_run_side_by_side_only_when_no_item_can_depend_on_another(app, api, db, all_key, make_client,
                                                                         monkeypatch, shape, side_by_side):
    import threading

    from itflow_api.lib.web import batch as batch_module
    client = make_client("Alpha")
    kept = [new_asset(db, client, f"Old-{n}") for n in range(6)]
    operations = {
        "creates": [op("assets", "create", {"asset_name": f"PC-{n}", "client_id": client}) for n in range(6)],
        "updates of distinct assets": [op("assets", "update", {"asset_status": "Deployed"}, ids=kept)],
        "one asset twice": [op("assets", "update", {"asset_id": kept[n % 3], "asset_status": f"S{n}"})
                            for n in range(6)],
        "contacts": [op("contacts", "create", {"contact_name": f"C{n}", "contact_email": f"c{n}@example.com",
                                                 "client_id": client}) for n in range(6)],
    }[shape]
    threads = []
    group = batch_module._Run._group

    def noted_group(run, items):
        threads.append(threading.current_thread().name)
        return group(run, items)

    monkeypatch.setattr(batch_module._Run, "_group", noted_group)
    monkeypatch.setattr(batch_module, "EACH_GROUP", 2)
    status, body = batch(api, all_key, operations)
    assert status == 200 and body["success"] == "True", body
    assert [item["index"] for item in body["data"]] == list(range(6))  # answers in item order
    apart = all(name.startswith("batch-group") for name in threads)
    assert len(threads) == 3 and apart == (side_by_side and db.dialect == "mysql"), threads
    if shape == "creates":
        created = {int(item["data"][0]["insert_id"]): f"PC-{item['index']}" for item in body["data"]}
        assert {int(row["asset_id"]): row["asset_name"] for row in fetch(db, "assets")
                if row["asset_name"].startswith("PC-")} == created
    if shape == "one asset twice":  # in order: the last item naming each asset wins
        assert {row["asset_name"]: row["asset_status"] for row in fetch(db, "assets")}["Old-0"] == "S3"


def test_held_back_rows_the_database_refuses_send_the_group_item_by_item(api, db, all_key, make_client,
                                                                          monkeypatch):
    from itflow_api.lib.db.errors import ValueRefused
    if not db.returns_inserted_ids():
        pytest.skip("this database does not hand back the ids of a multi-row INSERT")
    client = make_client("Alpha")
    rows, refused = db.rows, []

    def refuse_together(sql, params=None):
        if "RETURNING" in sql and sql.startswith("INSERT INTO assets") and "r1_asset_name" in (params or {}):
            refused.append(sql)
            raise ValueRefused("Data too long for column 'asset_name' (test)")
        return rows(sql, params)

    monkeypatch.setattr(db, "rows", refuse_together)
    status, body = batch(api, all_key, [op("assets", "create", {"asset_name": f"PC-{n}", "client_id": client})
                                        for n in range(3)])
    assert status == 200 and body["success"] == "True", body
    assert refused  # the group's rows were refused together, then each item ran on its own
    created = {int(item["data"][0]["insert_id"]): f"PC-{item['index']}" for item in body["data"]}
    assert {int(row["asset_id"]): row["asset_name"] for row in fetch(db, "assets")} == created
    assert sorted(int(r["log_entity_id"]) for r in log_rows(db, log_type="Asset")) == sorted(created)
