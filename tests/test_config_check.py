"""Configuration is checked at start (one line, exit 2), and the command line around it:
global options in either position, --version, failed starts that leave nothing behind,
init-db on ITFlow's own database, key creation refusals and the secret fingerprint."""
import importlib.util
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import pytest
from helpers import BACKEND, SECRET, fresh_config, point_cli_at

from itflow_api.lib import cli
from itflow_api.lib.access.keys import KeyStore
from itflow_api.lib.db import meta
from itflow_api.lib.db.database import Database
from itflow_api.lib.itflow import schema
from itflow_api.lib.web import config


def load(tmp_path, text=None, environ=None):
    path = None
    if text is not None:
        path = tmp_path / "config.ini"
        path.write_text(text)
    return config.load(str(path) if path else None, environ=environ or {})


def refusal(tmp_path, text=None, environ=None):
    with pytest.raises(config.ConfigError) as caught:
        load(tmp_path, text, environ)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("text, expected", [
    ("[server]\nport = 0\n", "[server] port must be between 1 and 65535, got 0"),
    ("[server]\nport = 70000\n", "[server] port must be between 1 and 65535, got 70000"),
    ("[server]\nthreads = 0\n", "[server] threads must be at least 1, got 0"),
    ("[server]\nworkers = -1\n", "[server] workers must be at least 1, got -1"),
    ("[server]\nport = eighty\n", "[server] port must be a whole number, got 'eighty'"),
    ("[server]\nprot = 8080\n", "[server] unknown setting 'prot' (did you mean 'port'?)"),
    ("[servr]\nport = 8080\n", "unknown section [servr] (did you mean 'server'?)"),
    ("[database]\nbackend = postgres\n", "[database] backend must be one of sqlite, mysql, got 'postgres'"),
    ("[server]\nhttp_server = gunicorn\n", "[server] http_server must be one of auto, waitress, granian"),
    ("[server]\nport = 1\nport = 2\n", "cannot be read"),
])
def test_bad_settings_are_one_clear_line(tmp_path, text, expected):
    assert expected in refusal(tmp_path, text)


def test_environment_settings_are_checked_too(tmp_path):
    assert "did you mean 'password'" in refusal(tmp_path, environ={"ITFLOW_API_DATABASE_PASWORD": "x"})
    assert "ITFLOW_API_SERVER_THREADS" in refusal(tmp_path, environ={"ITFLOW_API_SERVER_THREADS": "many"})
    # a typo in the section part is refused too (a secret set there would be lost silently)
    assert "no section [databse] (did you mean 'database'?)" in \
        refusal(tmp_path, environ={"ITFLOW_API_DATABSE_PASSWORD": "x"})
    # the variables that are not settings, and other programs' variables, are left alone
    load(tmp_path, environ={"ITFLOW_API_CONFIG": "x", "ITFLOW_API_DECRYPT_PASSWORD": "y",
                            "ITFLOW_API_UNLOCK_PASSWORD": "z", "PATH": "/bin"})


def test_good_settings_load_with_their_types_and_paths_relative_to_the_file(tmp_path):
    cfg = load(tmp_path, "[server]\nport = 9000\nworkers = 3\nshutdown_timeout = 0\n"
                         "[security]\nsecret_file = secrets/api.secret\n[database]\npath = data.sqlite3\n")
    assert (cfg.server.port, cfg.server.workers, cfg.server.shutdown_timeout) == (9000, 3, 0)
    assert cfg.security.secret_file == str(tmp_path / "secrets" / "api.secret")
    assert cfg.database.path == str(tmp_path / "data.sqlite3")
    assert cfg.server.custom_endpoints == ""  # empty stays "none"


def test_default_workers_is_one_per_core_on_posix():
    expected = config.cores() if hasattr(os, "fork") else 1
    assert config.Config().server.workers == expected >= 1


def test_a_new_field_is_checked_without_new_code():
    @dataclass
    class LimitsConfig:
        per_minute: int = config.setting(60, minimum=1)
        enabled: bool = True

    @dataclass
    class Extended(config.Config):
        limits: LimitsConfig = field(default_factory=LimitsConfig)

    cfg = Extended()
    assert "limits" in cfg.sections()
    cfg.limits.per_minute = 0
    with pytest.raises(config.ConfigError, match=r"\[limits\] per_minute must be at least 1"):
        config.check(cfg)
    assert config._coerce("x", "off", bool) is False


# --- the command line ---------------------------------------------------------------------

def run(args, cwd, env=None, timeout=60):
    """`python -m itflow_api ARGS` as a user runs it: (exit code, stdout, stderr)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ITFLOW_API_")}
    clean.update(env or {})
    done = subprocess.run([sys.executable, "-m", "itflow_api", *args], cwd=cwd, env=clean,
                          capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout, done.stderr


def test_version_option_and_python_dash_m(tmp_path):
    from itflow_api import __version__
    code, out, _ = run(["--version"], tmp_path)
    assert (code, out.strip()) == (0, f"itflow-api {__version__}")
    assert not os.listdir(tmp_path)


def test_global_options_go_before_or_after_the_command(tmp_path):
    ini = tmp_path / "site.ini"
    ini.write_text("[database]\npath = elsewhere.sqlite3\n")
    for args in (["--config", str(ini), "version"], ["version", "--config", str(ini)]):
        code, out, err = run(args, tmp_path)
        assert code == 0, err
        assert str(tmp_path / "elsewhere.sqlite3") in out
    code, _, err = run(["--config", str(ini), "serve", "--config", str(tmp_path / "missing.ini")], tmp_path)
    assert code == 2 and "missing.ini not found" in err  # the later one wins, as usual


def test_bad_config_exits_2_with_one_line_and_no_traceback(tmp_path):
    ini = tmp_path / "bad.ini"
    ini.write_text("[server]\nport = 99999\n")
    code, out, err = run(["serve", "--config", str(ini)], tmp_path)
    assert code == 2 and err.strip().count("\n") == 0 and "Traceback" not in err
    assert err.startswith("itflow-api: [server] port must be between 1 and 65535")
    code, _, err = run(["serve", "--port", "0"], tmp_path)
    assert code == 2 and "port must be between 1 and 65535" in err
    assert sorted(os.listdir(tmp_path)) == ["bad.ini"]


def test_port_in_use_fails_cleanly_and_leaves_nothing(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = run(["serve", "--port", str(port)], tmp_path)
    assert code == 1 and "Traceback" not in err
    assert err.strip() == (f"itflow-api: cannot listen on 127.0.0.1:{port} (Address already in use): "
                           "choose another with --port or stop what is using it")
    assert os.listdir(tmp_path) == [], "a failed start left files behind"


def test_unreachable_database_fails_cleanly(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    env = {"ITFLOW_API_DATABASE_BACKEND": "mysql", "ITFLOW_API_DATABASE_PORT": str(closed_port)}
    code, out, err = run(["serve", "--port", str(closed_port)], tmp_path, env)
    assert code == 1 and "Traceback" not in err and err.count("\n") == 1
    assert err.startswith("itflow-api: cannot reach the database (MySQL root@127.0.0.1:")
    code, out, err = run(["version"], tmp_path, env)
    assert code == 1 and "not reachable" in out
    code, _, err = run(["serve"], tmp_path, {"ITFLOW_API_DATABASE_PATH": str(tmp_path / "no" / "dir.sqlite3")})
    assert code == 1 and "cannot reach the database (SQLite file" in err
    assert os.listdir(tmp_path) == []


def test_zero_config_start_makes_an_example_key_only_on_a_database_without_keys(tmp_path):
    port = _free_port()
    for attempt in range(2):
        env = {k: v for k, v in os.environ.items() if not k.startswith("ITFLOW_API_")}
        proc = subprocess.Popen([sys.executable, "-m", "itflow_api", "serve", "--port", str(port), "--workers", "1"],
                                cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        watchdog = threading.Timer(30, proc.kill)  # never hang the suite on a server that does not start
        watchdog.start()
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("serving on"):
                break
        _answers(port)  # stopped once it serves (granian misses a stop that lands while a worker loads)
        watchdog.cancel()
        proc.terminate()
        assert proc.wait(20) == 0
        output = "".join(lines)
        # the default server is granian wherever it installed (it is a default dependency)
        expected = "granian" if importlib.util.find_spec("granian") else "waitress"
        assert f"; {expected}, 1 worker(s)" in output, output
        if attempt == 0:
            assert "A fresh all-clients key" in output and re.search(r"api_key=[A-Za-z0-9]{32}", output)
        else:
            assert "A fresh" not in output and "api_key=" not in output
            assert "1 API key(s) in the database: `itflow-api keys list` shows them" in output


def _answers(port, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/clients/read.php", timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # an answer (401 without a key)
        except OSError:
            time.sleep(0.1)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- init-db, keys and the secret, in-process on a database of their own ------------------

@pytest.fixture
def own_db(tmp_path, monkeypatch):
    """A brand-new empty database reached through the environment, as a user would."""
    with fresh_config(tmp_path) as cfg:
        point_cli_at(monkeypatch, cfg, SECRET)
        db = Database.from_config(cfg.database)
        yield cfg, db
        db.close()


def _snapshot(db, tables):
    with db.transaction():
        return {t: db.rows(f"SELECT * FROM {t}") for t in tables}


def test_init_db_on_an_itflow_database_changes_nothing_of_itflows(own_db, capsys):
    cfg, db = own_db
    db.create_schema()  # as if ITFlow had made it
    with db.transaction(write=True):
        db.execute("DELETE FROM modules")
        db.execute("DROP TABLE document_versions")
    before_tables = db.table_names()
    before = _snapshot(db, before_tables)
    assert cli.main(["init-db"]) == 0
    out = capsys.readouterr().out
    assert "existing ITFlow database" in out and meta.TABLE in out
    assert "tables document_versions" in out and "seed rows modules module_client" in out
    assert db.table_names() == before_tables | {meta.TABLE}
    assert _snapshot(db, before_tables) == before
    # asked explicitly, it adds what is missing
    assert cli.main(["init-db", "--add-missing"]) == 0
    assert "document_versions" in db.table_names()
    with db.transaction():
        assert db.count("modules", {}) == len(schema.PERMISSION_MODULES)


def test_init_db_on_an_empty_database_creates_and_may_repeat(own_db, capsys):
    cfg, db = own_db
    assert cli.main(["init-db"]) == 0
    assert "Schema ready" in capsys.readouterr().out
    assert meta.get(db, meta.SCHEMA_OWNER) == "itflow-api"
    with db.transaction(write=True):
        db.execute("DELETE FROM modules")
    assert cli.main(["init-db"]) == 0  # our own schema: what is missing is added again
    assert "Schema ready" in capsys.readouterr().out
    with db.transaction():
        assert db.count("modules", {}) == len(schema.PERMISSION_MODULES)


def test_keys_create_refuses_what_it_cannot_honour(own_db, capsys):
    cfg, db = own_db
    assert cli.main(["init-db"]) == 0
    capsys.readouterr()
    cases = [
        (["--user-id", "7"], "ITFlow 2.4.6 layout"),
        (["--client-id", "4242"], "there is no client with id 4242"),
        (["--expire", "2001-01-01"], "not in the future"),
    ]
    for extra, message in cases:
        assert cli.main(["keys", "create", "--name", "x", *extra]) == 2
        assert message in capsys.readouterr().err
    with db.transaction():
        assert db.count("api_keys", {}) == 0


def test_keys_create_on_the_user_layout_needs_an_existing_user(tmp_path, monkeypatch, capsys):
    with fresh_config(tmp_path) as cfg:
        d = cfg.database
        for key, value in {"BACKEND": d.backend, "PATH": d.path, "HOST": d.host, "PORT": str(d.port),
                           "USER": d.user, "PASSWORD": d.password, "NAME": d.name, "DRIVER": d.driver}.items():
            monkeypatch.setenv(f"ITFLOW_API_DATABASE_{key}", value)
        monkeypatch.setenv("ITFLOW_API_SECURITY_KEY_HASH_SECRET", SECRET)
        assert cli.main(["init-db", "--user-keys"]) == 0
        capsys.readouterr()
        assert cli.main(["keys", "create", "--name", "x", "--client-id", "3"]) == 2
        assert "ITFlow 2.4.7+ layout" in capsys.readouterr().err
        assert cli.main(["keys", "create", "--name", "x", "--user-id", "99"]) == 2
        assert "there is no user with id 99" in capsys.readouterr().err


def test_a_different_secret_is_refused_while_hashed_keys_exist(own_db, capsys, monkeypatch):
    cfg, db = own_db
    assert cli.main(["init-db"]) == 0
    assert cli.main(["keys", "create", "--name", "first"]) == 0
    stored = meta.get(db, "key_hash_secret_fingerprint")
    assert stored.startswith("hmac-sha256:") and SECRET not in stored
    capsys.readouterr()
    monkeypatch.setenv("ITFLOW_API_SECURITY_KEY_HASH_SECRET", "another-secret")
    assert cli.main(["keys", "create", "--name", "second"]) == 2
    err = capsys.readouterr().err
    assert "not the one the 1 key(s)" in err and "key_hash_secret" in err and "another-secret" not in err
    assert cli.main(["serve", "--port", str(_free_port())]) == 2
    # once those keys are revoked the new secret is taken
    monkeypatch.setenv("ITFLOW_API_SECURITY_KEY_HASH_SECRET", SECRET)
    key_id = KeyStore(db, SECRET.encode()).list()[0]["api_key_id"]
    assert cli.main(["keys", "revoke", key_id]) == 0
    monkeypatch.setenv("ITFLOW_API_SECURITY_KEY_HASH_SECRET", "another-secret")
    assert cli.main(["keys", "create", "--name", "second"]) == 0


def test_relative_secret_file_is_found_from_any_directory(tmp_path, monkeypatch):
    if BACKEND != "sqlite":
        pytest.skip("paths are the same on both backends")
    site = tmp_path / "site"
    site.mkdir()
    ini = site / "config.ini"
    ini.write_text("[database]\npath = api.sqlite3\n[security]\nsecret_file = api.secret\n")
    code, out, err = run(["--config", str(ini), "keys", "create", "--name", "from site"], site)
    assert code == 0, err
    key = out.strip().splitlines()[-1]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cfg = config.load(str(ini), environ={})
    db = Database.from_config(cfg.database)
    from itflow_api.lib.access.secret import load_secret
    assert KeyStore(db, load_secret(cfg.security)).authenticate(key) is not None
    monkeypatch.chdir(elsewhere)
    code, out, err = run(["--config", "../site/config.ini", "keys", "list"], elsewhere)
    assert code == 0 and "from site" in out
    assert os.listdir(elsewhere) == []
    db.close()


def test_every_setting_is_documented_in_the_example():
    from dataclasses import fields
    path = os.path.join(os.path.dirname(__file__), os.pardir, "config.example.ini")
    text = open(path, encoding="utf-8").read()
    undocumented = [f"[{section}] {f.name}" for section, target in config.Config().sections().items()
                    for f in fields(target) if not re.search(rf"^;?\s*{f.name}\s*=", text, re.M)]
    assert not undocumented, f"add these to config.example.ini: {undocumented}"
    assert config.load(path, environ={}).source == path  # and the example itself loads


@pytest.mark.parametrize("url, extra", [("redis://127.0.0.1:6379", "redis"), ("memcached://127.0.0.1:11211", "memcached")])
def test_a_shared_limit_storage_without_its_client_names_the_extra(url, extra):
    module = "redis" if extra == "redis" else "pymemcache"
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here")
    from itflow_api.lib.web.ratelimit import RateLimits
    settings = config.Config().limits
    settings.storage = url
    with pytest.raises(config.ConfigError, match=rf"pip install 'itflow-api\[{extra}\]'"):
        RateLimits(settings, None)
