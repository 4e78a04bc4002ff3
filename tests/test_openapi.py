"""The OpenAPI 3.1 document: valid, complete for the route table, served without a key, printed
by the CLI, and the server's real answers match the schemas it declares."""
import json

import pytest
from helpers import insert, make_key
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from itflow_api.lib import cli
from itflow_api.lib.core import routing
from itflow_api.lib.web import openapi

ROUTES = routing.discover()


@pytest.fixture(scope="module")
def doc():
    return openapi.document(ROUTES)


def conforms(doc, name, body):
    """`body` is valid against components/schemas/<name> (refs resolved inside the document)."""
    Draft202012Validator({**doc, "$ref": f"#/components/schemas/{name}"}).validate(body)


def test_document_is_valid_openapi_3_1(doc):
    validate(doc)
    assert doc["openapi"] == "3.1.0"


def test_every_endpoint_and_method(doc):
    assert set(doc["paths"]) == set(ROUTES) | {openapi.BATCH_PATH}
    assert list(doc["paths"][openapi.BATCH_PATH]) == ["post"]
    for path, endpoint in ROUTES.items():
        operations = doc["paths"][path]
        assert list(operations) == [endpoint.method.lower()], path
        operation = operations[endpoint.method.lower()]
        assert operation["tags"] == [path.split("/")[3]]
        assert {"200", "400", "401", "403", "404", "405", "429", "503"} <= set(operation["responses"]), path
        if endpoint.method == "POST":
            assert "413" in operation["responses"]
    assert {t["name"] for t in doc["tags"]} == {p.split("/")[3] for p in ROUTES} | {"batch"}


def test_parameters_come_from_the_module_definitions(doc):
    for path, endpoint in ROUTES.items():
        module = getattr(endpoint, "module", None)
        operation = doc["paths"][path][endpoint.method.lower()]
        names = {p["name"] for p in operation.get("parameters", [])}
        if endpoint.method == "GET" and module is not None:
            assert {lk.param for lk in module.lookups} <= names, path
            assert {"limit", "offset", "filter", "sort", "order", "fields"} <= names, path
        elif endpoint.method == "POST" and module is not None:
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            assert "api_key" in body["properties"]
            if path.endswith("/create.php"):
                assert set(module.required) <= set(body["required"]), path
                assert {f.name for f in module.fields} <= set(body["properties"]), path
            elif not path.endswith("/create.php") and not path.endswith("update.php"):
                # the record's id, then what an action on it takes besides (tickets/assign's
                # assignee, add_watcher's addresses, documents/move's folder_id)
                declared = getattr(endpoint, "body_fields", ())
                own = declared.items() if isinstance(declared, dict) else \
                    [(f.name, (None, None, f.required)) for f in declared]
                assert {name for name, _ in own} <= set(body["properties"]), path
                id_name = getattr(endpoint, "id_param", module.id_column)
                assert body["required"] == [id_name] + [n for n, (_, _, needed) in own
                                                        if needed and n != id_name], path
    create = doc["paths"]["/api/v1/clients/create.php"]["post"]["requestBody"]["content"]["application/json"]
    props = create["schema"]["properties"]
    assert props["client_name"]["type"] == "string" and props["client_name"]["maxLength"] == 200
    assert props["client_rate"]["type"] == "number"
    assert props["client_net_terms"]["type"] == "integer"
    assert create["schema"]["required"] == ["client_name"]
    read = doc["paths"]["/api/v1/assets/read.php"]["get"]
    asset_id = next(p for p in read["parameters"] if p["name"] == "asset_id")
    assert asset_id["schema"]["type"] == "integer"
    time = {p["name"] for p in doc["paths"]["/api/v1/technicians/time.php"]["get"]["parameters"]}
    assert {"year", "month", "technician_id", "limit", "offset"} <= time


def test_keys_and_decrypt_password(doc):
    schemes = doc["components"]["securitySchemes"]
    assert schemes["ApiKeyQuery"] == {**schemes["ApiKeyQuery"], "type": "apiKey", "in": "query", "name": "api_key"}
    assert (schemes["ApiKeyHeader"]["in"], schemes["ApiKeyHeader"]["name"]) == ("header", "X-API-KEY")
    assert (schemes["Bearer"]["type"], schemes["Bearer"]["scheme"]) == ("http", "bearer")
    read = doc["paths"]["/api/v1/credentials/read.php"]["get"]
    assert {"X-API-Decrypt-Password", "api_key_decrypt_password"} <= {p["name"] for p in read["parameters"]}
    create = doc["paths"]["/api/v1/credentials/create.php"]["post"]
    assert "api_key_decrypt_password" in create["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert "X-API-Decrypt-Password" in {p["name"] for p in create["parameters"]}


def test_examples_match_their_schemas(doc):
    for response in doc["components"]["responses"].values():
        for example in response["content"]["application/json"]["examples"].values():
            conforms(doc, "Failure", example["value"])
    conforms(doc, "ReadOk", openapi.EXAMPLES["read"])
    conforms(doc, "Created", openapi.EXAMPLES["created"])
    conforms(doc, "Changed", openapi.EXAMPLES["changed"])


def test_served_without_a_key_and_printed_by_the_cli(app, capsys):
    from falcon import testing
    result = testing.TestClient(app).simulate_get("/api/v1/openapi.json")
    assert result.status_code == 200 and result.headers["content-type"].startswith("application/json")
    served = json.loads(result.text)
    settings = app.service.settings
    assert served == json.loads(json.dumps(openapi.document(app.routes, settings.max_limit, settings.max_body_bytes,
                                                             served["info"]["version"], settings.max_batch,
                                                             settings.max_batch_bytes)))
    assert cli.main(["openapi"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["paths"].keys() == served["paths"].keys()


def test_real_answers_match_the_document(api, db, keys, all_key, doc):
    client_id = insert(db, "clients", client_name="Acme")
    key = make_key(keys, client_id=client_id)
    checks = [
        ("ReadOk", api.get("clients/read", key=all_key)),
        ("Read_clients", api.get("clients/read", key=all_key)),
        ("Failure", api.get("assets/read", key=key)),                                    # nothing found
        ("Failure", api.get("assets/read", key=key, filter="nope==1")),                  # bad filter
        ("Created", api.post("assets/create", {"asset_name": "PC"}, key=key)),
        ("Changed", api.post("clients/update", {"client_id": client_id, "client_notes": "VIP"}, key=all_key)),
        ("BatchAnswer", api.post("batch", {"atomic": True, "operations": [
            {"module": "assets", "function": "create", "body": {"asset_name": "PC-02"}},
            {"module": "assets", "function": "delete", "ids": [999999]}]}, key=key)),  # item 1 fails, 0 undone
        ("Failure", api.get("clients/read")),                                            # 401 no key
        ("Failure", api.get("clients/read", key="wrong")),                               # 401
        ("Failure", api.post("clients/create", raw="{not json", key=None,
                             headers={"X-API-KEY": all_key})),                          # 400
        ("Failure", api.request("GET", "/api/v1/nope/read.php")),                        # 404
        ("Failure", api.request("POST", "/api/v1/clients/read.php")),                    # 405
    ]
    statuses = []
    for schema_name, (status, body) in checks:
        conforms(doc, schema_name, body)
        statuses.append(status)
    assert statuses == [200, 200, 200, 200, 200, 200, 200, 401, 401, 400, 404, 405]
    batch = checks[6][1][1]
    assert batch["success"] == "False" and batch["data"][0]["rolled_back"] is True
    documented = doc["paths"]["/api/v1/clients/read.php"]["get"]["responses"]
    assert all(str(s) in documented for s in statuses)


def _walk(node):
    """Every dict inside the document."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_shapes_the_client_generators_take(doc):
    # openapi-python-client drops a schema with an array that has no items, and every answer
    # that names it; allOf overlays lose their row types in both generators.
    for node in _walk(doc):
        if node.get("type") == "array":
            assert "items" in node, node
        assert "allOf" not in node and "anyOf" not in node, node
    unions = [node["oneOf"] for node in _walk(doc) if "oneOf" in node]
    assert unions and all(len(u) == 2 and u[1] == {"$ref": "#/components/schemas/Failure"} for u in unions)
    schemas = doc["components"]["schemas"]
    assert schemas["Read_assets"]["properties"]["data"]["items"] == {"$ref": "#/components/schemas/Row_assets"}
    assert "asset_name" in schemas["Row_assets"]["properties"]


def test_the_envelope_shapes_are_told_apart(doc):
    from jsonschema import ValidationError
    created, changed, read = openapi.EXAMPLES["created"], openapi.EXAMPLES["changed"], openapi.EXAMPLES["read"]
    failure = openapi.EXAMPLES["nothing_found"]
    wrong = [("Created", {**created, "count": 1}),              # a create's count is the string "1"
             ("Changed", {**changed, "count": "1"}),            # an update's is an integer
             ("ReadOk", {**read, "success": True}),             # success is a string, not a boolean
             ("Failure", {**failure, "success": "True"}),
             ("Read_clients", failure), ("Failure", read), ("Failure", {**failure, "data": [{"a": "b"}]})]
    for name, body in wrong:
        with pytest.raises(ValidationError):
            conforms(doc, name, body)


def _headers(operation, status="200"):
    return set(operation["responses"][status].get("headers", {}))


def test_opt_in_headers_and_parameters(doc):
    for path, endpoint in ROUTES.items():
        operation = doc["paths"][path][endpoint.method.lower()]
        names = {p["name"] for p in operation["parameters"]}
        function = path.split("/")[4][:-len(".php")]
        if endpoint.method == "POST":
            assert "Idempotency-Key" in names and {"409", "422"} <= set(operation["responses"]), path
            assert "Idempotent-Replayed" in _headers(operation), path
            conditional = getattr(endpoint, "module", None) is not None and function in (
                "update", "delete", "archive", "unarchive")
            assert ({"If-Match", "If-Unmodified-Since"} <= names) == conditional, path
            assert ("412" in operation["responses"]) == conditional, path
            if conditional:
                assert "ETag" in _headers(operation, "412")
        else:
            assert "If-None-Match" in names and "ETag" in _headers(operation), path
            assert "content" not in operation["responses"]["304"], path
            if getattr(endpoint, "module", None) is not None:
                assert {"cursor", "total"} <= names, path
                assert {"X-Next-Cursor", "X-Total-Count"} <= _headers(operation), path
    assets = doc["paths"]["/api/v1/assets/read.php"]["get"]
    assert "asset_updated_at" in assets["responses"]["200"]["headers"]["Last-Modified"]["description"]
    assert "Last-Modified" not in _headers(doc["paths"]["/api/v1/events/read.php"]["get"])  # not a record
    cursor = next(p for p in assets["parameters"] if p["name"] == "cursor")
    assert "" in cursor["schema"]["examples"]   # an empty cursor starts cursor mode


def test_batch_endpoint(doc):
    batch = doc["paths"][openapi.BATCH_PATH]["post"]
    assert batch["operationId"] == "batch" and "Idempotency-Key" in {p["name"] for p in batch["parameters"]}
    assert {"200", "400", "401", "409", "413", "422", "429", "503"} <= set(batch["responses"])
    request = batch["requestBody"]["content"]["application/json"]
    for example in request["examples"].values():
        conforms(doc, "BatchRequest", example["value"])
    answer = batch["responses"]["200"]["content"]["application/json"]
    assert answer["schema"] == {"$ref": "#/components/schemas/BatchAnswer"}
    for example in answer["examples"].values():
        conforms(doc, "BatchAnswer", example["value"])
        for item in example["value"]["data"]:
            conforms(doc, "BatchItem", item)
    from jsonschema import ValidationError
    with pytest.raises(ValidationError):  # an operation names its module and function
        conforms(doc, "BatchRequest", {"operations": [{"module": "assets"}]})
    with pytest.raises(ValidationError):
        conforms(doc, "BatchRequest", {"operations": []})
    settings_doc = openapi.document(ROUTES, max_batch=5, max_batch_bytes=2048)
    with pytest.raises(ValidationError):  # an operation has only module, function, body and ids
        conforms(doc, "BatchRequest", {"operations": [{"module": "assets", "function": "read", "limit": 5}]})
    responses = settings_doc["paths"][openapi.BATCH_PATH]["post"]["responses"]
    assert "5 items" in responses["400"]["description"] and "2048 bytes" in responses["413"]["description"]


def test_new_examples_match_their_schemas(doc):
    for name in ("idempotency_running", "idempotency_other_body", "bad_idempotency_key", "bad_cursor", "bad_etag"):
        conforms(doc, "Failure", openapi.EXAMPLES[name])
    conforms(doc, "PreconditionFailed", openapi.EXAMPLES["precondition_failed"])
    update = doc["paths"]["/api/v1/assets/update.php"]["post"]["responses"]
    for status in ("409", "422"):
        for example in update[status]["content"]["application/json"]["examples"].values():
            conforms(doc, "Failure", example["value"])


def test_every_example_matches_its_answer_schema(doc):
    checked = 0
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                if "$ref" in response:
                    response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
                content = response.get("content", {}).get("application/json")
                if content is None:
                    assert status == "304", (path, status)
                    continue
                for example in content.get("examples", {}).values():
                    Draft202012Validator({**doc, **content["schema"]}).validate(example["value"])
                    checked += 1
    assert checked > 1000
