"""The mod_wsgi recipe in a real Apache: the lines of deploy/apache-mod-wsgi.conf inside the
virtual host of a private Apache (tests/apache_mod_wsgi.py: its own config, port, pid file and
logs in a temporary folder), serving a fresh test database through wsgi.py. Under the virtual
host's DocumentRoot is an api/v1/clients/read.php standing for ITFlow's PHP: the recipe's /api
mount must take it over, and leave the rest of the site alone. A read, a create and refused
keys go through Apache.

Needs apache2 and Debian's libapache2-mod-wsgi-py3 (and python3-venv: the daemon's virtual
environment is made with the Python mod_wsgi was built against, once, then kept under /tmp);
skipped without them unless ITFLOW_TEST_MOD_WSGI=required (CI), which makes a missing piece a
failure.
"""
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import requests
from apache_mod_wsgi import (
    PHP_STAND_IN,
    ModWsgiSite,
    Unavailable,
    apache_and_python,
    daemon_requirements,
    daemon_venv,
    give_to_daemon,
)
from helpers import BACKEND, MYSQL_DRIVER, SECRET, free_port, fresh_config, make_key

from itflow_api.lib.access.keys import KeyStore
from itflow_api.lib.db.database import Database

REQUIRED = os.environ.get("ITFLOW_TEST_MOD_WSGI") == "required"


def write_config(cfg, path, access_log):
    d = cfg.database
    path.write_text("\n".join([
        "[database]", f"backend = {d.backend}", f"path = {d.path}", f"host = {d.host}", f"port = {d.port}",
        f"user = {d.user}", f"password = {d.password}", f"name = {d.name}", f"driver = {d.driver}",
        "[security]", f"key_hash_secret = {SECRET}", "key_cache_seconds = 0",
        "[log]", f"access_log = {access_log}", ""]), encoding="utf-8")


@pytest.fixture(scope="module")
def apache():
    """(apache2, the daemon's virtual environment), or a skip (a failure when required)."""
    try:
        binary, python = apache_and_python()
        return binary, daemon_venv(python, daemon_requirements(
            ["mysqlclient"] if BACKEND == "mysql" and MYSQL_DRIVER == "mysqlclient" else []))
    except Unavailable as exc:
        if REQUIRED:
            pytest.fail(f"ITFLOW_TEST_MOD_WSGI=required, but {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def site(apache):
    binary, venv = apache
    work = Path(tempfile.mkdtemp(prefix="itflow-api-mod-wsgi-"))
    data = work / "data"
    data.mkdir()
    try:
        with fresh_config(data) as cfg:
            db = Database.from_config(cfg.database)
            try:
                db.create_schema()
                write_config(cfg, data / "config.ini", data / "api-access.log")
                give_to_daemon(data)
                apache = ModWsgiSite(work, free_port(), data / "config.ini", venv)
                apache.prepare()
                try:
                    apache.start(binary)
                    yield {"base": f"http://127.0.0.1:{apache.port}", "db": db, "keys": KeyStore(db, SECRET.encode()),
                           "data": data, "apache": apache}
                finally:
                    apache.stop()
            finally:
                db.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def answer_of(response):
    assert response.headers["Content-Type"] == "application/json", (response.status_code, response.text)
    return response.status_code, response.json()


def test_a_create_and_a_read_through_apache(site):
    key = make_key(site["keys"])
    api = f"{site['base']}/api/v1/clients"
    status, body = answer_of(requests.post(f"{api}/create.php", json={"api_key": key, "client_name": "Through Apache"},
                                           timeout=30))
    assert status == 200 and list(body) == ["success", "count", "data"], body
    client_id = body["data"][0]["insert_id"]
    assert body == {"success": "True", "count": "1", "data": [{"insert_id": client_id}]}
    with site["db"].transaction():
        row = site["db"].row("SELECT client_name FROM clients WHERE client_id = :id", {"id": client_id})
        api_log = site["db"].row("SELECT log_ip FROM logs WHERE log_type = 'API' ORDER BY log_id DESC LIMIT 1")
    assert row == {"client_name": "Through Apache"}
    assert api_log == {"log_ip": "127.0.0.1"}  # the caller's address, as Apache saw it

    # the key as a Bearer header: WSGIPassAuthorization On hands it to the app
    read = requests.get(f"{api}/read.php", params={"client_id": client_id},
                        headers={"Authorization": f"Bearer {key}"}, timeout=30)
    status, body = answer_of(read)
    assert status == 200 and body["success"] == "True" and body["count"] == 1, body
    assert body["data"][0]["client_id"] == str(client_id) and body["data"][0]["client_name"] == "Through Apache"
    assert int(read.headers["X-RateLimit-Limit"]) > 0 and "X-RateLimit-Remaining" in read.headers
    # Apache's own Server header (Debian's ServerTokens OS), naming neither mod_wsgi nor Python
    assert read.headers["Server"].startswith("Apache") and not re.search(r"wsgi|python", read.headers["Server"], re.I)


def test_a_chunked_body_reaches_the_app(site):
    """No Content-Length (Transfer-Encoding: chunked): the recipe's WSGIChunkedRequest On lets
    it through, and the entry point reads it for the app, which still refuses one too large."""
    key = make_key(site["keys"])

    def chunked(*parts):
        yield from parts

    create = f"{site['base']}/api/v1/clients/create.php"
    answer = requests.post(create, data=chunked(b'{"api_key": "', key.encode(), b'", "client_name": "Chunked"}'),
                           headers={"Content-Type": "application/json"}, timeout=30)
    assert answer.request.headers.get("Transfer-Encoding") == "chunked" and "Content-Length" not in answer.request.headers
    status, body = answer_of(answer)
    assert status == 200 and body["success"] == "True", body
    with site["db"].transaction():
        assert int(site["db"].scalar("SELECT COUNT(*) FROM clients WHERE client_name = 'Chunked'")) == 1

    too_large = requests.post(create, data=chunked(*[b" " * 65536] * 32), headers={"Content-Type": "application/json"},
                              timeout=30)
    status, body = answer_of(too_large)
    assert status == 413 and body["success"] == "False" and "larger than" in body["message"], body


def test_a_wrong_key_is_the_apis_401_not_apaches(site):
    for headers, params in (({"Authorization": "Bearer not-a-key-of-ours-0123456789"}, {}),
                            ({}, {"api_key": "not-a-key-of-ours-0123456789"}), ({}, {})):
        refused = requests.get(f"{site['base']}/api/v1/clients/read.php", headers=headers, params=params, timeout=30)
        status, body = answer_of(refused)
        assert status == 401 and body["success"] == "False" and body["message"], body
        assert int(refused.headers["Content-Length"]) == len(refused.content)


def test_only_api_is_taken_from_the_document_root(site):
    """/api/v1/clients/read.php exists under DocumentRoot too (ITFlow's PHP): the app answers
    it; the rest of the site is still the DocumentRoot's."""
    page = requests.get(f"{site['base']}/index.php", timeout=30)
    assert page.status_code == 200 and page.text == PHP_STAND_IN
    routed = requests.get(f"{site['base']}/api/v1/no-such-module/read.php", timeout=30)
    status, body = answer_of(routed)
    assert status == 404 and body["success"] == "False", body


def test_the_app_logs_each_request_at_its_full_path_without_the_key(site):
    key = make_key(site["keys"])
    requests.get(f"{site['base']}/api/v1/clients/read.php", params={"api_key": key}, timeout=30)
    log = site["data"] / "api-access.log"
    deadline = time.time() + 10  # the access log writes its lines in batches
    while time.time() < deadline and "/api/v1/clients/read.php?api_key=" not in (log.read_text() if log.exists() else ""):
        time.sleep(0.2)
    written = log.read_text()
    assert "GET /api/v1/clients/read.php?api_key=" in written, written
    assert key not in written


def test_python_runs_in_the_recipes_two_daemon_processes_only(site):
    started = re.findall(r"Starting process 'itflow-api' with uid=\d+, gid=\d+ and threads=8", site["apache"].log())
    assert len(started) == 2, site["apache"].log()
    assert site["apache"].log().count("Initializing Python") == 2, site["apache"].log()


def test_a_config_that_cannot_be_used_is_retried_by_the_next_request(apache):
    """No config file yet: Apache answers 500 and its error log says why; once the file is
    there the next request loads the app, with no reload of Apache."""
    binary, venv = apache
    work = Path(tempfile.mkdtemp(prefix="itflow-api-mod-wsgi-"))
    try:
        config = work / "data" / "config.ini"
        config.parent.mkdir()
        give_to_daemon(config.parent)
        late = ModWsgiSite(work, free_port(), config, venv)
        late.prepare()
        try:
            late.start(binary, until_json=False)
            url = f"http://127.0.0.1:{late.port}/api/v1/clients/read.php"
            assert requests.get(url, timeout=30).status_code == 500
            assert f"ConfigError: config file {config} not found" in late.log()
            config.write_text(f"[database]\nbackend = sqlite\npath = {config.parent / 'api.sqlite3'}\n"
                              f"[security]\nkey_hash_secret = {SECRET}\n[log]\naccess_log = off\n", encoding="utf-8")
            status, body = answer_of(requests.get(url, timeout=30))
            assert status == 401 and body["success"] == "False", body
        finally:
            late.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
