"""The Idempotency-Key header (lib/web/idempotency.py): a POST sent again gets the first answer
again, byte for byte, and writes nothing more; the same key with another body is 422; a repeat
while the first still runs is 409; a refused request releases the key; keys never see each
other's entries; entries expire. Last, the figure that matters: creates sent twice at once,
to two server processes, make exactly one record each."""
import concurrent.futures
import json
import os
import time
import uuid

import pytest
import requests
from falcon import testing
from helpers import fetch, free_port, make_key
from test_shutdown import Server, write_ini

from itflow_api.lib.core.envelope import ApiError
from itflow_api.lib.web import idempotency

TABLE = idempotency.TABLE
# The two-process test's number of creates (each sent twice); the 1,000 figure: set it to 1000.
CONCURRENT_CREATES = int(os.environ.get("ITFLOW_TEST_IDEMPOTENCY_CREATES", "100"))


@pytest.fixture
def client(app, db):
    with db.transaction(write=True):
        db.execute(f"DELETE FROM {TABLE}")
    return testing.TestClient(app)


@pytest.fixture
def client_id(make_client):
    return make_client("Alpha")


def post(client, key, body, idem=None, path="vendors/create"):
    headers = {} if idem is None else {"Idempotency-Key": idem}
    return client.simulate_post(f"/api/v1/{path}.php", json={**body, "api_key": key}, headers=headers)


def vendors(db, name):
    return fetch(db, "vendors", vendor_name=name)


def entries(db):
    with db.transaction():
        return db.rows(f"SELECT * FROM {TABLE}")


def envelope_of(result):
    assert result.headers["content-type"].startswith("application/json"), result.text
    return json.loads(result.text)


# --- replay ---------------------------------------------------------------------------------

def test_a_repeat_gets_the_first_answer_byte_for_byte_and_writes_nothing(client, db, keys, client_id):
    key = make_key(keys)
    body = {"vendor_name": "Dell", "client_id": client_id}
    first = post(client, key, body, "order-1")
    assert first.status_code == 200, first.text
    assert envelope_of(first)["success"] == "True"
    assert "Idempotent-Replayed" not in first.headers
    again = post(client, key, body, "order-1")
    assert again.status_code == 200
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["content-type"] == first.headers["content-type"]
    assert len(vendors(db, "Dell")) == 1
    # the body in another key order is the same request (PowerShell hashtables reorder)
    reordered = client.simulate_post("/api/v1/vendors/create.php", headers={"Idempotency-Key": "order-1"},
                                     body=json.dumps({"api_key": key, "client_id": client_id, "vendor_name": "Dell"}))
    assert reordered.content == first.content and reordered.headers["Idempotent-Replayed"] == "true"
    assert len(vendors(db, "Dell")) == 1
    stored = entries(db)
    assert len(stored) == 1 and key not in json.dumps(stored)  # no API key is stored


def test_without_the_header_every_post_runs_and_nothing_is_stored(client, db, keys, client_id):
    key = make_key(keys)
    body = {"vendor_name": "Dell", "client_id": client_id}
    first, second = post(client, key, body), post(client, key, body)
    assert first.content != second.content  # two insert ids
    assert "Idempotent-Replayed" not in second.headers
    assert len(vendors(db, "Dell")) == 2
    assert entries(db) == []


def test_stored_headers_come_back_but_not_the_quota_headers(client, db, keys, client_id):
    key = make_key(keys)
    body = {"vendor_name": "Dell", "client_id": client_id}
    first = post(client, key, body, "hdr")
    assert "X-RateLimit-Limit" in first.headers
    again = post(client, key, body, "hdr")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "X-RateLimit-Limit" not in again.headers  # a replay takes no quota


# --- another body, still running, refused ----------------------------------------------------

def test_the_same_key_with_another_body_or_endpoint_is_422(client, db, keys, client_id):
    key = make_key(keys)
    assert post(client, key, {"vendor_name": "Dell", "client_id": client_id}, "k").status_code == 200
    other = post(client, key, {"vendor_name": "HP", "client_id": client_id}, "k")
    assert other.status_code == 422
    answer = envelope_of(other)
    assert answer["success"] == "False" and "different request" in answer["message"]
    elsewhere = post(client, key, {"location_name": "HQ", "client_id": client_id}, "k", path="locations/create")
    assert elsewhere.status_code == 422
    assert vendors(db, "HP") == [] and fetch(db, "locations") == []


def test_a_repeat_while_the_first_still_runs_is_409_until_its_lease_ends(client, db, keys, client_id):
    key = make_key(keys)
    body = {"vendor_name": "Dell", "client_id": client_id}
    path = "/api/v1/vendors/create.php"
    # the first request's claim, as a process that is running it (or died running it) left it
    held = idempotency.claim(db, idempotency.scope(keys.secret, key, "slow"),
                             idempotency.fingerprint(path, {**body, "api_key": key}))
    assert isinstance(held, idempotency.Claim)
    busy = post(client, key, body, "slow")
    assert busy.status_code == 409 and busy.headers["Retry-After"] == "1"
    assert envelope_of(busy)["success"] == "False" and "still being processed" in envelope_of(busy)["message"]
    assert vendors(db, "Dell") == []
    # its lease over (the process died): a repeat takes the key over and runs
    with db.transaction(write=True):
        db.execute(f"UPDATE {TABLE} SET idem_claimed_at = idem_claimed_at - :s", {"s": idempotency.LEASE_SECONDS + 1})
    taken = post(client, key, body, "slow")
    assert taken.status_code == 200 and envelope_of(taken)["success"] == "True"
    assert len(vendors(db, "Dell")) == 1
    # and the old holder, should it still be alive, can no longer record: its write rolls back
    with pytest.raises(ApiError) as lost, db.transaction(write=True):
        db.insert("vendors", {"vendor_name": "Ghost", "vendor_client_id": client_id})
        held.record(200, {}, {"success": "True"})
    assert lost.value.status == 409
    assert vendors(db, "Ghost") == []
    assert post(client, key, body, "slow").content == taken.content


def test_a_refused_request_releases_the_key(client, db, keys, client_id):
    key = make_key(keys)
    body = {"client_id": client_id}  # no vendor_name: refused, nothing written
    refused = post(client, key, body, "retry-me")
    assert refused.status_code == 200 and envelope_of(refused)["success"] == "False"
    assert entries(db) == []
    again = post(client, key, body, "retry-me")
    assert "Idempotent-Replayed" not in again.headers  # it ran again
    assert entries(db) == []


def test_a_database_error_releases_the_key(client, app, db, keys, client_id, monkeypatch):
    from itflow_api.lib.db.errors import DatabaseError
    key = make_key(keys)
    body = {"vendor_name": "Dell", "client_id": client_id}
    pipeline = app.service.pipeline
    real = pipeline.perform

    def broken(*args, **kwargs):
        raise DatabaseError("OperationalError: the server went away")
    monkeypatch.setattr(pipeline, "perform", broken)
    failed = post(client, key, body, "db-down")
    assert failed.status_code == 503
    assert entries(db) == []
    monkeypatch.setattr(pipeline, "perform", real)
    ran = post(client, key, body, "db-down")
    assert ran.status_code == 200 and "Idempotent-Replayed" not in ran.headers
    assert len(vendors(db, "Dell")) == 1


def test_an_unknown_api_key_claims_nothing(client, db):
    failed = client.simulate_post("/api/v1/vendors/create.php", json={"api_key": "x" * 32, "vendor_name": "Dell"},
                                  headers={"Idempotency-Key": "guess"})
    assert failed.status_code == 401
    assert entries(db) == []


def test_a_revoked_key_gets_no_replay(client, db, keys, client_id):
    key = make_key(keys)
    body = {"vendor_name": "Dell", "client_id": client_id}
    assert post(client, key, body, "gone").status_code == 200
    with db.transaction(write=True):
        db.execute("DELETE FROM api_keys")
    again = post(client, key, body, "gone")
    assert again.status_code == 401 and "Idempotent-Replayed" not in again.headers


# --- scope, expiry, the header itself --------------------------------------------------------

def test_one_api_keys_idempotency_keys_are_invisible_to_another(client, db, keys, client_id):
    a, b = make_key(keys), make_key(keys)
    body = {"vendor_name": "Dell", "client_id": client_id}
    first = post(client, a, body, "shared-name")
    second = post(client, b, body, "shared-name")
    assert second.status_code == 200 and "Idempotent-Replayed" not in second.headers
    assert first.content != second.content
    assert len(vendors(db, "Dell")) == 2
    # and B with another body under the same name is not A's 422
    assert post(client, b, {"vendor_name": "HP", "client_id": client_id}, "other").status_code == 200
    assert post(client, a, {"vendor_name": "Acer", "client_id": client_id}, "other").status_code == 200
    assert len(entries(db)) == 4


def test_an_expired_entry_is_forgotten_and_purged(client, db, keys, client_id):
    key = make_key(keys)
    body = {"vendor_name": "Dell", "client_id": client_id}
    assert post(client, key, body, "old").status_code == 200
    assert post(client, key, body, "kept").status_code == 200
    day = idempotency.TTL_SECONDS
    with db.transaction(write=True):
        db.execute(f"UPDATE {TABLE} SET idem_expires_at = idem_expires_at - :day", {"day": day})
    with db.transaction(write=True):
        db.execute(f"UPDATE {TABLE} SET idem_expires_at = idem_expires_at + :day WHERE idem_scope = :s",
                   {"day": day, "s": idempotency.scope(keys.secret, key, "kept")})
    assert len(vendors(db, "Dell")) == 2
    fresh = post(client, key, body, "old")
    assert fresh.status_code == 200 and "Idempotent-Replayed" not in fresh.headers
    assert len(vendors(db, "Dell")) == 3
    # another body under an expired key is a new request too, not a 422
    with db.transaction(write=True):
        db.execute(f"UPDATE {TABLE} SET idem_expires_at = 0 WHERE idem_scope = :s",
                   {"s": idempotency.scope(keys.secret, key, "old")})
    assert post(client, key, {"vendor_name": "HP", "client_id": client_id}, "old").status_code == 200
    assert len(entries(db)) == 2
    with db.transaction(write=True):
        db.execute(f"UPDATE {TABLE} SET idem_expires_at = 0 WHERE idem_scope = :s",
                   {"s": idempotency.scope(keys.secret, key, "old")})
    assert idempotency.purge(db, int(time.time())) == 1
    assert [r["idem_scope"] for r in entries(db)] == [idempotency.scope(keys.secret, key, "kept")]
    assert post(client, key, body, "kept").headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("value", ["", "   ", "x" * 256, "bad\x01key", "caf\u00e9"],
                         ids=["empty", "blank", "too-long", "control", "non-ascii"])
def test_a_malformed_key_is_400_and_writes_nothing(client, db, keys, client_id, value):
    key = make_key(keys)
    result = post(client, key, {"vendor_name": "Dell", "client_id": client_id}, value)
    assert result.status_code == 400
    answer = envelope_of(result)
    assert answer["success"] == "False" and "Idempotency-Key" in answer["message"]
    assert vendors(db, "Dell") == [] and entries(db) == []


def test_the_longest_key_is_accepted(client, db, keys, client_id):
    key = make_key(keys)
    body = {"vendor_name": "Dell", "client_id": client_id}
    assert post(client, key, body, "k" * 255).status_code == 200
    assert post(client, key, body, "k" * 255).headers["Idempotent-Replayed"] == "true"


def test_a_get_ignores_the_header(client, db, keys, client_id):
    key = make_key(keys)
    for value in ("x" * 300, "read-1", "read-1"):
        result = client.simulate_get("/api/v1/clients/read.php", params={"api_key": key},
                                     headers={"Idempotency-Key": value})
        assert result.status_code == 200 and "Idempotent-Replayed" not in result.headers
        assert envelope_of(result)["success"] == "True"
    assert entries(db) == []


# --- the figure: creates sent twice at once to two server processes --------------------------

def _post_until_answered(session, url, payload, idem):
    """POST, sending it again after 409 (the twin still runs) or 503 (the database was busy:
    SQLite's one writer lock, on a loaded machine) as a client following Retry-After would
    (after a twentieth of it, to keep the test short). Returns the answer and the statuses
    waited out."""
    waited = []
    for _ in range(200):
        answer = session.post(url, data=payload, headers={"Idempotency-Key": idem,
                                                          "Content-Type": "application/json"}, timeout=60)
        if answer.status_code not in (409, 503):
            return answer, waited
        assert answer.headers["Retry-After"] == "1"
        waited.append(answer.status_code)
        time.sleep(0.05)
    raise AssertionError(f"{idem} still unanswered after many tries: {waited[-3:]}")


def test_creates_sent_twice_at_once_to_two_processes_make_one_record_each(config, db, keys, client_id, tmp_path):
    key = make_key(keys)
    idempotency.ensure(db)
    servers = []
    try:
        for name in ("a", "b"):
            folder = tmp_path / name
            folder.mkdir()
            port = free_port()
            servers.append(Server(write_ini(config, folder, port=port, workers=1, threads=8), port))
        urls = [s.url("vendors/create") for s in servers]
        run = uuid.uuid4().hex[:8]
        jobs = []
        for n in range(CONCURRENT_CREATES):
            payload = json.dumps({"api_key": key, "vendor_name": f"Twin {run} {n}", "client_id": client_id})
            idem = f"{run}-{n}"
            jobs += [(urls[0], payload, idem), (urls[1], payload, idem)]
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(16) as pool, requests.Session() as session:
            session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=16))
            results = list(pool.map(lambda job: _post_until_answered(session, *job), jobs))
        elapsed = time.monotonic() - started
    finally:
        for server in servers:
            server.stop()
    answers = [answer for answer, _ in results]
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200][:3]
    replayed = 0
    for first, second in zip(answers[::2], answers[1::2], strict=True):
        assert first.content == second.content  # the same insert id, byte for byte
        assert json.loads(first.content)["success"] == "True"
        flags = sorted(a.headers.get("Idempotent-Replayed", "") for a in (first, second))
        assert flags == ["", "true"], flags
        replayed += 1
    with db.transaction():
        made = int(db.scalar("SELECT COUNT(*) AS n FROM vendors WHERE vendor_name LIKE :p", {"p": f"Twin {run} %"}))
    assert made == CONCURRENT_CREATES
    print(f"\n{CONCURRENT_CREATES} creates sent twice at once to two processes: {made} records, "
          f"{replayed} replays ({sum(w.count(409) for _, w in results)} 409s and "
          f"{sum(w.count(503) for _, w in results)} 503s waited out), {len(jobs)} requests "
          f"in {elapsed:.1f} s")
