"""Webhooks on a 3-node Galera cluster: delivery workers on two different nodes at once,
tickets written through all three nodes at once, and a receiver on 127.0.0.1. Without a
fault every event arrives exactly once (no repeat, not even with the same webhook-id), in
feed order per subscription.

Like tests/test_galera.py (whose cluster fixture and helpers it uses) it runs only with
ITFLOW_TEST_GALERA=1 and where mariadbd and galera-4 are installed; about a minute.
"""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from helpers import SECRET, WebhookReceiver
from test_galera import _on_every_node, cluster, needs_cluster  # noqa: F401  (cluster: the fixture)

SUBSCRIPTIONS = 3
TICKETS_PER_NODE = 120


def _settings():
    from itflow_api.lib.events import webhooks
    return webhooks.Settings(SECRET.encode(), "127.0.0.1/32", connect_timeout=2, read_timeout=5)


def _counting(worker, send):
    def counted(*args, **kwargs):
        worker.sent += 1
        return send(*args, **kwargs)
    return counted


@needs_cluster
def test_two_workers_on_two_nodes_deliver_every_event_once_in_order(cluster):  # noqa: F811
    from itflow_api.lib.access.keys import KeyStore
    from itflow_api.lib.db.database import Database
    from itflow_api.lib.events import capture, delivery, feed, webhooks

    dbs = [Database(cluster.url(i), "mysql") for i in range(3)]
    receiver = WebhookReceiver()
    workers, threads = [], []
    try:
        first = dbs[0]
        for db in dbs:
            webhooks.configure(db, _settings())
        capture.install(first)
        webhooks.install(first)
        keys = KeyStore(first, SECRET.encode())
        presented, _ = keys.create("galera webhooks", "2099-01-01", 0, None)
        key = keys.authenticate(presented)
        with first.transaction(write=True):
            client = first.insert("clients", {"client_name": "Galera webhooks"})
        head = feed.sequence(first)
        with first.transaction(write=True):
            hooks = [webhooks.create(first, key, f"http://127.0.0.1:{receiver.port}/hook/{n}", "tickets", "", 0,
                                     head)[0] for n in range(SUBSCRIPTIONS)]

        # Two workers, on nodes 1 and 2, each with its own lease name, polling fast, one
        # subscription at a time each: while one serves a subscription the other takes the next.
        for index in (0, 1):
            worker = delivery.Worker(dbs[index], webhooks.settings_for(dbs[index]), owner=f"galera-node{index + 1}",
                                     poll=0.1, lease_seconds=10.0, backoff_base=0.2, backoff_cap=1.0,
                                     parallel=1)
            worker.sent = 0
            worker._send = _counting(worker, worker._send)
            workers.append(worker)
            threads.append(threading.Thread(target=worker.run, daemon=True))
        for thread in threads:
            thread.start()

        # Tickets written through all three nodes at once, while the workers deliver.
        def write(index):
            written = []
            db = dbs[index]
            for n in range(TICKETS_PER_NODE):
                with db.transaction(write=True):
                    written.append(int(db.insert("tickets", {"ticket_subject": f"node{index + 1} {n}",
                                                             "ticket_client_id": client})))
            return written
        with ThreadPoolExecutor(3) as pool:
            tickets = {t for batch in pool.map(write, range(3)) for t in batch}
        assert len(tickets) == 3 * TICKETS_PER_NODE

        wanted = {(h, t) for h in hooks for t in tickets}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            got = {(int(m.split("_")[1]), p["data"]["record_id"]) for m, _, p in receiver.messages()}
            if wanted <= got:
                break
            time.sleep(0.2)
        time.sleep(3)  # anything sent twice would arrive by now
    finally:
        for worker in workers:
            worker.stop()
        for thread in threads:
            thread.join(30)
        receiver.close()

    messages = receiver.messages()
    got = {(int(m.split("_")[1]), p["data"]["record_id"]) for m, _, p in messages}
    assert not wanted - got, f"{len(wanted - got)} of {len(wanted)} events never arrived"
    assert got == wanted  # and nothing else (the subscriptions take tickets only)
    ids = [m for m, _, _ in messages]
    assert len(ids) == len(set(ids)) == len(wanted), f"{len(ids) - len(set(ids))} messages arrived twice"
    per_hook = {}
    for m, path, p in messages:
        hook = int(m.split("_")[1])
        assert path == f"/hook/{hooks.index(hook)}" and m == f"msg_{hook}_{p['data']['event_id']}"
        per_hook.setdefault(hook, []).append(p["data"]["event_id"])
    for hook, seqs in per_hook.items():
        assert seqs == sorted(seqs), f"subscription {hook} received its events out of order"
    # Both cursors end at the head on every node, and both workers did some of the work.
    states = _on_every_node(cluster, "SELECT webhook_id, webhook_event_seq, webhook_failures FROM itflow_api_webhooks "
                                     "ORDER BY webhook_id")
    assert len({tuple(rows) for rows in states}) == 1, states
    assert all(seq >= max(per_hook[hook]) and failures == 0 for hook, seq, failures in states[0]), states[0]
    logged = _on_every_node(cluster, "SELECT COUNT(*) FROM itflow_api_webhook_deliveries")[0][0][0]
    assert logged == len(wanted)
    assert all(worker.sent > 0 for worker in workers), [worker.sent for worker in workers]
    assert sum(worker.sent for worker in workers) == len(wanted)
    for db in dbs:
        db.close()
    print(f"\nGalera: {len(tickets)} tickets through 3 nodes, {len(messages)} messages to {SUBSCRIPTIONS} "
          f"subscriptions from workers on nodes 1 and 2 "
          f"({workers[0].sent} and {workers[1].sent} sent): none lost, none twice, in order")
