"""Prometheus metrics ([metrics]): off by default, guarded by an address list and a token,
counting real requests by endpoint and status, and summed over a real server's workers."""
import copy
import glob
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from falcon import testing
from helpers import SECRET, free_port, insert, make_key
from prometheus_client.parser import text_string_to_metric_families
from test_shutdown import Server, write_ini

from itflow_api.lib.access.keys import KeyStore
from itflow_api.lib.db.database import Database
from itflow_api.lib.events import capture, webhooks
from itflow_api.lib.web import config as config_module
from itflow_api.lib.web import metrics
from itflow_api.lib.web.app import create_app
from itflow_api.lib.web.config import ConfigError

READ = "/api/v1/clients/read.php"


def samples(text):
    """{(sample name, sorted labels): value} of a scrape."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(found, name, **labels):
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def metered(config, db):
    """Make an app with [metrics] as given, on a Database object of its own (the metrics
    count that object's connections); yields the maker."""
    opened = []

    def make(**settings):
        cfg = copy.deepcopy(config)
        cfg.metrics.enabled = True
        for name, setting in settings.items():
            section, _, field = name.partition("__")
            setattr(getattr(cfg, section if field else "metrics"), field or section, setting)
        own = Database.from_config(cfg.database)
        opened.append(own)
        keys = KeyStore(own, SECRET.encode(), cache_seconds=0)
        return testing.TestClient(create_app(cfg, own, keys)), keys, own

    yield make
    for own in opened:
        own.close()


def scrape(client, **headers):
    result = client.simulate_get("/metrics", headers=headers)
    assert result.status_code == 200, result.text
    assert result.headers["content-type"].startswith("text/plain")
    return result.text


# --- off, on, guarded ----------------------------------------------------------------------------

def test_off_by_default(app, db):
    assert config_module.Config().metrics.enabled is False
    result = testing.TestClient(app).simulate_get("/metrics")
    assert result.status_code == 404
    assert result.json["success"] == "False"
    # Off is no work at all: no middleware of ours, the database's transactions as they were.
    assert not any(isinstance(m, metrics._Observer) for m in app._unprepared_middleware)
    assert "transaction" not in vars(db)


def test_requests_are_counted_by_endpoint_method_and_status(metered, db):
    client, keys, _ = metered()
    key = make_key(keys)
    for _ in range(3):
        assert client.simulate_get(READ, params={"api_key": key}).status_code == 200
    assert client.simulate_get(READ).status_code == 401
    assert client.simulate_post(READ, params={"api_key": key}).status_code == 405
    assert client.simulate_get("/made/up/path", params={"q": "x"}).status_code == 404
    assert client.simulate_get("/another/made/up").status_code == 404
    found = samples(scrape(client))
    total = "itflow_api_requests_total"
    assert value(found, total, endpoint=READ, method="GET", status="200") == 3
    assert value(found, total, endpoint=READ, method="GET", status="401") == 1
    assert value(found, total, endpoint=READ, method="POST", status="405") == 1
    # Unknown paths are one series, whatever the path (no series per made-up path).
    assert value(found, total, endpoint="unmatched", method="GET", status="404") == 2
    assert not any("made" in str(labels) for _, labels in found)

    duration = "itflow_api_request_duration_seconds"
    labels = {"endpoint": READ, "method": "GET", "status": "200"}
    assert value(found, duration + "_count", **labels) == 3
    assert value(found, duration + "_sum", **labels) > 0
    buckets = [value(found, duration + "_bucket", le=str(b) if b != float("inf") else "+Inf", **labels)
               for b in (*metrics.BUCKETS, float("inf"))]
    assert buckets == sorted(buckets) and buckets[-1] == 3  # cumulative, ending at the count


def test_a_scrape_holds_no_key_key_name_or_client_data(metered, db):
    client, keys, _ = metered()
    key = make_key(keys)
    insert(db, "clients", client_name="Secret Client Ltd")
    assert client.simulate_get(READ, params={"api_key": key, "client_name": "Secret Client Ltd"}).status_code == 200
    assert client.simulate_get(READ, params={"api_key": "wrong-" + key}).status_code == 401
    text = scrape(client)
    for secret in (key, key[:16], "test key", "Secret Client", "client_name", "api_key"):
        assert secret not in text


def test_the_token_is_required_when_set(metered):
    client, _, _ = metered(token="s3cret-token")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-token"},
                    {"Authorization": "s3cret-token"}):
        result = client.simulate_get("/metrics", headers=headers)
        assert result.status_code == 401
        assert result.headers["www-authenticate"].startswith("Bearer")
        assert result.json["success"] == "False" and "Authorization: Bearer" in result.json["message"]
    assert client.simulate_get("/metrics", params={"token": "s3cret-token"}).status_code == 401
    scrape(client, Authorization="Bearer s3cret-token")


def test_only_allowed_addresses_may_scrape(metered):
    client, _, _ = metered(allow="10.0.0.0/8")
    result = client.simulate_get("/metrics")  # the test client calls from 127.0.0.1
    assert result.status_code == 403 and "[metrics] allow" in result.json["message"]
    client, _, _ = metered(allow="")  # empty: any address
    scrape(client)
    client, _, _ = metered(allow="127.0.0.0/8", token="t")
    assert client.simulate_get("/metrics").status_code == 401
    scrape(client, Authorization="Bearer t")


def test_its_own_path(metered):
    client, _, _ = metered(path="/internal/prometheus")
    assert client.simulate_get("/metrics").status_code == 404
    assert "itflow_api_requests_total" in client.simulate_get("/internal/prometheus").text


def test_settings_are_checked_at_start(config, db, monkeypatch):
    for bad, says in (({"path": "metrics"}, "[metrics] path"), ({"path": "/api/v1/metrics"}, "[metrics] path"),
                      ({"allow": "10.0.0.0/8 nowhere"}, "[metrics] allow")):
        cfg = copy.deepcopy(config)
        cfg.metrics.enabled = True
        for name, setting in bad.items():
            setattr(cfg.metrics, name, setting)
        with pytest.raises(ConfigError, match=says.replace("[", r"\[").replace("]", r"\]")):
            create_app(cfg, db)
    cfg = config_module.load(None, {"ITFLOW_API_METRICS_ENABLED": "yes", "ITFLOW_API_METRICS_TOKEN": "abc"})
    assert (cfg.metrics.enabled, cfg.metrics.token, cfg.metrics.path) == (True, "abc", "/metrics")


def test_without_prometheus_client_the_start_says_what_to_install(config, db, monkeypatch):
    real = metrics.importlib.util.find_spec
    monkeypatch.setattr(metrics.importlib.util, "find_spec",
                        lambda name, *a: None if name == "prometheus_client" else real(name, *a))
    cfg = copy.deepcopy(config)
    cfg.metrics.enabled = True
    with pytest.raises(ConfigError) as raised:
        create_app(cfg, db)
    assert "pip install 'itflow-api[metrics]'" in str(raised.value)
    assert "\n" not in str(raised.value)
    cfg.metrics.enabled = False
    create_app(cfg, db)  # off: the package is not needed


# --- what is measured besides requests -----------------------------------------------------------

def test_rate_limit_refusals_by_reason(metered):
    client, keys, _ = metered(limits__requests_per_key="2/minute", limits__failed_auth_per_address="2/minute",
                              limits__quota_sync_seconds=0)
    key = make_key(keys)
    statuses = [client.simulate_get(READ, params={"api_key": key}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    wrong = [client.simulate_get(READ, params={"api_key": f"wrong-{n}"}, remote_addr="10.1.2.3").status_code
             for n in range(4)]
    assert wrong[:2] == [401, 401] and 429 in wrong
    found = samples(scrape(client))
    assert value(found, "itflow_api_rate_limited_total", reason="quota") == 1
    assert value(found, "itflow_api_rate_limited_total", reason="failed_auth") == wrong.count(429)


def test_connections_in_use_and_idle(metered):
    client, keys, own = metered()
    key = make_key(keys)
    use = metrics.PoolUse.of(own)
    assert use.in_use == 0
    with own.transaction(write=True):
        with own.transaction():  # nested: the same connection
            assert use.in_use == 1
        own.scalar("SELECT 1")
        assert use.in_use == 1
    assert use.in_use == 0
    with pytest.raises(ZeroDivisionError), own.transaction():
        raise ZeroDivisionError
    assert use.in_use == 0
    assert client.simulate_get(READ, params={"api_key": key}).status_code == 200
    found = samples(scrape(client))
    assert value(found, "itflow_api_db_connections_in_use") == 0
    assert value(found, "itflow_api_db_connections_idle") >= 1
    assert value(found, "itflow_api_db_pool_size") == own._pool.size


def test_webhook_delivery_lag(metered, config, db, keys, monkeypatch):
    capture.install(db)
    webhooks.install(db)
    with db.transaction(write=True):
        for table in (webhooks.DELIVERIES, webhooks.TABLE, capture.EVENTS):
            db.execute(f"DELETE FROM {table}")
    client, own_keys, own = metered(events__allow_private_targets="127.0.0.1/32")
    assert "webhook_delivery_lag" not in client.simulate_get("/api/v1/health").text
    key = make_key(own_keys)
    assert value(samples(scrape(client)), "itflow_api_webhook_delivery_lag_seconds") == 0  # no subscription
    created = client.simulate_post("/api/v1/webhooks/create.php", params={"api_key": key},
                                   json={"url": f"http://127.0.0.1:{free_port()}/hook"})
    assert created.json["success"] == "True", created.json
    assert value(samples(scrape(client)), "itflow_api_webhook_delivery_lag_seconds") == 0  # nothing waiting
    ago = "datetime('now', 'localtime', '-120 seconds')" if db.dialect == "sqlite" else "NOW() - INTERVAL 120 SECOND"
    with db.transaction(write=True):
        capture.add_event(db, "clients", "create", 1, 1)
        db.execute(f"UPDATE {capture.EVENTS} SET event_at = {ago}")
    lag = value(samples(scrape(client)), "itflow_api_webhook_delivery_lag_seconds")
    assert 115 <= lag <= 200  # waiting to be given its place in the feed
    from itflow_api.lib.events import feed
    head = feed.sequence(db)
    lag = value(samples(scrape(client)), "itflow_api_webhook_delivery_lag_seconds")
    assert 115 <= lag <= 200  # in the feed, not yet received
    with db.transaction(write=True):
        db.execute(f"UPDATE {webhooks.TABLE} SET webhook_event_seq = :head", {"head": head})
    assert value(samples(scrape(client)), "itflow_api_webhook_delivery_lag_seconds") == 0


# --- a real server with two workers -------------------------------------------------------------

def _get(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_two_workers_share_their_numbers(config, keys, tmp_path, monkeypatch):
    key = make_key(keys)
    shared = tmp_path / "prometheus"
    shared.mkdir()
    (shared / "counter_1.db").write_bytes(b"left over from an earlier run")
    port = free_port()
    ini = write_ini(config, tmp_path, workers=2, threads=2, port=port)
    with open(ini, "a") as f:
        f.write("[metrics]\nenabled = yes\ntoken = scrape-me\n")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared))
    server = Server(ini, port)
    try:
        base = f"http://127.0.0.1:{port}"
        assert not (shared / "counter_1.db").exists()  # emptied at start
        sent, pids = 0, set()
        deadline = time.time() + 60
        # A new connection each time: both workers take some (once both are up).
        while (sent < 40 or len(pids) < 2) and time.time() < deadline:
            assert _get(f"{base}{READ}?api_key={key}")[0] == 200
            sent += 1
            pids = {name.rsplit("_", 1)[-1][:-len(".db")] for name in glob.glob(str(shared / "counter_*.db"))}
        assert len(pids) == 2, pids
        assert _get(f"{base}/metrics")[0] == 401
        totals = set()
        for _ in range(6):  # whichever worker answers, the numbers are everyone's
            status, text = _get(f"{base}/metrics", {"Authorization": "Bearer scrape-me"})
            assert status == 200, text
            found = samples(text)
            totals.add(value(found, "itflow_api_requests_total", endpoint=READ, method="GET", status="200"))
            assert value(found, "itflow_api_request_duration_seconds_count", endpoint=READ, method="GET",
                         status="200") == sent
            assert ("itflow_api_db_connections_idle", ()) in found
        assert totals == {sent}
        assert key not in text and "test key" not in text
        # A worker killed outright is replaced; its connections stop counting, its requests stay.
        victim = int(sorted(pids)[0])
        os.kill(victim, signal.SIGKILL)
        deadline = time.time() + 20
        while time.time() < deadline and "starting a replacement" not in server.output:
            time.sleep(0.1)
        time.sleep(1.5)
        found = samples(_get(f"{base}/metrics", {"Authorization": "Bearer scrape-me"})[1])
        assert value(found, "itflow_api_requests_total", endpoint=READ, method="GET", status="200") == sent
        assert not glob.glob(str(shared / f"gauge_live*_{victim}.db"))
    finally:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


def test_serve_refuses_to_start_without_the_package(config, tmp_path):
    """The one-line message, from the real command (the package hidden from the child)."""
    ini = write_ini(config, tmp_path, port=free_port())
    with open(ini, "a") as f:
        f.write("[metrics]\nenabled = yes\n")
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "prometheus_client.py").write_text("raise ImportError('hidden for this test')\n")
    (hide / "sitecustomize.py").write_text(
        "import importlib.util, sys\n"
        "_real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *a: None if name == 'prometheus_client' else _real(name, *a)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ITFLOW_API_")}
    env["PYTHONPATH"] = str(hide) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-m", "itflow_api", "--config", str(ini), "serve"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "pip install 'itflow-api[metrics]'" in errors[0], done.stderr
