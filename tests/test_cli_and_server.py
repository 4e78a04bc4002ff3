"""The console command and a real waitress server on a loopback port."""
import os
import re
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests
import waitress
from helpers import BACKEND, make_key, point_cli_at

from itflow_api.lib import cli


@pytest.fixture
def cli_env(config, db, monkeypatch):
    """Point the CLI at the test database through the environment, as a user would."""
    point_cli_at(monkeypatch, config, config.security.key_hash_secret)


def test_help_lists_every_command(capsys):
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    for command in ("init-db", "keys", "serve", "version"):
        assert command in out


def test_keys_create_list_revoke(cli_env, capsys, api):
    assert cli.main(["init-db"]) == 0
    assert cli.main(["keys", "create", "--name", "RMM sync", "--client-id", "0"]) == 0
    out = capsys.readouterr().out
    key = out.strip().splitlines()[-1]
    assert re.fullmatch(r"[A-Za-z0-9]{32}", key)
    assert api.get("clients/read", key=key)[0] == 200

    assert cli.main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert "RMM sync" in listing and "hashed" in listing and key not in listing
    key_id = re.search(r"^\s*(\d+)\s+RMM sync", listing, re.M).group(1)

    assert cli.main(["keys", "revoke", key_id]) == 0
    assert api.get("clients/read", key=key)[0] == 401
    assert cli.main(["keys", "revoke", key_id]) == 2


def test_keys_create_refuses_a_bad_date(cli_env, capsys):
    assert cli.main(["keys", "create", "--name", "x", "--expire", "next week"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_decrypt_key_needs_unlock_once_a_master_key_exists(cli_env, capsys, monkeypatch):
    monkeypatch.setenv(cli.DECRYPT_ENV, "first-password")
    assert cli.main(["keys", "create", "--name", "first", "--with-decrypt-password"]) == 0
    first = capsys.readouterr().out.strip().splitlines()[-1]
    assert cli.main(["keys", "create", "--name", "second", "--with-decrypt-password"]) == 2
    assert "--unlock-key" in capsys.readouterr().err
    monkeypatch.setenv(cli.UNLOCK_ENV, "wrong")
    assert cli.main(["keys", "create", "--name", "second", "--with-decrypt-password", "--unlock-key", first]) == 2
    monkeypatch.setenv(cli.UNLOCK_ENV, "first-password")
    assert cli.main(["keys", "create", "--name", "second", "--with-decrypt-password", "--unlock-key", first]) == 0


def test_version_names_the_database(cli_env, capsys):
    assert cli.main(["version"]) == 0
    out = capsys.readouterr().out
    assert "itflow-api" in out and ("SQLite" if BACKEND == "sqlite" else "MySQL") in out
    assert "keys scoped to a client (rules: 2.4.6)" in out


def test_keys_list_and_revoke_in_an_empty_folder_create_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("ITFLOW_API_")]:
        monkeypatch.delenv(name)
    assert cli.main(["keys", "list"]) == 0
    assert "there is no database" in capsys.readouterr().out
    assert cli.main(["keys", "revoke", "3"]) == 2
    assert list(tmp_path.iterdir()) == []  # no database file, no secret file


def test_missing_config_file_is_a_clear_error(capsys):
    assert cli.main(["--config", "/nonexistent/itflow.ini", "version"]) == 2
    assert "config.example.ini" in capsys.readouterr().err


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_server_answers_over_http(app, keys):
    port = _free_port()
    server = waitress.create_server(app, host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        key = make_key(keys)
        base = f"http://127.0.0.1:{port}/api/v1"
        for _ in range(50):
            try:
                result = requests.get(f"{base}/clients/read.php", params={"api_key": key}, timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        assert result.status_code == 200
        assert result.json()["message"].startswith("No resource")
        created = requests.post(f"{base}/clients/create.php", json={"api_key": key, "client_name": "Live"}, timeout=5)
        assert created.json()["success"] == "True" and created.json()["count"] == "1"
        wrong = requests.put(f"{base}/clients/read.php", timeout=5)
        assert wrong.status_code == 405 and wrong.headers["Allow"] == "GET"
    finally:
        server.close()


def test_serve_with_no_configuration_prints_a_working_example(tmp_path):
    if BACKEND != "sqlite":
        pytest.skip("the zero-configuration start is the SQLite one")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "itflow_api.lib.cli", "serve", "--port", str(port)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={"PATH": "/usr/bin:/bin"})
    try:
        example = None
        deadline = time.time() + 30
        while time.time() < deadline and example is None:
            line = proc.stdout.readline()
            match = re.search(r'curl "([^"]+)"', line)
            example = match.group(1) if match else None
        assert example, "serve printed no example request"
        for _ in range(100):
            try:
                result = requests.get(example, timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        assert result.json() == {"success": "False", "count": 0, "data": [], "message":
                                 "No resource (for this client and company) with the specified parameter(s)."}
    finally:
        proc.terminate()
        proc.wait(30)


def test_readme_endpoint_table_is_current(capsys):
    import os
    assert cli.main(["endpoints"]) == 0
    table = capsys.readouterr().out.strip()
    readme = open(os.path.join(os.path.dirname(__file__), os.pardir, "README.md"), encoding="utf-8").read()
    between = readme.split("<!-- endpoints:start -->")[1].split("<!-- endpoints:end -->")[0].strip()
    assert between == table, "README endpoint table is stale: paste the output of `itflow-api endpoints`"


def test_custom_endpoint_folder_adds_endpoints(config, db, keys, tmp_path, monkeypatch):
    from helpers import Api

    from itflow_api.lib.web.app import create_app
    (tmp_path / "custom").mkdir()
    (tmp_path / "custom" / "hello.py").write_text(
        "from itflow_api.lib.core import envelope\n"
        "from itflow_api.lib.core.endpoint import function_endpoint\n\n\n"
        "@function_endpoint(method='GET')\n"
        "def endpoint(call):\n"
        "    return envelope.read_ok([{'hello': str(call.params.get('name', 'world'))}])\n")
    monkeypatch.setattr(config.server, "custom_endpoints", str(tmp_path))
    api = Api(create_app(config, db, keys))
    key = make_key(keys)
    assert api.get("custom/hello", key=key, name="MSP")[1] == {"success": "True", "count": 1,
                                                               "data": [{"hello": "MSP"}]}
    assert api.get("custom/hello")[0] == 401
    assert api.post("custom/hello", {}, key=key)[0] == 405


def _first_answer(server, key):
    """The first answer to a clients read (granian's first worker may still be starting)."""
    for _ in range(200):
        try:
            return requests.get(server.url("clients/read"), params={"api_key": key}, timeout=5)
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("no answer:\n" + server.output)


def test_serve_with_granian_answers_and_stops_cleanly(config, db, keys, tmp_path):
    pytest.importorskip("granian", reason="the granian extra is not installed")
    from test_shutdown import Server, free_port, write_ini
    key = make_key(keys)
    port = free_port()
    ini = write_ini(config, tmp_path, port=port, workers=1, http_server="granian")
    server = Server(ini, port, ready=r"Started worker-1")
    try:
        answer = _first_answer(server, key)
        assert answer.status_code == 200 and answer.json()["message"].startswith("No resource")
        assert answer.headers["server"] == "granian"  # the name, no version
        assert "granian, 1 worker(s)" in server.output
    finally:
        assert server.stop() == 0, server.output


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the processes' maps in /proc")
def test_under_granian_the_parent_becomes_a_light_supervisor(config, db, keys, tmp_path):
    """After its start checks, serve replaces itself (same pid) by a supervisor that loads
    neither the app's libraries nor a database driver, and gets its configuration (database
    password, key hash secret) through a pipe: not in its command line or environment."""
    pytest.importorskip("granian", reason="the granian extra is not installed")
    from helpers import SECRET
    from test_shutdown import Server, free_port, write_ini
    key = make_key(keys)
    port = free_port()
    server = Server(write_ini(config, tmp_path, port=port, workers=1, http_server="granian"), port,
                    ready=r"Started worker-1")
    try:
        answer = _first_answer(server, key)
        assert answer.status_code == 200
        pid = server.proc.pid
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read()
        assert b"itflow_api.lib.web.supervisor" in cmdline
        with open(f"/proc/{pid}/maps") as handle:
            parent = handle.read()
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            workers = handle.read().split()
        assert len(workers) == 1
        with open(f"/proc/{workers[0]}/maps") as handle:
            worker = handle.read()
        driver = "_mysql_connector" if BACKEND == "mysql" and "_mysql_connector" in worker else "_sqlite3"
        assert driver in worker and driver not in parent
        if driver == "_mysql_connector":  # sqlite3 is loaded only for an SQLite database
            assert "_sqlite3" not in worker
        assert "cryptography" not in parent and "granian" in parent
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environment = handle.read()
        assert SECRET.encode() not in environment + cmdline
        if config.database.password:
            assert config.database.password.encode() not in environment + cmdline
    finally:
        assert server.stop() == 0, server.output
