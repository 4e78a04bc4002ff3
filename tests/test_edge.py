"""The layer every answer passes through (issue 10, 11): the caller's address behind a proxy,
security headers, rate limits with 429 / Retry-After / X-RateLimit-*, and the access log."""
import json
import os
import re
import socket
import subprocess
import sys

import pytest
from falcon import testing
from helpers import (
    BACKEND,
    SECRET,
    access_log_at,
    free_port,
    fresh_config,
    log_rows,
    make_key,
    read_status,
    wait_until_listening,
)

from itflow_api.lib.web.app import create_app
from itflow_api.lib.web.middleware import TrustedProxies, redacted_path

# --- the caller's address --------------------------------------------------------------------

@pytest.mark.parametrize("peer, forwarded, expected", [
    ("127.0.0.1", "203.0.113.9", "203.0.113.9"),
    # A caller writes whatever it likes on the left; Apache appends the real peer on the right.
    ("127.0.0.1", "1.2.3.4, 203.0.113.9", "203.0.113.9"),
    # Proxies of ours on the right are skipped, CIDR ranges included.
    ("127.0.0.1", "1.2.3.4, 203.0.113.9, 10.1.2.3", "203.0.113.9"),
    # Not from a trusted proxy: the header is ignored.
    ("198.51.100.7", "1.2.3.4", "198.51.100.7"),
    ("127.0.0.1", None, "127.0.0.1"),
    ("::1", "2001:db8::5", "2001:db8::5"),
])
def test_client_address_is_the_rightmost_untrusted_hop(peer, forwarded, expected):
    proxies = TrustedProxies("127.0.0.1 ::1 10.0.0.0/8")
    assert proxies.client_address(peer, forwarded) == expected


def test_forged_forwarded_for_does_not_reach_the_logs(api, db):
    api.get("clients/read", key="not-a-key", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9"})
    assert [row["log_ip"] for row in log_rows(db)] == ["203.0.113.9"]


def test_bad_trusted_proxy_setting_is_refused():
    with pytest.raises(ValueError, match="trusted_proxies"):
        TrustedProxies("127.0.0.1 not-an-address")


# --- headers ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/clients/read.php", "/api/v1/nope/read.php", "/api/v1/clients/create.php"])
def test_every_answer_carries_the_security_headers(app, all_key, path):
    result = testing.TestClient(app).simulate_get(path, params={"api_key": all_key})
    assert result.headers["X-Content-Type-Options"] == "nosniff"
    assert result.headers["Cache-Control"] == "no-store"
    assert "server" not in {k.lower() for k in result.headers}


# --- rate limits ----------------------------------------------------------------------------

def _limited_app(config, db, keys, **limits):
    for name, value in limits.items():
        setattr(config.limits, name, value)
    try:
        return create_app(config, db, keys)
    finally:
        config.limits.__init__()  # the session's config goes back to its defaults


def test_wrong_keys_from_one_address_get_429_with_retry_after(config, db, keys):
    app = _limited_app(config, db, keys, failed_auth_per_address="3/minute", failed_auth_per_key="100/minute")
    client = testing.TestClient(app)
    statuses = [client.simulate_get("/api/v1/clients/read.php", params={"api_key": f"wrong-{i}"}).status_code
                for i in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    result = client.simulate_get("/api/v1/clients/read.php", params={"api_key": make_key(keys)})
    # Blocked before the key is looked at, so even a right key waits: guessing learns nothing.
    assert result.status_code == 429 and int(result.headers["Retry-After"]) > 0
    assert result.json["success"] == "False" and "try again" in result.json["message"]
    # Another address is not affected.
    other = client.simulate_get("/api/v1/clients/read.php", params={"api_key": "wrong"},
                                headers={"X-Forwarded-For": "203.0.113.50"})
    assert other.status_code == 401


def test_the_same_wrong_key_from_many_addresses_gets_429(config, db, keys):
    app = _limited_app(config, db, keys, failed_auth_per_address="100/minute", failed_auth_per_key="2/minute")
    client = testing.TestClient(app)
    statuses = [client.simulate_get("/api/v1/clients/read.php", params={"api_key": "stale-key"},
                                    headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(4)]
    assert statuses == [401, 401, 429, 429]


def test_key_quota_headers_on_every_authenticated_answer_and_429_past_it(config, db, keys, make_client):
    app = _limited_app(config, db, keys, requests_per_key="4/minute", quota_sync_seconds=0)
    client, key = testing.TestClient(app), make_key(keys)
    make_client("Alpha")
    seen = []
    for _ in range(5):
        result = client.simulate_get("/api/v1/clients/read.php", params={"api_key": key})
        seen.append((result.status_code, result.headers.get("X-RateLimit-Remaining")))
        assert result.headers["X-RateLimit-Limit"] == "4"
        assert 0 < int(result.headers["X-RateLimit-Reset"]) <= 61
    assert seen == [(200, "3"), (200, "2"), (200, "1"), (200, "0"), (429, "0")]
    # A refusal after authentication is still counted and still carries the headers.
    refused = client.simulate_post("/api/v1/clients/update.php", json={"api_key": key})
    assert refused.status_code == 429 and "Retry-After" in refused.headers


def test_limits_can_be_turned_off(config, db, keys):
    app = _limited_app(config, db, keys, enabled=False)
    client = testing.TestClient(app)
    statuses = {client.simulate_get("/api/v1/clients/read.php", params={"api_key": "x"}).status_code
                for _ in range(15)}
    assert statuses == {401}
    result = client.simulate_get("/api/v1/clients/read.php", params={"api_key": make_key(keys)})
    assert "X-RateLimit-Limit" not in result.headers


# --- the access log ------------------------------------------------------------------------

def test_access_log_line_is_combined_format_with_secrets_redacted(config, db, keys, tmp_path):
    log_file = tmp_path / "access.log"
    key = make_key(keys)
    with access_log_at(config, db, keys, log_file) as app:
        testing.TestClient(app).simulate_get(
            "/api/v1/clients/read.php", query_string=f"api_key={key}&api_key_decrypt_password=pw-123&limit=5",
            headers={"User-Agent": "Pester/5", "Referer": "https://portal.example"})
    lines = log_file.read_text().splitlines()
    assert len(lines) == 1
    line = lines[0]
    assert key not in line and "pw-123" not in line
    assert '"GET /api/v1/clients/read.php?api_key=[redacted]&api_key_decrypt_password=[redacted]&limit=5 HTTP/1.1"' \
        in line
    assert re.match(r'^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET ', line), line
    assert ' 200 ' in line and '"https://portal.example" "Pester/5"' in line and line.endswith('us "test key"')


def test_redacted_path_keeps_other_parameters():
    assert redacted_path("/x", "a=1&api_key=s3cr3t") == "/x?a=1&api_key=[redacted]"
    assert redacted_path("/x", "") == "/x"


def test_redacted_path_reads_names_as_the_server_does():
    # A name the server decodes to api_key is redacted however it was spelled.
    assert redacted_path("/x", "api%5Fkey=s3cr3t&a%20b=1") == "/x?api_key=[redacted]&a%20b=1"
    assert redacted_path("/x", "api_key_decrypt_password=pw&api_key=") == \
        "/x?api_key_decrypt_password=[redacted]&api_key=[redacted]"
    # What could break the log line's quoting is re-quoted; the rest is kept as sent.
    assert redacted_path("/x", 'q="x y"&limit=5&s=a+b') == "/x?q=%22x%20y%22&limit=5&s=a+b"


# --- across processes: two servers on one database ----------------------------------------------

SERVER = """
import sys, waitress
from itflow_api.lib.web import config as c
from itflow_api.lib.web.app import create_app
from itflow_api.lib.db.database import Database
cfg = c.load(None, environ=__import__("os").environ)
waitress.serve(create_app(cfg, Database.from_config(cfg.database)), host="127.0.0.1", port=int(sys.argv[1]),
               threads=2, clear_untrusted_proxy_headers=False, _quiet=True)
"""


def _environment(cfg, **limits):
    env = dict(os.environ)
    for section in ("database", "security"):
        for name, value in vars(getattr(cfg, section)).items():
            env[f"ITFLOW_API_{section.upper()}_{name.upper()}"] = str(value)
    env["ITFLOW_API_SECURITY_KEY_HASH_SECRET"] = SECRET
    env["ITFLOW_API_LOG_ACCESS_LOG"] = "off"
    for name, value in limits.items():
        env[f"ITFLOW_API_LIMITS_{name.upper()}"] = str(value)
    return env


@pytest.mark.skipif(BACKEND != "mysql", reason="cross-process limits are shown on MariaDB (ITFLOW_TEST_BACKEND=mysql)")
def test_limits_hold_across_two_server_processes_on_one_database(tmp_path):
    from itflow_api.lib.access.keys import KeyStore
    from itflow_api.lib.db.database import Database
    with fresh_config(tmp_path) as cfg:
        shared = Database.from_config(cfg.database)
        shared.create_schema()
        key = make_key(KeyStore(shared, SECRET.encode()))
        env = _environment(cfg, failed_auth_per_address="6/minute", failed_auth_per_key="100/minute",
                           requests_per_key="10/minute", quota_sync_seconds=0)
        ports = [free_port(), free_port()]
        servers = [subprocess.Popen([sys.executable, "-c", SERVER, str(p)], env=env) for p in ports]
        try:
            for port in ports:
                wait_until_listening(port)
            # Wrong keys alternate between the processes: the shared counter stops the 7th.
            failures = [read_status(ports[i % 2], f"wrong-{i}", "203.0.113.1") for i in range(9)]
            assert failures[:6] == [401] * 6 and set(failures[6:]) == {429}, failures
            # The quota is shared too: 10 in all, whichever process answers. Each process
            # learns the other's count when it syncs, so with quota_sync_seconds = 0 the
            # quota can be passed by at most one request per other process.
            answers = [read_status(ports[i % 2], key, "203.0.113.2") for i in range(14)]
            assert 10 <= answers.count(200) <= 11 and answers[-2:] == [429, 429], answers
        finally:
            for server in servers:
                server.terminate()
                server.wait(10)
            shared.close()


# --- health ------------------------------------------------------------------------------------

def test_health_needs_no_key_and_reports_the_database(app):
    result = testing.TestClient(app).simulate_get("/api/v1/health")
    assert result.status_code == 200 and result.headers["content-type"].startswith("application/json")
    body = result.json
    assert (body["status"], body["database"]) == ("ok", "ok")
    assert "rules" in body and result.headers["Cache-Control"] == "no-store"


def test_health_is_503_when_the_database_does_not_answer(app, monkeypatch):
    from itflow_api.lib.db.errors import DatabaseError

    def down(*args, **kwargs):
        raise DatabaseError("OperationalError: can't connect")
    monkeypatch.setattr(app.service.db, "scalar", down)
    result = testing.TestClient(app).simulate_get("/api/v1/health")
    assert result.status_code == 503 and result.json["status"] == "unavailable"
    assert result.headers["Retry-After"] == "5"


# --- waitress' own refusals ----------------------------------------------------------------------

@pytest.mark.parametrize("raw, status", [
    (b"GET /api/v1/clients/read.php HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400),
    (b"GET /api/v1/clients/read.php HTTP/1.1\r\nHost: x\r\nContent-Type: a\x01b\r\n\r\n", 400),
    (b"POST /api/v1/clients/create.php HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"x" * 100, 413),
])
def test_waitress_refusals_are_the_json_envelope(raw, status):
    import threading

    import waitress

    from itflow_api.lib.web import waitress_errors
    waitress_errors.install()
    server = waitress.create_server(lambda env, start: [], host="127.0.0.1", port=0, max_request_body_size=10,
                                    ident="")
    threading.Thread(target=server.run, daemon=True).start()
    try:
        with socket.create_connection(("127.0.0.1", server.effective_port), timeout=5) as conn:
            conn.sendall(raw)
            answer = b""
            while chunk := conn.recv(4096):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.split(b" ")[1] == str(status).encode()
        assert b"Content-Type: application/json" in head and b"Server:" not in head
        assert json.loads(body)["success"] == "False"
    finally:
        server.close()


@pytest.mark.parametrize("body", [
    {"success": "True", "count": 2, "data": [{"a": "x/y", "b": None, "c": "é €", "d": False, "e": "\u2028"}]},
    {"success": "False", "message": "No resource", "count": 0, "data": []},
    {"success": "True", "count": "1", "data": [{"insert_id": 12}]},
])
def test_encoding_is_php_compatible_with_or_without_orjson(body, monkeypatch):
    from itflow_api.lib.core import envelope
    expected = json.dumps(body, separators=(",", ":")).encode("ascii")
    assert envelope.encode(body) == expected
    monkeypatch.setattr(envelope, "orjson", None)
    assert envelope.encode(body) == expected


def test_a_value_the_database_refuses_is_a_200_refusal_and_writes_nothing(api, db, all_key, monkeypatch):
    from itflow_api.lib.db.errors import ValueRefused
    real_insert = type(db).insert

    def refusing(self, table, values):
        if table == "clients":
            raise ValueRefused("client_rate is out of range", "client_rate")
        return real_insert(self, table, values)
    monkeypatch.setattr(type(db), "insert", refusing)
    status, body = api.post("clients/create", {"client_name": "X"}, key=all_key)
    assert (status, body["success"]) == (200, "False") and "client_rate" in body["message"]
    monkeypatch.undo()
    assert log_rows(db) == []
