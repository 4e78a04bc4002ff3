"""The HTTP contract every endpoint shares: routing, methods, parsing, auth and envelope."""
from datetime import date, timedelta

import pytest
from helpers import log_rows, make_key, one

from itflow_api.lib.access.keys import HASH_PREFIX
from itflow_api.lib.core import envelope

NO_RESOURCE = {"success": "False",
               "message": "No resource (for this client and company) with the specified parameter(s).",
               "count": 0, "data": []}


def test_empty_database_read_answers_the_exact_no_resource_envelope(api, all_key):
    result = api.client.simulate_get("/api/v1/clients/read.php", params={"api_key": all_key})
    assert result.status_code == 200
    assert result.headers["content-type"] == "application/json"
    assert result.text == ('{"success":"False","message":"No resource (for this client and company) '
                           'with the specified parameter(s).","count":0,"data":[]}')


def test_unknown_endpoint_is_a_404_envelope(api, all_key):
    for path in ("/api/v1/nothing/read.php", "/api/v1/clients/explode.php", "/api/v2/clients/read.php", "/"):
        status, body = api.request("GET", path, params={"api_key": all_key})
        assert status == 404
        assert body["success"] == "False" and body["count"] == 0 and body["data"] == []
        assert "Unknown endpoint" in body["message"]


def test_every_endpoint_refuses_the_wrong_method_with_405_and_allow(api, app, all_key):
    assert len(app.routes) >= 6
    for path, endpoint in app.routes.items():
        wrong = "POST" if endpoint.method == "GET" else "GET"
        for method in (wrong, "PUT", "DELETE", "PATCH", "OPTIONS"):
            result = api.client.simulate_request(method, path, params={"api_key": all_key})
            assert result.status_code == 405, (method, path)
            assert result.headers["allow"] == endpoint.method
            assert result.json == {"success": "False", "count": 0, "data": [],
                                   "message": f"Can only send {endpoint.method} requests to this endpoint."}


def test_missing_key_is_401_envelope_without_log(api, db):
    status, body = api.get("clients/read")
    assert status == 401
    assert body["success"] == "False" and "api_key" in body["message"]
    assert log_rows(db) == []


def test_wrong_key_is_401_with_itflow_message_and_failed_log(api, db):
    status, body = api.get("clients/read", key="not-a-key", headers={"User-Agent": "probe/1.0"})
    assert status == 401
    assert body == envelope.failure("Authentication failed. API key is invalid or has expired.")
    rows = log_rows(db, log_type="API", log_action="Failed")
    assert len(rows) == 1
    assert rows[0]["log_description"] == "Incorrect or expired key (endpoint: /api/v1/clients/read.php)"
    assert rows[0]["log_user_agent"] == "probe/1.0"
    assert rows[0]["log_ip"]
    assert "not-a-key" not in str(rows[0])


@pytest.mark.parametrize("days, works", [(-1, False), (0, False), (1, True)])
def test_key_expires_at_midnight_of_its_expiry_date(api, keys, days, works):
    key = make_key(keys, expire=(date.today() + timedelta(days=days)).isoformat())
    status, _ = api.get("clients/read", key=key)
    assert (status == 200) is works


def test_keys_we_create_are_stored_only_as_hashes(db, keys):
    key = make_key(keys)
    with db.transaction():
        stored = db.rows("SELECT api_key_secret FROM api_keys")
    assert len(stored) == 1
    assert stored[0]["api_key_secret"].startswith(HASH_PREFIX)
    assert key not in stored[0]["api_key_secret"]


def test_clear_text_keys_written_by_itflow_keep_working(api, db):
    with db.transaction(write=True):
        db.insert("api_keys", {"api_key_name": "from ITFlow", "api_key_secret": "ITFlowPlainKey1234567890abcdefgh",
                               "api_key_decrypt_hash": "", "api_key_client_id": 0,
                               "api_key_expire": (date.today() + timedelta(days=5)).isoformat()})
    assert api.get("clients/read", key="ITFlowPlainKey1234567890abcdefgh")[0] == 200
    # Compared exactly: a different case or a prefix is not the key.
    assert api.get("clients/read", key="itflowplainkey1234567890abcdefgh")[0] == 401
    assert api.get("clients/read", key="ITFlowPlainKey")[0] == 401


def test_key_from_headers(api, all_key):
    assert api.get("clients/read", headers={"X-API-KEY": all_key})[0] == 200
    assert api.get("clients/read", headers={"Authorization": f"Bearer {all_key}"})[0] == 200
    assert api.get("clients/read", headers={"Authorization": "Bearer wrong"})[0] == 401


def test_body_key_wins_over_query_key(api, all_key):
    status, _ = api.post("clients/create", {"client_name": "Body wins"}, key=all_key, query={"api_key": "wrong"})
    assert status == 200
    status, _ = api.post("clients/create", {"client_name": "Body loses"}, key="wrong", query={"api_key": all_key})
    assert status == 401


def test_invalid_json_is_400_and_writes_nothing(api, db, all_key):
    status, body = api.post("clients/create", raw='{"client_name": "x",', headers={"X-API-KEY": all_key,
                                                                                  "Content-Type": "application/json"})
    assert status == 400 and "not valid JSON" in body["message"]
    status, body = api.post("clients/create", raw='["a list"]', headers={"X-API-KEY": all_key})
    assert status == 400 and "JSON object" in body["message"]
    with db.transaction():
        assert db.count("clients", {}) == 0


def test_form_encoded_body_is_accepted(api, all_key):
    status, body = api.post("clients/create", raw=f"api_key={all_key}&client_name=Form+Co",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, body["success"]) == (200, "True")


def test_oversized_body_is_413(api, db, all_key):
    status, body = api.post("clients/create", {"client_name": "x" * 70_000}, key=all_key)
    assert status == 413 and "larger than" in body["message"]
    with db.transaction():
        assert db.count("clients", {}) == 0


@pytest.mark.parametrize("params, name", [({"offset": "-1"}, "offset"), ({"limit": "-5"}, "limit")])
def test_negative_paging_is_refused_with_200_naming_it(api, all_key, make_client, params, name):
    # Section 2: ITFlow sends a negative limit/offset into SQL and answers an empty 500;
    # ours is a 200 "False" naming the parameter (section 4: no 4xx after authentication).
    make_client("Paged")
    status, body = api.get("clients/read", key=all_key, **params)
    assert (status, body["success"], body["count"], body["data"]) == (200, "False", 0, [])
    assert f"'{name}'" in body["message"]


@pytest.mark.parametrize("limit", ["", "abc", "0", "0.9", "-0"])
def test_an_empty_non_numeric_or_zero_limit_finds_nothing_as_in_itflow(api, all_key, make_client, limit):
    # Section 2: ITFlow's intval() makes these LIMIT 0 (validate_api_key.php:100-106), which
    # answers "No resource" (HTTP 200), whatever there is to read.
    make_client("Paged")
    status, body = api.get("clients/read", key=all_key, limit=limit)
    assert (status, body["success"], body["message"]) == (200, "False", envelope.NO_RESOURCE)


def test_a_limit_with_trailing_text_reads_its_leading_number(api, all_key, make_client):
    make_client("A")
    make_client("B")
    status, body = api.get("clients/read", key=all_key, limit="1x")
    assert (status, body["count"]) == (200, 1)


def test_paging_reads_numbers_as_php_intval_does(api, all_key, make_client):
    ids = [make_client(f"C{i}") for i in range(3)]
    status, body = api.get("clients/read", key=all_key, limit=" 2", offset="1.5")
    assert status == 200 and [r["client_id"] for r in body["data"]] == [str(ids[1]), str(ids[2])]


@pytest.mark.parametrize("value, stored", [
    (30, "30"), ("30", "30"), (" 30", "30"), ("30 days", "30"), ("", "0"), (True, "1"), (False, "0"), (30.9, "30"),
])
def test_integer_fields_read_values_as_php_intval(api, db, all_key, value, stored):
    status, body = api.post("clients/create", {"client_name": "Net", "client_net_terms": value}, key=all_key)
    assert (status, body["success"]) == (200, "True"), body
    assert one(db, "clients", client_id=body["data"][0]["insert_id"])["client_net_terms"] == stored


@pytest.mark.parametrize("value, stored", [("thirty", "0"), ("abc12", "0"), ([30], "30"), (["30", "45"], "30"),
                                           ([], "0")])
def test_integer_fields_store_what_itflow_stores_and_say_so(api, db, all_key, value, stored):
    # Section 2: intval("thirty") is 0 in ITFlow (clients/client_model.php); a list gives its
    # first element (ITFlow: intval of an array, 1). Either is stored, and the answer's
    # message names the field; ITFlow's keys are all there as ITFlow sends them.
    status, body = api.post("clients/create", {"client_name": "Lenient", "client_net_terms": value}, key=all_key)
    assert (status, body["success"], body["count"]) == (200, "True", "1"), body
    assert list(body) == ["success", "count", "data", "message"]
    assert body["message"].startswith("Created; client_net_terms")
    assert one(db, "clients", client_id=body["data"][0]["insert_id"])["client_net_terms"] == stored


@pytest.mark.parametrize("value", [{"n": 30}, 2 ** 40, "99999999999999999999999", [[30]]])
def test_integer_fields_refuse_objects_and_values_out_of_range(api, db, all_key, value):
    status, body = api.post("clients/create", {"client_name": "Bad", "client_net_terms": value}, key=all_key)
    assert (status, body["success"]) == (200, "False") and "client_net_terms" in body["message"]
    with db.transaction():
        assert db.count("clients", {}) == 0


def test_a_list_for_a_text_field_stores_its_first_value_and_says_so(api, db, all_key):
    status, body = api.post("clients/create", {"client_name": ["Acme", "Acme Ltd"]}, key=all_key)
    assert (status, body["success"]) == (200, "True")
    assert body["message"] == "Created; client_name was sent as a list of 2; its first value 'Acme' was stored."
    assert one(db, "clients", client_id=body["data"][0]["insert_id"])["client_name"] == "Acme"


def test_an_empty_list_is_an_empty_value(api, db, all_key):
    status, body = api.post("clients/create", {"client_name": []}, key=all_key)
    assert (status, body["success"]) == (200, "False") and "client_name" in body["message"]  # required


def test_a_write_with_nothing_to_note_keeps_itflows_envelope(api, all_key):
    status, body = api.post("clients/create", {"client_name": "Plain", "client_net_terms": "30"}, key=all_key)
    assert list(body) == ["success", "count", "data"]


@pytest.mark.parametrize("value, stored", [("abc", "0.00"), ("12abc", "12.00"), (" 7.5", "7.50"), ("", "0.00"),
                                           ("1e2", "100.00")])
def test_decimal_fields_read_as_php_floatval(api, db, all_key, value, stored):
    # clients/client_model.php reads client_rate with floatval.
    status, body = api.post("clients/create", {"client_name": "Rate", "client_rate": value}, key=all_key)
    assert (status, body["success"]) == (200, "True"), body
    assert one(db, "clients", client_id=body["data"][0]["insert_id"])["client_rate"] == stored


def test_limit_offset_page_through_rows_in_id_order(api, all_key, make_client):
    ids = [make_client(f"C{i}") for i in range(5)]
    status, body = api.get("clients/read", key=all_key, limit=2, offset=1)
    assert status == 200 and body["count"] == 2
    assert [r["client_id"] for r in body["data"]] == [str(ids[1]), str(ids[2])]
    # limit/offset may also come from a JSON body on a GET.
    result = api.client.simulate_get("/api/v1/clients/read.php", params={"api_key": all_key},
                                     json={"limit": 1, "offset": 4})
    assert [r["client_id"] for r in result.json["data"]] == [str(ids[4])]


def test_null_means_not_given(api, all_key):
    status, body = api.post("clients/create", {"client_name": None}, key=all_key)
    assert body["success"] == "False" and "client_name" in body["message"]


def test_unexpected_errors_are_a_500_envelope_without_details(api, app, all_key, monkeypatch):
    endpoint = app.routes["/api/v1/clients/read.php"]

    def explode(call):
        raise RuntimeError("secret internals")
    monkeypatch.setattr(type(endpoint), "__call__", lambda self, call: explode(call))
    status, body = api.get("clients/read", key=all_key)
    assert status == 500
    assert "secret internals" not in body["message"] and "reference" in body["message"]


def test_a_value_longer_than_its_column_is_refused_naming_it(api, db, all_key):
    status, body = api.post("clients/create", {"client_name": "x" * 201}, key=all_key)
    assert (status, body["success"]) == (200, "False")
    assert "client_name" in body["message"] and "200" in body["message"]
    assert api.post("clients/create", {"client_name": "x" * 200}, key=all_key)[1]["success"] == "True"
    with db.transaction():
        assert db.count("clients", {}) == 1


def test_secrets_never_reach_the_server_log(api, app, all_key, monkeypatch, caplog):
    endpoint = app.routes["/api/v1/clients/read.php"]
    monkeypatch.setattr(type(endpoint), "__call__", lambda self, call: 1 / 0)
    with caplog.at_level("DEBUG"):
        api.get("clients/read", key=all_key, api_key_decrypt_password="hunter2-secret")
    assert caplog.records, "the failure should be logged"
    assert all_key not in caplog.text and "hunter2-secret" not in caplog.text
