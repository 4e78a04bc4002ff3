"""The webhook commands: `itflow-api webhooks list|create|delete|test` and `itflow-api deliver`."""
import re

import pytest
from helpers import SECRETS_USED, WebhookReceiver, point_cli_at
from standardwebhooks import Webhook
from test_webhooks import FEED, _install_events

from itflow_api.lib import cli
from itflow_api.lib.events import webhooks


@pytest.fixture
def cli_env(config, db, monkeypatch):
    point_cli_at(monkeypatch, config, config.security.key_hash_secret)
    monkeypatch.setenv("ITFLOW_API_EVENTS_ALLOW_PRIVATE_TARGETS", "127.0.0.1/32")
    _install_events(db)
    webhooks.install(db)
    with db.transaction(write=True):
        for table in (webhooks.DELIVERIES, webhooks.TABLE):
            db.execute(f"DELETE FROM {table}")


@pytest.fixture
def receiver():
    r = WebhookReceiver()
    yield r
    r.close()


def test_create_list_test_deliver_delete(cli_env, db, keys, receiver, capsys):
    presented, key_id = keys.create("cli hooks", "2099-01-01", 0)
    SECRETS_USED.add(presented)
    assert cli.main(["webhooks", "create", "--key-id", str(key_id), "--url", receiver.url, "--modules", "tickets"]) == 0
    out = capsys.readouterr().out
    secret = out.strip().splitlines()[-1]
    SECRETS_USED.add(secret)
    webhook_id = int(re.search(r"Created webhook (\d+)", out).group(1))
    assert secret.startswith("whsec_")

    assert cli.main(["webhooks", "list"]) == 0
    listing = capsys.readouterr().out
    assert receiver.url in listing and secret not in listing and "tickets" in listing

    assert cli.main(["webhooks", "test", str(webhook_id)]) == 0
    assert "delivered: HTTP 200" in capsys.readouterr().out
    assert Webhook(secret).verify(receiver.received[0]["body"], receiver.received[0]["headers"])["type"] == "webhooks.test"

    with db.transaction(write=True):
        FEED.add_event(db, "tickets", "created", 5, 0)
    assert cli.main(["deliver", "--once"]) == 0
    assert [p["type"] for _, p in receiver.delivered()][-1] == "tickets.created"

    assert cli.main(["webhooks", "delete", str(webhook_id)]) == 0
    assert cli.main(["webhooks", "delete", str(webhook_id)]) == 2


def test_create_refuses_an_unsafe_url_and_an_unknown_key(cli_env, keys, capsys):
    presented, key_id = keys.create("cli hooks", "2099-01-01", 0)
    SECRETS_USED.add(presented)
    assert cli.main(["webhooks", "create", "--key-id", str(key_id), "--url", "http://10.0.0.1/x"]) == 2
    assert "private" in capsys.readouterr().err
    assert cli.main(["webhooks", "create", "--key-id", "987654", "--url", "http://127.0.0.1:9/x"]) == 2
    assert "no active key" in capsys.readouterr().err


def test_serve_processes_deliver(cli_env, config, db, keys, receiver, make_client):
    """`itflow-api serve` with two workers: each runs a delivery thread; a ticket written by
    plain SQL reaches the subscriber once, within a few seconds."""
    import os
    import socket
    import subprocess
    import sys
    import time

    import requests

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "itflow_api.lib.cli", "serve", "--port", str(port), "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    try:
        presented, _ = keys.create("serve hooks", "2099-01-01", 0)
        SECRETS_USED.add(presented)
        base = f"http://127.0.0.1:{port}/api/v1"
        for _ in range(200):
            try:
                created = requests.post(f"{base}/webhooks/create.php", timeout=5,
                                        json={"api_key": presented, "url": receiver.url, "modules": "tickets"}).json()
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        assert created["success"] == "True", created
        secret = created["data"][0]["webhook_secret"]
        SECRETS_USED.add(secret)
        client = make_client("Served")
        time.sleep(1)  # both workers are up and polling
        started = time.monotonic()
        with db.transaction(write=True):
            db.insert("tickets", {"ticket_subject": "served", "ticket_client_id": client})
        got = receiver.wait_for(1, seconds=5)
        assert got and got[0][1]["type"] == "tickets.created" and time.monotonic() - started < 3
        time.sleep(1.5)
        assert len(receiver.received) == 1  # not sent again by the other process
        Webhook(secret).verify(receiver.received[0]["body"], receiver.received[0]["headers"])
    finally:
        proc.terminate()
        proc.wait(15)
