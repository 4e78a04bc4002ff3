"""The change feed (lib/events/feed.py, GET /api/v1/events/read.php): events in commit-visibility
order (an event that commits after a later-numbered one is never skipped), per-key visibility,
filters, retention and the resync refusal. On databases of their own, with the triggers in."""
from datetime import date, timedelta

import pytest
from helpers import BACKEND, SECRET, Api, fresh_config, insert_role, insert_user, make_key

from itflow_api.lib.access.keys import KeyStore
from itflow_api.lib.core import retry
from itflow_api.lib.core.envelope import Forbidden, Unauthorized
from itflow_api.lib.db.database import Database
from itflow_api.lib.events import capture, feed
from itflow_api.lib.itflow import schema
from itflow_api.lib.web.app import create_app


@pytest.fixture(scope="module")
def feed_database(tmp_path_factory):
    with fresh_config(tmp_path_factory.mktemp("feeddb")) as cfg:
        db = Database.from_config(cfg.database)
        db.create_schema()
        capture.install(db)
        yield cfg, db
        db.close()


def empty(db, layout=schema.LAYOUT_CLIENT_KEYS):
    db.create_schema(layout)
    with db.transaction(write=True):
        for table in [*schema.tables(), capture.EVENTS]:
            db.execute(f"DELETE FROM {table}")
        db.execute(f"UPDATE {capture.STATE} SET last_seq = 0")
    db.create_schema(layout)
    with db.transaction(write=True):
        db.execute(f"DELETE FROM {capture.EVENTS}")


@pytest.fixture
def world(feed_database):
    """Clients A and B with a few records, an all-clients key and a key for A."""
    cfg, db = feed_database
    empty(db)
    keys = KeyStore(db, SECRET.encode())
    w = {"cfg": cfg, "db": db, "keys": keys, "api": Api(create_app(cfg, db, keys))}
    w["a"] = insert(db, "clients", client_name="Alpha")
    w["b"] = insert(db, "clients", client_name="Bravo")
    w["ta"] = insert(db, "tickets", ticket_subject="a", ticket_client_id=w["a"], ticket_number=1)
    w["tb"] = insert(db, "tickets", ticket_subject="b", ticket_client_id=w["b"], ticket_number=2)
    w["v0"] = insert(db, "vendors", vendor_name="shared", vendor_client_id=0)
    w["all"], w["key_a"] = make_key(keys), make_key(keys, client_id=w["a"])
    feed.PRUNER._next = float("inf")  # no pruning unless a test asks for it
    return w


def insert(db, table, **values):
    with db.transaction(write=True):
        return db.insert(table, values)


def read(w, key=None, **params):
    status, body = w["api"].get("events/read", key=key or w["all"], **params)
    assert status == 200, body
    return body


def seen(body):
    return [(e["event_module"], e["event_action"], e["event_record_id"], e["event_client_id"])
            for e in body["data"]]


def test_the_feed_lists_every_change_in_order_with_cursors(world):
    body = read(world)
    assert body["success"] == "True" and body["count"] == 5
    assert [e["event_id"] for e in body["data"]] == [1, 2, 3, 4, 5]
    assert seen(body) == [("clients", "created", world["a"], world["a"]), ("clients", "created", world["b"], world["b"]),
                          ("tickets", "created", world["ta"], world["a"]), ("tickets", "created", world["tb"], world["b"]),
                          ("vendors", "created", world["v0"], 0)]
    assert list(body["data"][0]) == ["event_id", "event_module", "event_action", "event_record_id",
                                     "event_client_id", "event_at"]
    assert len(body["data"][0]["event_at"]) == 19
    page = read(world, after=2, limit=2)
    assert [e["event_id"] for e in page["data"]] == [3, 4]
    done = read(world, after=5)
    assert done["success"] == "False" and done["count"] == 0 and "latest cursor is 5" in done["message"]


def test_sequence_is_cheap_and_stable_when_nothing_is_new(world):
    db = world["db"]
    assert feed.sequence(db) == 5
    assert feed.sequence(db) == 5
    assert feed.last_seq(db) == 5
    with db.transaction():
        assert db.scalar(f"SELECT COUNT(*) AS n FROM {capture.EVENTS} WHERE event_seq IS NULL") in (0, "0")


def test_a_client_key_sees_only_its_client(world):
    assert seen(read(world, key=world["key_a"])) == [("clients", "created", world["a"], world["a"]),
                                                      ("tickets", "created", world["ta"], world["a"])]
    # client_id narrows within what the key may see, never beyond it
    assert read(world, key=world["key_a"], client_id=world["b"])["success"] == "False"
    assert [e[2] for e in seen(read(world, client_id=world["b"]))] == [world["b"], world["tb"]]
    assert [e[0] for e in seen(read(world, client_id=0))] == ["vendors"]


def test_module_and_action_filters(world):
    with world["db"].transaction(write=True):
        world["db"].execute("UPDATE tickets SET ticket_archived_at = '2024-01-01 00:00:00' WHERE ticket_id = :t",
                            {"t": world["ta"]})
    assert [e[0] for e in seen(read(world, module="tickets"))] == ["tickets"] * 3
    assert seen(read(world, module="tickets,vendors", action="archived")) == [
        ("tickets", "archived", world["ta"], world["a"])]
    for params in ({"module": "nope"}, {"action": "exploded"}, {"after": "-1"}, {"after": "x"},
                   {"client_id": "abc"}):
        body = read(world, **params)
        assert body["success"] == "False" and body["data"] == [], params


def test_limit_is_capped_by_max_limit(world):
    world["cfg"].server.max_limit, before = 2, world["cfg"].server.max_limit
    try:
        assert read(world, limit=100)["count"] == 2
    finally:
        world["cfg"].server.max_limit = before
    assert read(world, limit=1)["count"] == 1


def test_a_sequencer_that_keeps_losing_still_answers_with_what_is_placed(world, monkeypatch):
    from itflow_api.lib.db.errors import WriteConflict
    assert feed.sequence(world["db"]) == 5
    insert(world["db"], "clients", client_name="Charlie")

    def losing(db):
        raise WriteConflict("Deadlock found when trying to get lock")
    monkeypatch.setattr(feed, "sequence", losing)
    assert [e["event_id"] for e in read(world, after=3)["data"]] == [4, 5]
    monkeypatch.undo()
    assert seen(read(world, after=5))[0][:2] == ("clients", "created")


def test_an_event_that_commits_late_is_sequenced_after_the_ones_read(world):
    """SQLite serialises writers, so the late commit is played by event rows: id 1000 becomes
    visible (and is read) before id 900, which was assigned earlier but commits later."""
    db = world["db"]
    assert feed.sequence(db) == 5
    with db.transaction(write=True):
        db.execute(f"INSERT INTO {capture.EVENTS} (event_id, event_module, event_action, event_record_id, "
                   "event_client_id, event_at) VALUES (1000, 'tickets', 'updated', 77, 0, '2024-01-01 00:00:00')")
    assert [(e["event_id"], e["event_record_id"]) for e in read(world, after=5)["data"]] == [(6, 77)]
    with db.transaction(write=True):
        db.execute(f"INSERT INTO {capture.EVENTS} (event_id, event_module, event_action, event_record_id, "
                   "event_client_id, event_at) VALUES (900, 'tickets', 'updated', 66, 0, '2024-01-01 00:00:00')")
    assert [(e["event_id"], e["event_record_id"]) for e in read(world, after=6)["data"]] == [(7, 66)]


@pytest.mark.skipif(BACKEND != "mysql", reason="needs two concurrent writers (MariaDB)")
def test_an_open_transaction_is_not_skipped_when_a_later_one_commits_first(world):
    """T1 inserts a ticket (event N) and stays open; T2 inserts one (N+1) and commits; the
    feed shows N+1 as the next cursor; T1 commits; the feed after that cursor shows N."""
    cfg, db = world["cfg"], world["db"]
    assert feed.sequence(db) == 5
    other = Database.from_config(cfg.database)
    try:
        with other.transaction(write=True):
            first = other.insert("tickets", {"ticket_subject": "T1", "ticket_client_id": world["a"],
                                             "ticket_number": 10})
            second = insert(db, "tickets", ticket_subject="T2", ticket_client_id=world["a"], ticket_number=11)
            assert second > first
            body = read(world, after=5)
            assert [(e["event_id"], e["event_record_id"]) for e in body["data"]] == [(6, second)]
        body = read(world, after=6)
        assert [(e["event_id"], e["event_record_id"]) for e in body["data"]] == [(7, first)]
        # and T1's event id is the lower one: assignment order is not the feed's order
        with db.transaction():
            ids = {int(r["event_record_id"]): int(r["event_id"]) for r in db.rows(
                f"SELECT event_id, event_record_id FROM {capture.EVENTS} WHERE event_seq IN (6, 7)")}
        assert ids[first] < ids[second]
    finally:
        other.close()


@pytest.mark.skipif(BACKEND != "mysql", reason="needs two concurrent sequencers (MariaDB)")
def test_concurrent_sequencers_never_hand_out_a_number_twice(world):
    import threading
    cfg, db = world["cfg"], world["db"]
    dbs = [Database.from_config(cfg.database) for _ in range(4)]
    errors = []

    def work(own):
        try:
            for n in range(10):
                # A write that loses a deadlock to a sequencer (both touch the events table) is
                # run again, as the API runs every write (lib/core/retry.py): what is tested
                # here is that no number is handed out twice.
                retry.again(lambda n=n: insert(own, "contacts", contact_name=f"c{n}",
                                               contact_client_id=world["a"]), 10)
                feed.sequence(own)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(own,)) for own in dbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for own in dbs:
        own.close()
    assert not errors
    last = feed.sequence(db)
    events = feed.events_after(db, 0, 1000)
    assert [e["event_id"] for e in events] == list(range(1, last + 1)) and last == 45


def backdate(db, days, upto_seq):
    feed.sequence(db)
    stamp = (date.today() - timedelta(days=days)).isoformat() + " 00:00:00"
    with db.transaction(write=True):
        db.execute(f"UPDATE {capture.EVENTS} SET event_at = :at WHERE event_seq <= :seq", {"at": stamp, "seq": upto_seq})


def test_retention_prunes_and_an_older_cursor_is_told_to_resync(world):
    db = world["db"]
    backdate(db, 40, 3)
    assert feed.prune(db, 30) == 3
    assert feed.oldest_seq(db) == 4
    body = read(world, after=1)
    assert body["success"] == "False" and body["data"] == []
    assert "too old" in body["message"] and "Resync" in body["message"] and "after=5" in body["message"]
    assert [e["event_id"] for e in read(world, after=3)["data"]] == [4, 5]  # the oldest cursor still available
    assert [e["event_id"] for e in read(world)["data"]] == [4, 5]            # 0: from the oldest kept


def test_a_cursor_is_too_old_when_everything_was_pruned(world):
    db = world["db"]
    backdate(db, 40, 5)
    assert feed.prune(db, 30) == 5
    assert feed.oldest_seq(db) is None
    assert "too old" in read(world, after=2)["message"]
    assert read(world, after=5)["message"].startswith("No events after cursor 5")


def test_the_feed_prunes_at_most_once_a_minute(world):
    db = world["db"]
    backdate(db, 40, 2)
    feed.PRUNER._next = 0.0
    feed.PRUNER.retention_days = 30
    read(world)
    assert feed.oldest_seq(db) == 3
    backdate(db, 40, 4)
    read(world)
    assert feed.oldest_seq(db) == 3  # not yet: pruned a moment ago
    feed.configure(type("Events", (), {"retention_days": 45})())
    assert feed.PRUNER.retention_days == 45
    feed.PRUNER.retention_days = feed.DEFAULT_RETENTION_DAYS


def test_unsequenced_events_are_never_pruned():
    assert not feed.too_old(0, 50, 60)
    assert not feed.too_old(49, 50, 60)
    assert feed.too_old(48, 50, 60)
    assert feed.too_old(3, None, 10) and not feed.too_old(10, None, 10)


def test_visibility_of_client_layout_keys_and_revoked_ones(world):
    db, keys = world["db"], world["keys"]
    rows = keys.list()
    all_id, a_id = (int(r["api_key_id"]) for r in rows[-2:])
    assert feed.visibility(db, all_id) == feed.Visibility(None, None)
    assert feed.visibility(db, a_id) == feed.Visibility(None, frozenset({world["a"]}))
    keys.revoke(a_id)
    with pytest.raises(Unauthorized):
        feed.visibility(db, a_id)
    with db.transaction(write=True):
        db.execute("UPDATE api_keys SET api_key_expire = :d WHERE api_key_id = :id",
                   {"d": date.today().isoformat(), "id": all_id})
    with pytest.raises(Unauthorized):
        feed.visibility(db, all_id)


# --- keys acting as users (ITFlow 2.4.7+) ----------------------------------------------------

@pytest.fixture
def users(feed_database):
    cfg, db = feed_database
    with db.transaction(write=True):
        db.execute("DROP TABLE api_keys")
    empty(db, schema.LAYOUT_USER_KEYS)
    keys = KeyStore(db, SECRET.encode())
    w = {"cfg": cfg, "db": db, "keys": keys, "api": Api(create_app(cfg, db, keys))}
    with db.transaction(write=True):
        w["a"] = db.insert("clients", {"client_name": "Alpha"})
        w["b"] = db.insert("clients", {"client_name": "Bravo"})

        def role(name, admin=0, levels=None):
            return insert_role(db, name, admin, levels)

        def user(name, role_id, **columns):
            return insert_user(db, name, role_id, **columns)

        support = role("Support", levels={"module_support": 1})
        w["users"] = {"admin": user("admin", role("Admin", admin=1)), "support": user("support", support),
                      "allow_a": user("allow_a", support), "deny_b": user("deny_b", support),
                      "nothing": user("nothing", role("Nothing")),
                      "archived": user("archived", support, user_archived_at="2024-01-01 00:00:00")}
        db.insert("user_client_permissions", {"user_id": w["users"]["allow_a"], "client_id": w["a"],
                                              "permission_type": "allow"})
        db.insert("user_client_permissions", {"user_id": w["users"]["deny_b"], "client_id": w["b"],
                                              "permission_type": "deny"})
        w["ta"] = db.insert("tickets", {"ticket_subject": "a", "ticket_client_id": w["a"], "ticket_number": 1})
        w["tb"] = db.insert("tickets", {"ticket_subject": "b", "ticket_client_id": w["b"], "ticket_number": 2})
        w["t0"] = db.insert("tickets", {"ticket_subject": "0", "ticket_client_id": 0, "ticket_number": 3})
    expire = (date.today() + timedelta(days=10)).isoformat()
    w["keys"] = {name: keys.create(name, expire, uid) for name, uid in w["users"].items()}
    yield w
    with db.transaction(write=True):
        db.execute("DROP TABLE api_keys")
    empty(db)


def test_user_keys_see_what_their_role_reads_and_their_clients(users):
    db, k = users["db"], users["keys"]
    support_modules = frozenset(m for m in capture.MODULES if feed.PERMISSION_MODULE.get(m) == "module_support")
    assert feed.visibility(db, k["admin"][1]) == feed.Visibility(None, None)
    assert feed.visibility(db, k["support"][1]) == feed.Visibility(support_modules | {"webhooks"}, None)
    assert feed.visibility(db, k["allow_a"][1]).client_ids == frozenset({users["a"], 0})
    assert feed.visibility(db, k["deny_b"][1]).client_ids == frozenset({users["a"], 0})
    assert feed.visibility(db, k["nothing"][1]).modules == frozenset({"webhooks"})
    with pytest.raises(Forbidden):
        feed.visibility(db, k["archived"][1])

    def tickets(name):
        status, body = users["api"].get("events/read", key=k[name][0])
        assert status == 200, body
        return [(e["event_module"], e["event_record_id"]) for e in body["data"]]
    everything = tickets("admin")
    assert ("clients", users["a"]) in everything and ("tickets", users["tb"]) in everything
    assert tickets("support") == [("tickets", users["ta"]), ("tickets", users["tb"]), ("tickets", users["t0"])]
    assert tickets("allow_a") == [("tickets", users["ta"]), ("tickets", users["t0"])]
    assert tickets("deny_b") == [("tickets", users["ta"]), ("tickets", users["t0"])]
    status, body = users["api"].get("events/read", key=k["nothing"][0])  # allowed, and sees nothing
    assert (status, body["success"]) == (200, "False")
    assert users["api"].get("events/read", key=k["archived"][0])[0] == 403


def test_a_database_without_events_says_how_to_turn_them_on(tmp_path):
    with fresh_config(tmp_path) as cfg:
        db = Database.from_config(cfg.database)
        try:
            db.create_schema()
            keys = KeyStore(db, SECRET.encode())
            status, body = Api(create_app(cfg, db, keys)).get("events/read", key=make_key(keys))
        finally:
            db.close()
    assert (status, body["success"], body["data"]) == (200, "False", [])
    assert "init-db --events" in body["message"]


# --- a real Galera cluster (ITFLOW_TEST_GALERA=1; about half a minute) -----------------------

def _galera_skip_reason():
    import os
    if os.environ.get("ITFLOW_TEST_GALERA") != "1":
        return "the Galera cluster test runs with ITFLOW_TEST_GALERA=1"
    from test_galera import galera
    absent = galera.missing()
    return f"no Galera cluster can start here: missing {absent}" if absent else ""


@pytest.mark.skipif(bool(_galera_skip_reason()), reason=_galera_skip_reason() or "-")
def test_galera_writers_and_sequencers_on_three_nodes_hand_out_each_number_once():
    """Writers on three nodes, each sequencing after every write (a sequencer that loses
    certification runs again), and a reader on another node following the feed: every event
    gets exactly one number, the numbers have no gaps, and the reader sees every event."""
    import threading

    from test_galera import galera
    with galera.Cluster(3) as cluster:
        dbs = [Database(cluster.url(i), "mysql") for i in range(3)]
        capture.install(dbs[0])
        errors, done, read_ids = [], threading.Event(), []

        def write(db, node):
            try:
                for n in range(30):
                    insert(db, "contacts", contact_name=f"n{node}c{n}", contact_client_id=node + 1)
                    feed.sequence(db)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        def follow(db):
            cursor = 0
            try:
                while True:
                    finished = done.is_set()
                    feed.sequence(db)
                    for event in feed.events_after(db, cursor, 1000):
                        assert event["event_id"] == cursor + 1, (event, cursor)
                        cursor = event["event_id"]
                        read_ids.append(event["event_record_id"])
                    if finished:
                        return
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
        reader_db = Database(cluster.url(1), "mysql")
        reader = threading.Thread(target=follow, args=(reader_db,))
        reader.start()
        writers = [threading.Thread(target=write, args=(dbs[i], i)) for i in range(3)]
        for t in writers:
            t.start()
        for t in writers:
            t.join()
        done.set()
        reader.join()
        for db in [*dbs, reader_db]:
            db.close()
        assert not errors, errors
        assert len(read_ids) == 90 and len(set(read_ids)) == 90
