"""Clients generated from the served OpenAPI document work: openapi-python-client builds a typed
Python client without a warning, and its calls against a real running server come back as the
document's models (a create, a read by id, a list, refusals); openapi-typescript builds types
without a warning that TypeScript's compiler holds real answers to. Each generator is skipped,
with the reason, where it is not installed."""
import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import urllib.request

import pytest
from helpers import insert, make_key, serving

GENERATOR_TIMEOUT = 300


@pytest.fixture
def live(app):
    with serving(app) as base:
        yield base


def _served_document(base, folder):
    with urllib.request.urlopen(f"{base}/api/v1/openapi.json", timeout=30) as answer:
        body = answer.read()
    path = folder / "openapi.json"
    path.write_bytes(body)
    return path


def _call(base, path, key, body=None):
    """A raw call, for answers the TypeScript check holds to the generated types."""
    request = urllib.request.Request(f"{base}{path}", headers={"X-API-KEY": key, "Content-Type": "application/json"},
                                     data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def _no_warnings(result):
    said = result.stdout + result.stderr
    assert result.returncode == 0, said
    assert "warn" not in said.lower() and "error" not in said.lower(), said


# --- openapi-python-client ------------------------------------------------------------------

def _python_client(spec, folder):
    if importlib.util.find_spec("openapi_python_client") is None:
        pytest.skip("openapi-python-client is not installed (the test extra installs it on Python 3.11+: "
                    "pip install 'itflow-api[test]')")
    config = folder / "generator.yml"
    config.write_text("post_hooks: []\n")  # no formatter run: the test needs none installed
    out = folder / "itflow_generated_client"
    result = subprocess.run([sys.executable, "-m", "openapi_python_client", "generate", "--path", str(spec),
                             "--output-path", str(out), "--meta", "none", "--config", str(config), "--overwrite"],
                            capture_output=True, text=True, timeout=GENERATOR_TIMEOUT)
    _no_warnings(result)
    sys.path.insert(0, str(folder))
    try:
        importlib.invalidate_caches()
        return importlib.import_module("itflow_generated_client")
    finally:
        sys.path.remove(str(folder))


@pytest.fixture
def generated(tmp_path):
    yield tmp_path
    for name in [m for m in sys.modules if m == "itflow_generated_client" or m.startswith("itflow_generated_client.")]:
        del sys.modules[name]


def test_python_client_creates_reads_and_lists_as_models(live, generated, db, keys):
    package = _python_client(_served_document(live, generated), generated)
    models = importlib.import_module("itflow_generated_client.models")
    create = importlib.import_module("itflow_generated_client.api.assets.assets_create")
    read = importlib.import_module("itflow_generated_client.api.assets.assets_read")
    update = importlib.import_module("itflow_generated_client.api.assets.assets_update")

    client_id = insert(db, "clients", client_name="Acme")
    client = package.AuthenticatedClient(base_url=live, token=make_key(keys, client_id=client_id))

    made = [create.sync(client=client, body=models.AssetsCreateBody(asset_name=name, asset_make="Dell"))
            for name in ("PC-01", "PC-02")]
    assert all(isinstance(m, models.Created) for m in made), made
    assert [m.count for m in made] == ["1", "1"]                       # the string "1", as ITFlow answers
    first_id, second_id = (m.data[0].insert_id for m in made)
    assert isinstance(first_id, int) and second_id > first_id

    one = read.sync(client=client, asset_id=first_id)
    assert isinstance(one, models.ReadAssets), one
    assert one.success == "True" and one.count == 1
    row = one.data[0]
    assert isinstance(row, models.RowAssets)
    assert (row.asset_id, row.asset_name, row.asset_make, row.asset_client_id) == (
        str(first_id), "PC-01", "Dell", str(client_id))

    listed = read.sync(client=client, sort="-asset_id", limit=10)
    assert isinstance(listed, models.ReadAssets) and listed.count == 2
    assert [r.asset_name for r in listed.data] == ["PC-02", "PC-01"]

    changed = update.sync(client=client, body=models.AssetsUpdateBody(asset_id=second_id, asset_make="HP"))
    assert isinstance(changed, models.Changed) and changed.count == 1

    # Opt-in extras through the generated client: Idempotency-Key as a keyword, a batch as models.
    once = [create.sync(client=client, body=models.AssetsCreateBody(asset_name="PC-03"), idempotency_key="pc-03")
            for _ in range(2)]
    assert all(isinstance(m, models.Created) for m in once) and once[0].data[0].insert_id == once[1].data[0].insert_id
    batch = importlib.import_module("itflow_generated_client.api.batch.batch")
    answer = batch.sync(client=client, body=models.BatchRequest(operations=[
        models.BatchOperation(module="assets", function="update", ids=[first_id, second_id],
                              body=models.BatchOperationBody.from_dict({"asset_model": "T14"})),
        models.BatchOperation(module="assets", function="read",
                              body=models.BatchOperationBody.from_dict({"asset_id": first_id}))]))
    assert isinstance(answer, models.BatchAnswer) and answer.success == models.BatchAnswerSuccess.TRUE
    assert [(i.index, i.function, i.status, i.count) for i in answer.data] == [
        (0, "update", 200, 1), (1, "update", 200, 1), (2, "read", 200, 1)]
    assert answer.data[2].data[0]["asset_model"] == "T14"

    # Refusals come back as the Failure model, whether HTTP 200 (ITFlow's way) or 401.
    missing = read.sync(client=client, asset_id=second_id + 1000)
    assert isinstance(missing, models.Failure) and missing.success == "False" and missing.data == []
    assert missing.message
    outsider = package.AuthenticatedClient(base_url=live, token="not-a-key")
    detailed = read.sync_detailed(client=outsider, asset_id=first_id)
    assert detailed.status_code == 401 and isinstance(detailed.parsed, models.Failure)


# --- openapi-typescript ---------------------------------------------------------------------

def _openapi_typescript(folder):
    """(openapi-typescript, tsc) commands: $OPENAPI_TYPESCRIPT_PREFIX (an npm prefix that has both),
    or installed with npm into a temporary prefix."""
    prefix = os.environ.get("OPENAPI_TYPESCRIPT_PREFIX")
    if not prefix:
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed (openapi-typescript is an npm package; or set "
                        "OPENAPI_TYPESCRIPT_PREFIX to an npm prefix with openapi-typescript and typescript)")
        prefix = str(folder / "npm")
        result = subprocess.run([npm, "install", "--prefix", prefix, "--no-audit", "--no-fund",
                                 "openapi-typescript@7", "typescript@5"],
                                capture_output=True, text=True, timeout=GENERATOR_TIMEOUT)
        if result.returncode != 0:
            pytest.skip(f"npm could not install openapi-typescript (offline?): {result.stderr.strip()[-300:]}")
    binaries = os.path.join(prefix, "node_modules", ".bin")
    return os.path.join(binaries, "openapi-typescript"), os.path.join(binaries, "tsc")


def test_typescript_types_hold_real_answers(live, tmp_path, db, keys):
    generator, tsc = _openapi_typescript(tmp_path)
    spec = _served_document(live, tmp_path)
    result = subprocess.run([generator, str(spec), "-o", str(tmp_path / "api.d.ts")],
                            capture_output=True, text=True, timeout=GENERATOR_TIMEOUT)
    _no_warnings(result)

    client_id = insert(db, "clients", client_name="Acme")
    key = make_key(keys, client_id=client_id)
    created = _call(live, "/api/v1/assets/create.php", key, {"asset_name": "PC-01"})
    asset_id = created["data"][0]["insert_id"]
    one = _call(live, f"/api/v1/assets/read.php?asset_id={asset_id}", key)
    listed = _call(live, "/api/v1/assets/read.php?limit=5", key)
    missing = _call(live, f"/api/v1/assets/read.php?asset_id={asset_id + 1000}", key)
    changed = _call(live, "/api/v1/assets/update.php", key, {"asset_id": asset_id, "asset_make": "HP"})
    assert (created["count"], one["count"], missing["success"], changed["count"]) == ("1", 1, "False", 1)

    (tmp_path / "check.ts").write_text(f"""
import type {{ components, paths }} from "./api";
type S = components["schemas"];
type ReadAnswer = paths["/api/v1/assets/read.php"]["get"]["responses"][200]["content"]["application/json"];
type CreateAnswer = paths["/api/v1/assets/create.php"]["post"]["responses"][200]["content"]["application/json"];
type UpdateAnswer = paths["/api/v1/assets/update.php"]["post"]["responses"][200]["content"]["application/json"];

const created: CreateAnswer = {json.dumps(created)};
const one: ReadAnswer = {json.dumps(one)};
const listed: ReadAnswer = {json.dumps(listed)};
const missing: ReadAnswer = {json.dumps(missing)};
const changed: UpdateAnswer = {json.dumps(changed)};
const batch: S["BatchAnswer"] = {{success: "True", message: "", count: 1,
  data: [{{index: 0, module: "assets", function: "create", status: 200, success: "True", count: "1",
           data: [{{insert_id: 1}}]}}]}};

// success tells the answers apart, and a record's columns are typed.
function describe(answer: ReadAnswer): string {{
  if (answer.success === "True") {{
    const name: string | null | undefined = answer.data[0].asset_name;
    const count: number = answer.count;
    return `${{count}} ${{name}}`;
  }}
  const message: string = answer.message;
  return message;
}}
const insertId: number = (created as S["Created"]).data[0].insert_id;

// @ts-expect-error a create's count is the string "1", never the number
const wrongCount: S["Created"] = {{success: "True", count: 1, data: [{{insert_id: 1}}]}};
// @ts-expect-error success is the string "True" or "False", never a boolean
const wrongSuccess: S["Changed"] = {{success: true, count: 1}};
// @ts-expect-error a refusal says "False"
const wrongFailure: S["Failure"] = {{success: "True", message: "", count: 0, data: []}};

void [describe(one), describe(missing), listed, changed, batch, insertId];
void [wrongCount, wrongSuccess, wrongFailure];
""")
    checked = subprocess.run([tsc, "--noEmit", "--strict", "--skipLibCheck", "--target", "es2020",
                              "--moduleResolution", "node", str(tmp_path / "check.ts")],
                             capture_output=True, text=True, timeout=GENERATOR_TIMEOUT)
    assert checked.returncode == 0, checked.stdout + checked.stderr
