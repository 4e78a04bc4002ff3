"""Schemathesis against a live server on SQLite: a few generated requests per operation of the
served OpenAPI document, with a valid key. No answer may be a 5xx, and every answer must match
the document (a documented status, JSON, the declared envelope schema).

Bounded: MAX_EXAMPLES per operation, valid and invalid data (about 500 requests, some 35 s
here), no shrinking, a fixed seed.
Runs on the SQLite backend only (the document and the server code are the same on both; the
filter tests cover MariaDB)."""
import json

import pytest
from helpers import BACKEND, SECRET, fresh_config, insert, make_key, serving

if BACKEND != "sqlite":
    pytest.skip("schemathesis runs against the SQLite backend", allow_module_level=True)
schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, settings  # noqa: E402  (after the skip)
from schemathesis import checks  # noqa: E402

from itflow_api.lib.access.keys import KeyStore  # noqa: E402
from itflow_api.lib.core import routing  # noqa: E402
from itflow_api.lib.db.database import Database  # noqa: E402
from itflow_api.lib.web import openapi  # noqa: E402
from itflow_api.lib.web.app import create_app  # noqa: E402
from itflow_api.lib.web.config import Config  # noqa: E402

MAX_EXAMPLES = 6
SENT = []  # (method, path, status) of every generated request
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance, checks.response_headers_conformance]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A waitress server on its own fresh database, with a few records and an all-clients key."""
    with fresh_config(tmp_path_factory.mktemp("schemathesis")) as config:
        if hasattr(config, "limits"):
            config.limits.enabled = False  # the random wrong keys in bodies would soon be answered 429
        db = Database.from_config(config.database)
        db.create_schema()
        client = insert(db, "clients", client_name="Acme")
        insert(db, "assets", asset_name="PC-01", asset_client_id=client)
        insert(db, "contacts", contact_name="Ann", contact_email="ann@example.com", contact_client_id=client)
        keys = KeyStore(db, SECRET.encode())
        key = make_key(keys)
        with serving(create_app(config, db, keys)) as base:
            yield {"base": base, "key": key}
            db.close()


# The document as the server serves it (test_openapi checks that the two are the same). Built
# here rather than fetched through schemathesis.pytest.from_fixture, which fails on pytest 9.
# Examples and fuzzing, with valid and with invalid data (wrong types, missing required
# fields: refused with 200 "False" or 400, never a 5xx). Not the coverage phase: it alone
# sends some 9,000 boundary requests.
schema = schemathesis.openapi.from_dict(
    json.loads(openapi.encoded(routing.discover(), Config().server)),
    config=schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": False}},
                                          "generation": {"mode": "all"}}))


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
def test_answers_match_the_document(case, live):
    response = case.call(base_url=live["base"], headers={"X-API-KEY": live["key"]}, timeout=10)
    SENT.append((case.method, case.path, response.status_code))
    case.validate_response(response, checks=CHECKS)


def test_the_run_was_real_and_bounded():
    if not SENT:
        pytest.skip("run together with test_answers_match_the_document")
    documented = {(m.upper(), p) for p, ops in schema.raw_schema["paths"].items() for m in ops}
    sent = {(method, path) for method, path, _ in SENT}
    statuses = {status for *_, status in SENT}
    print(f"schemathesis: {len(SENT)} requests, {len(sent & documented)} of {len(documented)} operations, "
          f"{len(sent - documented)} wrong-method probes, statuses {sorted(statuses)}")
    assert documented <= sent
    assert 200 in statuses and all(status < 500 for status in statuses), statuses
