"""Webhooks: subscriptions through the API, Standard Webhooks signatures checked with the
`standardwebhooks` package by a real HTTP receiver on 127.0.0.1, ordered at-least-once
delivery with back-off, disabling, the outbound safety rules, the creating key's visibility,
and two workers sharing the work without sending twice."""
import base64
import contextlib
import importlib
import json
import socket
import threading
import time

import pytest
import test_user_keys
from helpers import SECRET, SECRETS_USED, Api, WebhookReceiver, make_key
from standardwebhooks import Webhook

from itflow_api.lib.access.keys import KeyStore
from itflow_api.lib.events import delivery, outbound, signing, webhooks
from itflow_api.lib.web.app import create_app

LOOPBACK = "127.0.0.1/32"


# --- the change feed: the real one (lib/events/feed.py), else a small stand-in -----------------

def _real_feed():
    try:
        return importlib.import_module("itflow_api.lib.events.feed")
    except ImportError:
        return None


class _Visibility:
    def __init__(self, modules, client_ids):
        self.modules, self.client_ids = modules, client_ids


class StandInFeed:
    """The contract's functions over a bare events table, for as long as feed.py is not there."""
    TABLE = "itflow_api_events"

    @classmethod
    def install(cls, db):
        auto = "INTEGER PRIMARY KEY AUTOINCREMENT" if db.dialect == "sqlite" else "BIGINT AUTO_INCREMENT PRIMARY KEY"
        with db.transaction(write=True):
            db.execute(f"CREATE TABLE IF NOT EXISTS {cls.TABLE} (event_id {auto}, event_seq BIGINT NULL, "
                       "event_module VARCHAR(32) NOT NULL, event_action VARCHAR(16) NOT NULL, "
                       "event_record_id INT NOT NULL, event_client_id INT NOT NULL, event_at DATETIME NOT NULL)")

    @classmethod
    def installed(cls, db):
        return cls.TABLE in db.table_names()

    @classmethod
    def sequence(cls, db):
        with db.transaction(write=True):
            db.execute(f"UPDATE {cls.TABLE} SET event_seq = event_id WHERE event_seq IS NULL")
            return int(db.scalar(f"SELECT COALESCE(MAX(event_seq), 0) AS n FROM {cls.TABLE}") or 0)

    @classmethod
    def events_after(cls, db, after, limit, *, modules=None, actions=None, client_ids=None):
        sql = (f"SELECT event_seq AS event_id, event_module, event_action, event_record_id, event_client_id, event_at "
               f"FROM {cls.TABLE} WHERE event_seq > :after")
        binds = {"after": after, "limit": limit}
        for column, values in (("event_module", modules), ("event_action", actions), ("event_client_id", client_ids)):
            if values is not None:
                names = [f"{column}_{i}" for i in range(len(values))]
                if not names:
                    return []
                sql += f" AND {column} IN ({', '.join(':' + n for n in names)})"
                binds.update(zip(names, sorted(values), strict=True))
        with db.transaction():
            rows = db.rows(sql + " ORDER BY event_seq LIMIT :limit", binds)
        for row in rows:
            for name in ("event_id", "event_record_id", "event_client_id"):
                row[name] = int(row[name])
        return rows

    @staticmethod
    def visibility(db, key):
        return _Visibility(None, None if key.all_clients else frozenset({key.client_id}))

    @classmethod
    def add_event(cls, db, module, action, record_id, client_id):
        db.insert(cls.TABLE, {"event_module": module, "event_action": action, "event_record_id": record_id,
                              "event_client_id": client_id, "event_at": time.strftime("%Y-%m-%d %H:%M:%S")})

    @classmethod
    def oldest_seq(cls, db):
        value = db.scalar(f"SELECT MIN(event_seq) AS n FROM {cls.TABLE}")
        return None if value is None else int(value)

    @staticmethod
    def prune(db, retention_days):
        return 0


REAL_FEED = _real_feed()
FEED = REAL_FEED or StandInFeed


def _install_events(db):
    if REAL_FEED is None:
        StandInFeed.install(db)
        return
    capture = importlib.import_module("itflow_api.lib.events.capture")
    install = getattr(capture, "install", None)
    if install is None:
        pytest.skip("lib/events/capture.py has no install(db) yet")
    install(db)


@pytest.fixture
def receiver():
    r = WebhookReceiver()
    yield r
    r.close()


@pytest.fixture
def hooks(config, db, keys, monkeypatch):
    """An app whose [events] allow 127.0.0.1, on a database with events installed and no
    subscription, delivery or event left from another test."""
    monkeypatch.setattr(config.events, "allow_private_targets", LOOPBACK)
    monkeypatch.setattr(config.events, "max_failures", 4)
    _install_events(db)
    webhooks.install(db)
    with db.transaction(write=True):
        for table in (webhooks.DELIVERIES, webhooks.TABLE, "itflow_api_events"):
            db.execute(f"DELETE FROM {table}")
    app = create_app(config, db, keys)
    return Api(app)


@contextlib.contextmanager
def no_allow_list(db):
    """[events] allow_private_targets empty (the default) for the duration."""
    saved = webhooks.settings_for(db)
    webhooks.configure(db, webhooks.Settings(SECRET.encode(), max_failures=saved.max_failures))
    try:
        yield
    finally:
        webhooks.configure(db, saved)


def worker(db, owner="w1", **kwargs):
    kwargs.setdefault("backoff_base", 0.05)
    kwargs.setdefault("backoff_cap", 0.2)
    return delivery.Worker(db, webhooks.settings_for(db), owner=owner, feed=FEED, **kwargs)


def subscribe(api, key, url, **fields):
    status, body = api.post("webhooks/create", {"url": url, **fields}, key=key)
    assert (status, body["success"]) == (200, "True"), body
    data = body["data"][0]
    SECRETS_USED.add(data["webhook_secret"])
    return data["insert_id"], data["webhook_secret"]


def add_events(db, *events):
    with db.transaction(write=True):
        for module, action, record_id, client_id in events:
            FEED.add_event(db, module, action, record_id, client_id)


def drain(w, rounds=40, pause=0.06):
    for _ in range(rounds):
        w.run_once()
        time.sleep(pause)


def verified(secret, record):
    return Webhook(secret).verify(record["body"], record["headers"])


# --- subscriptions --------------------------------------------------------------------------------

def test_create_answers_the_secret_once_and_stores_it_sealed(hooks, db, all_key, receiver):
    webhook_id, secret = subscribe(hooks, all_key, receiver.url, modules=["tickets", "clients"], actions="created")
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) >= 24
    stored = db.row(f"SELECT * FROM {webhooks.TABLE} WHERE webhook_id = :id", {"id": webhook_id})
    assert secret not in json.dumps(stored) and secret[6:] not in json.dumps(stored)
    assert webhooks.secret_of(db, stored) == secret
    status, body = hooks.get("webhooks/read", key=all_key, webhook_id=webhook_id)
    assert status == 200 and body["count"] == 1
    row = body["data"][0]
    assert row["webhook_modules"] == "tickets,clients" and row["webhook_actions"] == "created"
    assert "webhook_secret" not in row and secret not in json.dumps(body)


def test_a_key_sees_and_changes_only_its_own(hooks, keys, all_key, receiver):
    webhook_id, _ = subscribe(hooks, all_key, receiver.url)
    other = make_key(keys)
    assert hooks.get("webhooks/read", key=other)[1]["success"] == "False"
    for path, fields in (("webhooks/update", {"enabled": 0}), ("webhooks/delete", {}), ("webhooks/test", {}),
                         ("webhooks/replay", {"after": 0})):
        status, body = hooks.post(path, {"webhook_id": webhook_id, **fields}, key=other)
        assert (status, body["success"]) == (200, "False"), (path, body)
    assert hooks.get("webhooks/deliveries", key=other, webhook_id=webhook_id)[1]["success"] == "False"
    assert hooks.get("webhooks/read", key=all_key)[1]["count"] == 1


def test_update_and_delete(hooks, db, all_key, receiver):
    webhook_id, _ = subscribe(hooks, all_key, receiver.url)
    assert hooks.post("webhooks/update", {"webhook_id": webhook_id, "modules": "tickets", "enabled": "0"},
                      key=all_key) == (200, {"success": "True", "count": 1})
    row = hooks.get("webhooks/read", key=all_key, webhook_id=webhook_id)[1]["data"][0]
    assert (row["webhook_modules"], row["webhook_enabled"]) == ("tickets", "0")
    status, body = hooks.post("webhooks/update", {"webhook_id": webhook_id, "modules": "nonsense"}, key=all_key)
    assert body["success"] == "False" and "unknown name" in body["message"]
    assert hooks.post("webhooks/delete", {"webhook_id": webhook_id}, key=all_key) == (200, {"success": "True", "count": 1})
    assert hooks.get("webhooks/read", key=all_key)[1]["success"] == "False"


def test_a_client_key_cannot_filter_on_another_client(hooks, two_clients, receiver):
    a, b, key_a = two_clients
    status, body = hooks.post("webhooks/create", {"url": receiver.url, "client_id": b}, key=key_a)
    assert body["success"] == "False" and f"limited to client {a}" in body["message"]


@pytest.mark.parametrize("url, says", [
    ("ftp://example.com/x", "http:// or https://"),
    ("http://user:pw@example.com/", "user name or password"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("http://10.0.0.1/hook", "private"),
    ("http://100.64.1.1/hook", "CGNAT"),
    ("http://[::1]/hook", "loopback"),
    ("http://[fe80::1]/hook", "link-local"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback"),
    ("http://127.0.0.1:8080/hook", "loopback"),
    ("http://0.0.0.0/hook", "unspecified"),
    ("http://224.0.0.1/hook", "multicast"),
    ("http://localhost/hook", "localhost resolves to"),
    ("http://no-such-host.invalid/hook", "cannot resolve"),
])
def test_unsafe_urls_are_refused_at_create(hooks, db, all_key, url, says):
    with no_allow_list(db):
        status, body = hooks.post("webhooks/create", {"url": url}, key=all_key)
    assert (status, body["success"]) == (200, "False") and says in body["message"], body


def test_loopback_needs_the_allow_setting(hooks, db, all_key, receiver):
    with no_allow_list(db):
        status, body = hooks.post("webhooks/create", {"url": receiver.url}, key=all_key)
    assert body["success"] == "False"
    assert "loopback" in body["message"] and "allow_private_targets" in body["message"]
    assert hooks.post("webhooks/create", {"url": receiver.url}, key=all_key)[1]["success"] == "True"


def test_outbound_rules():
    allowed = outbound.parse_networks("10.1.0.0/16")
    assert outbound.refusal(outbound.ipaddress.ip_address("10.1.2.3"), allowed) is None
    assert "private" in outbound.refusal(outbound.ipaddress.ip_address("10.2.0.1"), allowed)
    assert "private" in outbound.refusal(outbound.ipaddress.ip_address("192.168.1.1"), [])
    assert "private" in outbound.refusal(outbound.ipaddress.ip_address("fd00::1"), [])
    assert outbound.refusal(outbound.ipaddress.ip_address("93.184.216.34"), []) is None
    with pytest.raises(outbound.UnsafeTarget):
        outbound.parse_networks("not-a-network")


def test_delivery_rechecks_the_address_on_every_attempt(hooks, db, all_key, receiver):
    """A subscription made while its target was allowed is refused once it is not (as after a
    DNS answer that changed): nothing reaches the receiver."""
    webhook_id, _ = subscribe(hooks, all_key, receiver.url)
    add_events(db, ("tickets", "created", 1, 0))
    with no_allow_list(db):
        worker(db).run_once()
    assert receiver.received == []
    log = hooks.get("webhooks/deliveries", key=all_key, webhook_id=webhook_id)[1]["data"]
    assert log[0]["delivery_status"] is None and "loopback" in log[0]["delivery_error"]


def test_redirects_are_not_followed(receiver):
    receiver.script = [302]
    outcome = outbound.post(receiver.url, b"{}", {}, allowed=outbound.parse_networks(LOOPBACK),
                            connect_timeout=2, read_timeout=2)
    assert not outcome.ok and outcome.status == 302 and "not followed" in outcome.error
    assert [r["path"] for r in receiver.received] == ["/hook"]


def test_only_a_kilobyte_of_the_answer_is_read(receiver):
    outcome = outbound.post(receiver.url, b"{}", {}, allowed=outbound.parse_networks(LOOPBACK),
                            connect_timeout=2, read_timeout=2)
    assert outcome.ok and len(outcome.excerpt) == 200 and outcome.excerpt.startswith("ok xxx")


def test_a_receiver_that_never_answers_times_out():
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        started = time.monotonic()
        outcome = outbound.post(f"http://127.0.0.1:{listener.getsockname()[1]}/", b"{}", {},
                                allowed=outbound.parse_networks(LOOPBACK), connect_timeout=1, read_timeout=0.5)
        assert outcome.status is None and "timed out" in outcome.error
        assert time.monotonic() - started < 3
    finally:
        listener.close()


# --- sending -------------------------------------------------------------------------------------

def test_test_endpoint_sends_a_signed_event_now(hooks, all_key, receiver):
    webhook_id, secret = subscribe(hooks, all_key, receiver.url)
    status, body = hooks.post("webhooks/test", {"webhook_id": webhook_id}, key=all_key)
    assert body["success"] == "True" and body["data"][0]["status"] == 200, body
    payload = verified(secret, receiver.received[0])
    assert payload["type"] == "webhooks.test" and payload["data"]["record_id"] == webhook_id
    receiver.script = [500]
    status, body = hooks.post("webhooks/test", {"webhook_id": webhook_id}, key=all_key)
    assert body["success"] == "False" and "HTTP 500" in body["message"]
    log = hooks.get("webhooks/deliveries", key=all_key, webhook_id=webhook_id)[1]["data"]
    assert [row["delivery_status"] for row in log] == ["500", "200"]


def test_events_are_delivered_signed_and_in_order(hooks, db, all_key, receiver):
    webhook_id, secret = subscribe(hooks, all_key, receiver.url, modules="tickets,clients")
    add_events(db, ("tickets", "created", 7, 3), ("assets", "created", 1, 3), ("clients", "updated", 3, 3),
               ("tickets", "deleted", 7, 3))
    worker(db).run_once()
    got = receiver.delivered()
    assert [p["type"] for _, p in got] == ["tickets.created", "clients.updated", "tickets.deleted"]
    for record in receiver.received:
        verified(secret, record)
    ids = [p["data"]["event_id"] for _, p in got]
    assert ids == sorted(ids) and [m for m, _ in got] == [signing.message_id(webhook_id, i) for i in ids]
    assert got[0][1]["data"] == {**got[0][1]["data"], "module": "tickets", "action": "created", "record_id": 7,
                                 "client_id": 3}
    row = hooks.get("webhooks/read", key=all_key, webhook_id=webhook_id)[1]["data"][0]
    assert int(row["webhook_event_seq"]) >= ids[-1]
    log = hooks.get("webhooks/deliveries", key=all_key, webhook_id=webhook_id)[1]["data"]
    assert [int(r["delivery_event_id"]) for r in log] == ids[::-1]
    assert all(r["delivery_status"] == "200" and r["delivery_attempt"] == "1" and len(r["delivery_response"]) <= 200
               for r in log)


def test_a_failing_receiver_gets_retries_with_back_off_and_then_everything_in_order(hooks, db, all_key, receiver):
    webhook_id, _ = subscribe(hooks, all_key, receiver.url)
    receiver.script = [500, 503]
    add_events(db, ("tickets", "created", 1, 0), ("tickets", "created", 2, 0))
    w = worker(db, backoff_base=0.5, backoff_cap=2)
    w.run_once()
    assert len(receiver.received) == 1  # failed, waiting: the second event is not sent past it
    w.run_once()
    assert len(receiver.received) == 1, "a retry came before its back-off"
    drain(w, rounds=60)
    got = receiver.delivered()
    assert [p["data"]["record_id"] for _, p in got] == [1, 2]
    attempts = [r["headers"]["webhook-id"] for r in receiver.received]
    assert attempts[:3] == [attempts[0]] * 3  # the same message id on every attempt
    log = hooks.get("webhooks/deliveries", key=all_key, webhook_id=webhook_id)[1]["data"][::-1]
    assert [(r["delivery_attempt"], r["delivery_status"]) for r in log] == [("1", "500"), ("2", "503"), ("3", "200"),
                                                                             ("1", "200")]


def test_a_receiver_that_is_down_is_tried_again(hooks, db, all_key):
    down = socket.create_server(("127.0.0.1", 0))
    port = down.getsockname()[1]
    down.close()  # nothing listens there now
    webhook_id, secret = subscribe(hooks, all_key, f"http://127.0.0.1:{port}/hook")
    add_events(db, ("clients", "created", 1, 0))
    w = worker(db)
    w.run_once()
    log = hooks.get("webhooks/deliveries", key=all_key, webhook_id=webhook_id)[1]["data"]
    assert log[0]["delivery_status"] is None and log[0]["delivery_error"] == "connection refused"
    receiver = WebhookReceiver.__new__(WebhookReceiver)
    WebhookReceiver.__init__(receiver)
    try:  # the receiver comes back (on its port: the subscription's url is updated to it)
        hooks.post("webhooks/update", {"webhook_id": webhook_id, "url": receiver.url}, key=all_key)
        drain(w, rounds=10)
        assert [p["type"] for _, p in receiver.delivered()] == ["clients.created"]
    finally:
        receiver.close()


def test_too_many_failures_disable_the_subscription(hooks, db, all_key, receiver):
    webhook_id, _ = subscribe(hooks, all_key, receiver.url)
    receiver.script = [500] * 10
    add_events(db, ("tickets", "created", 1, 0))
    drain(worker(db))
    assert len(receiver.received) == 4  # [events] max_failures = 4 here
    row = hooks.get("webhooks/read", key=all_key, webhook_id=webhook_id)[1]["data"][0]
    assert row["webhook_enabled"] == "0" and "4 failed attempts" in row["webhook_disabled_reason"]
    FEED.sequence(db)
    events = FEED.events_after(db, 0, 100, modules={"webhooks"})
    assert [(e["event_action"], e["event_record_id"]) for e in events] == [("disabled", webhook_id)]
    # switched on again: the failures are cleared and the event goes out
    receiver.script = []
    hooks.post("webhooks/update", {"webhook_id": webhook_id, "enabled": 1}, key=all_key)
    drain(worker(db), rounds=5)
    assert [p["type"] for _, p in receiver.delivered()][:1] == ["tickets.created"]


def test_a_revoked_key_disables_its_subscriptions(hooks, db, keys, receiver):
    presented, key_id = keys.create("short-lived", "2099-01-01", 0)
    SECRETS_USED.add(presented)
    webhook_id, _ = subscribe(hooks, presented, receiver.url)
    keys.revoke(key_id)
    add_events(db, ("tickets", "created", 1, 0))
    worker(db).run_once()
    assert receiver.received == []
    row = db.row(f"SELECT * FROM {webhooks.TABLE} WHERE webhook_id = :id", {"id": webhook_id})
    assert row["webhook_enabled"] == "0" and "revoked" in row["webhook_disabled_reason"]


def test_a_client_keys_subscription_never_gets_another_clients_events(hooks, db, two_clients, receiver):
    a, b, key_a = two_clients
    subscribe(hooks, key_a, receiver.url)
    add_events(db, ("tickets", "created", 1, b), ("tickets", "created", 2, a), ("clients", "updated", b, b),
               ("tickets", "created", 3, 0))
    drain(worker(db), rounds=3)
    assert [(p["data"]["record_id"], p["data"]["client_id"]) for _, p in receiver.delivered()] == [(2, a)]


def test_replay_one_event_and_from_a_cursor(hooks, db, all_key, receiver):
    webhook_id, _ = subscribe(hooks, all_key, receiver.url)
    add_events(db, ("tickets", "created", 1, 0), ("tickets", "created", 2, 0), ("tickets", "created", 3, 0))
    w = worker(db)
    w.run_once()
    first = receiver.delivered()
    ids = [p["data"]["event_id"] for _, p in first]
    assert len(ids) == 3
    assert hooks.post("webhooks/replay", {"webhook_id": webhook_id, "event_id": ids[1]}, key=all_key)[1]["success"] == "True"
    w.run_once()
    assert receiver.delivered()[3] == first[1]  # the same message id and body
    assert hooks.post("webhooks/replay", {"webhook_id": webhook_id, "after": ids[0]}, key=all_key)[1]["success"] == "True"
    w.run_once()
    assert [m for m, _ in receiver.delivered()[4:]] == [m for m, _ in first[1:]]
    status, body = hooks.post("webhooks/replay", {"webhook_id": webhook_id, "event_id": ids[-1] + 5}, key=all_key)
    assert body["success"] == "False" and "not been delivered" in body["message"]


def test_two_workers_do_not_send_twice(hooks, db, all_key, receiver):
    for _ in range(3):
        subscribe(hooks, all_key, receiver.url)
    add_events(db, *[("tickets", "created", n, 0) for n in range(1, 41)])
    stop = threading.Event()

    def run(owner):
        w = worker(db, owner=owner, poll=0.01)
        while not stop.is_set():
            w.run_once()
            time.sleep(0.005)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("one", "two")]
    for t in threads:
        t.start()
    try:
        got = receiver.wait_for(120, seconds=30)
    finally:
        stop.set()
        for t in threads:
            t.join()
    ids = [m for m, _ in got]
    assert len(ids) == 120 and len(set(ids)) == 120
    for webhook_id in {int(m.split("_")[1]) for m in ids}:
        mine = [int(m.split("_")[2]) for m in ids if int(m.split("_")[1]) == webhook_id]
        assert mine == sorted(mine) and len(mine) == 40


def test_a_worker_killed_mid_lease_is_taken_over(hooks, db, all_key, receiver):
    webhook_id, _ = subscribe(hooks, all_key, receiver.url)
    add_events(db, ("tickets", "created", 1, 0))
    dead = worker(db, owner="dead")
    assert dead._lease(webhook_id)  # then it "dies": the lease is never renewed or released
    alive = worker(db, owner="alive")
    alive.run_once()
    assert receiver.received == []
    db_now = int(time.time() * 1000)
    with db.transaction(write=True):
        db.execute(f"UPDATE {webhooks.TABLE} SET webhook_lease_until = :t", {"t": db_now - 1})  # it ran out
    alive.run_once()
    assert [p["type"] for _, p in receiver.delivered()] == ["tickets.created"]


def test_plain_sql_writes_are_delivered_within_two_seconds(hooks, db, all_key, receiver, make_client):
    if REAL_FEED is None:
        pytest.skip("needs the capture triggers (lib/events/capture.py)")
    client = make_client("Plain")
    subscribe(hooks, all_key, receiver.url, modules="tickets")
    w = delivery.Worker(db, webhooks.settings_for(db), owner="bg", poll=0.05)
    thread = threading.Thread(target=w.run, daemon=True)
    thread.start()
    try:
        time.sleep(0.2)
        started = time.monotonic()
        with db.transaction(write=True):  # SQL straight to the database, as ITFlow's own pages write
            db.insert("tickets", {"ticket_subject": "by sql", "ticket_client_id": client, "ticket_number": 4242,
                                  "ticket_prefix": "TCK-"})
        got = receiver.wait_for(1, seconds=2)
        assert got and got[0][1]["type"] == "tickets.created", got
        assert time.monotonic() - started < 2
    finally:
        w.stop()
        thread.join(5)


def test_the_secret_never_reaches_the_log(hooks, all_key, receiver, caplog):
    _, secret = subscribe(hooks, all_key, receiver.url)
    assert secret not in caplog.text


def test_the_worker_rides_out_a_database_error(hooks, db, all_key, receiver, monkeypatch):
    from itflow_api.lib.db.errors import DatabaseError
    subscribe(hooks, all_key, receiver.url)
    add_events(db, ("tickets", "created", 1, 0))
    w = worker(db, poll=0.01)
    calls = []
    real = w.run_once

    def flaky():
        calls.append(1)
        if len(calls) <= 2:
            raise DatabaseError("gone away (a restart)")
        return real()

    monkeypatch.setattr(w, "run_once", flaky)
    monkeypatch.setattr(w, "ready", lambda: True)
    thread = threading.Thread(target=w.run, daemon=True)
    thread.start()
    try:
        assert receiver.wait_for(1, seconds=8)
    finally:
        w.stop()
        thread.join(5)


def test_the_keystore_secret_is_what_seals(db, config):
    """Another key hash secret cannot open a sealed webhook secret."""
    mine = webhooks.Settings(SECRET.encode())
    other = webhooks.Settings(b"another secret")
    sealed = mine.seal("whsec_abc")
    assert mine.open(sealed) == "whsec_abc"
    with pytest.raises(Exception):  # noqa: B017 (cryptography's InvalidTag)
        other.open(sealed)
    assert KeyStore  # the app hands KeyStore's secret to webhooks.configure (lib/web/app.py)


# --- keys acting as a user (ITFlow 2.4.7+) --------------------------------------------------------

user_database = test_user_keys.user_database  # the fixtures of a user-layout database
world = test_user_keys.world


def test_a_user_key_manages_its_webhooks_and_gets_only_what_its_user_may_read(world, receiver):
    """A non-admin user key may subscribe (its subscriptions are its own); deliveries keep to
    the modules its role reads and the clients its user may reach."""
    db, api = world["db"], world["api"]
    _install_events(db)
    webhooks.install(db)
    webhooks.configure(db, webhooks.Settings(b"user-key-tests", LOOPBACK))
    key = world["keys"]["allow_a"]  # role Tech (support and clients, no credentials), client a only
    webhook_id, secret = subscribe(api, key, receiver.url)
    SECRETS_USED.add(key)
    assert api.get("webhooks/read", key=key)[1]["count"] == 1
    a, b = world["a"], world["b"]
    add_events(db, ("tickets", "created", 1, b), ("tickets", "created", 2, a), ("credentials", "created", 3, a),
               ("invoices", "created", 4, a), ("assets", "updated", 5, 0))
    drain(worker(db), rounds=3)
    got = [(p["type"], p["data"]["client_id"]) for _, p in receiver.delivered()]
    assert got == [("tickets.created", a), ("assets.updated", 0)]
    for record in receiver.received:
        verified(secret, record)
    assert api.post("webhooks/delete", {"webhook_id": webhook_id}, key=key)[1]["success"] == "True"


def test_a_secret_sealed_under_another_key_hash_secret_disables_the_subscription(hooks, db, all_key, receiver):
    webhook_id, _ = subscribe(hooks, all_key, receiver.url)
    with db.transaction(write=True):
        db.execute(f"UPDATE {webhooks.TABLE} SET webhook_secret = :s WHERE webhook_id = :id",
                   {"s": webhooks.Settings(b"another secret").seal("whsec_AAAA"), "id": webhook_id})
    add_events(db, ("tickets", "created", 1, 0))
    worker(db).run_once()
    assert receiver.received == []
    row = hooks.get("webhooks/read", key=all_key, webhook_id=webhook_id)[1]["data"][0]
    assert row["webhook_enabled"] == "0" and "key hash secret" in row["webhook_disabled_reason"]


def test_back_off_doubles_with_jitter_up_to_the_cap():
    for failures, step in ((1, 2), (2, 4), (3, 8), (10, 1024), (12, 3600), (40, 3600)):
        waits = [delivery.backoff(failures) for _ in range(200)]
        assert all(step / 2 <= w <= step for w in waits), (failures, min(waits), max(waits))
        assert max(waits) - min(waits) > step / 10  # jitter: not all the same


def test_a_write_conflict_while_recording_means_the_event_is_sent_again(hooks, db, all_key, receiver, monkeypatch):
    from itflow_api.lib.db.errors import WriteConflict
    subscribe(hooks, all_key, receiver.url)
    add_events(db, ("tickets", "created", 1, 0))
    w = worker(db)
    real, calls = w._move, []

    def conflict(*args):
        calls.append(args)
        if len(calls) == 1:
            raise WriteConflict("Deadlock found when trying to get lock (Galera certification)")
        return real(*args)

    monkeypatch.setattr(w, "_move", conflict)
    w.run_once()
    w.run_once()
    ids = [m for m, _ in receiver.delivered()]
    assert len(ids) == 2 and ids[0] == ids[1]  # at least once, the same webhook-id


def _self_signed(tmp_path, names):
    """A certificate and key for `names` (IP addresses), as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "webhook receiver")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(n)) for n in names]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_https_receivers_are_verified_on_the_pinned_address(tmp_path, monkeypatch):
    import ssl
    cert, key = _self_signed(tmp_path, ["127.0.0.1"])
    receiver = WebhookReceiver()
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)
    receiver.server.socket = server_side.wrap_socket(receiver.server.socket, server_side=True)
    url = f"https://127.0.0.1:{receiver.port}/hook"
    allowed = outbound.parse_networks(LOOPBACK)
    try:
        untrusted = outbound.post(url, b"{}", {}, allowed=allowed, connect_timeout=2, read_timeout=2)
        assert untrusted.status is None and "CERTIFICATE_VERIFY_FAILED" in untrusted.error
        monkeypatch.setattr(outbound._PinnedHTTPS, "_context", ssl.create_default_context(cafile=cert))
        trusted = outbound.post(url, b'{"a":1}', {"webhook-id": "msg_1"}, allowed=allowed, connect_timeout=2,
                                read_timeout=2)
        assert trusted.ok, trusted
        assert receiver.received[-1]["body"] == b'{"a":1}' and receiver.received[-1]["headers"]["webhook-id"] == "msg_1"
    finally:
        receiver.close()


def test_dns_rebinding_is_caught_and_the_connection_is_pinned(hooks, db, all_key, receiver, monkeypatch):
    """hooks.example resolves to a public address when the subscription is made, then to
    127.0.0.1 (the rebinding trick): without the allow list nothing is sent. With it, the
    request goes to the vetted address with the host name kept in the Host header."""
    import socket as socket_module
    answers = {"hooks.example": "93.184.216.34"}
    real = socket_module.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host in answers:
            return [(socket_module.AF_INET, socket_module.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(outbound.socket, "getaddrinfo", fake)
    url = f"http://hooks.example:{receiver.port}/hook"
    with no_allow_list(db):
        webhook_id, _ = subscribe(hooks, all_key, url)
        answers["hooks.example"] = "127.0.0.1"
        add_events(db, ("tickets", "created", 1, 0))
        worker(db).run_once()
    assert receiver.received == []
    log = hooks.get("webhooks/deliveries", key=all_key, webhook_id=webhook_id)[1]["data"]
    assert "hooks.example resolves to 127.0.0.1" in log[0]["delivery_error"]
    drain(worker(db), rounds=5)  # allowed now (the fixture's 127.0.0.1/32)
    assert receiver.received and receiver.received[0]["headers"]["Host"] == f"hooks.example:{receiver.port}"


def test_a_slow_receiver_does_not_hold_up_the_others(hooks, db, all_key, receiver):
    slow = WebhookReceiver()
    slow.delay = 2.0
    try:
        subscribe(hooks, all_key, slow.url)
        subscribe(hooks, all_key, receiver.url)
        add_events(db, ("tickets", "created", 1, 0))
        w = worker(db)
        thread = threading.Thread(target=w.run_once)
        started = time.monotonic()
        thread.start()
        assert receiver.wait_for(1, seconds=1.5) and time.monotonic() - started < 1.5
        thread.join(10)
        assert len(slow.delivered()) == 1
    finally:
        slow.close()
