"""Webhook delivery, measured: write-to-delivery latency, events per second delivered by one
and by two worker processes, and a fault run (a worker killed with -9, the receiver stopped
for a while) that checks nothing was lost.

    python bench/events.py                       # SQLite in a temporary folder
    python bench/events.py --backend mysql       # ITFLOW_TEST_MYSQL_HOST/_PORT/_USER/_PASSWORD, root by default

Everything runs on this machine: a receiver (http.server, answers 204) in this process, the
workers as `itflow-api deliver`-like child processes (this file's `worker` mode), the writes
as plain SQL INSERTs into tickets, which the capture triggers turn into events.
"""
import argparse
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from itflow_api.lib.access.keys import KeyStore
from itflow_api.lib.db.database import Database
from itflow_api.lib.events import capture, delivery, feed, webhooks

SECRET = b"bench-events-secret"
ALLOW = "127.0.0.1/32"


# --- the receiver ------------------------------------------------------------------------------

class Receiver:
    def __init__(self, port=0):
        self.seen = []  # (monotonic time, webhook-id, payload)
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner.lock:
                    owner.seen.append((time.time(), self.headers["webhook-id"], json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def count(self):
        """Distinct messages received (a repeat of one counts once)."""
        with self.lock:
            return len({m for _, m, _ in self.seen})

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# --- the database --------------------------------------------------------------------------------

def make_database(backend, folder):
    if backend == "sqlite":
        return f"sqlite:///{folder}/bench.sqlite3", None
    import pymysql
    host = os.environ.get("ITFLOW_TEST_MYSQL_HOST", "127.0.0.1")
    port = int(os.environ.get("ITFLOW_TEST_MYSQL_PORT", "3306"))
    user = os.environ.get("ITFLOW_TEST_MYSQL_USER", "root")
    password = os.environ.get("ITFLOW_TEST_MYSQL_PASSWORD", "")
    name = f"itflow_bench_events_{secrets.token_hex(3)}"
    with pymysql.connect(host=host, port=port, user=user, password=password, autocommit=True) as conn:
        conn.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")

    def drop():
        with pymysql.connect(host=host, port=port, user=user, password=password, autocommit=True) as conn:
            conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
    return f"mysql+pymysql://{user}:{password}@{host}:{port}/{name}", drop


def settings(**kwargs):
    return webhooks.Settings(SECRET, ALLOW, connect_timeout=2, read_timeout=5, **kwargs)


def prepare(url):
    db = Database(url)
    db.create_schema()
    capture.install(db)
    webhooks.install(db)
    webhooks.configure(db, settings())
    keys = KeyStore(db, SECRET)
    presented, key_id = keys.create("bench", "2099-01-01")
    with db.transaction(write=True):
        client = db.insert("clients", {"client_name": "Bench"})
    return db, keys.authenticate(presented), client


def subscribe(db, key, port, count):
    head = feed.sequence(db)
    with db.transaction(write=True):
        return [webhooks.create(db, key, f"http://127.0.0.1:{port}/hook/{n}", "tickets", "", 0, head)[0]
                for n in range(count)]


def write_tickets(db, client, count, one_transaction=False):
    """Tickets by plain SQL; returns {ticket id: time written}."""
    written = {}
    if one_transaction:
        with db.transaction(write=True):
            for _ in range(count):
                written[db.insert("tickets", {"ticket_subject": "bench", "ticket_client_id": client})] = time.time()
        return written
    for _ in range(count):
        with db.transaction(write=True):
            ticket = db.insert("tickets", {"ticket_subject": "bench", "ticket_client_id": client})
        written[ticket] = time.time()
    return written


def start_workers(url, count, lease=5.0):
    return [subprocess.Popen([sys.executable, __file__, "worker", url, f"bench-{n}", str(lease)])
            for n in range(count)]


def stop_workers(procs):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def wait_for(receiver, count, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end and receiver.count() < count:
        time.sleep(0.01)
    return receiver.count() >= count


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# --- the runs ------------------------------------------------------------------------------------

def latency(url, db, key, client, writes):
    receiver = Receiver()
    subscribe(db, key, receiver.port, 1)
    procs = start_workers(url, 1)
    try:
        time.sleep(1.5)
        written = {}
        for _ in range(writes):
            written.update(write_tickets(db, client, 1))
            time.sleep(0.05)
        wait_for(receiver, writes, 30)
    finally:
        stop_workers(procs)
        receiver.stop()
    got = {p["data"]["record_id"]: t for t, _, p in receiver.seen}
    ms = [1000 * (got[tid] - t0) for tid, t0 in written.items() if tid in got]
    return {"writes": writes, "delivered": len(ms), "p50_ms": round(statistics.median(ms), 1),
            "p95_ms": round(pct(ms, 95), 1), "max_ms": round(max(ms), 1)}


def throughput(url, db, key, client, events, processes, subscriptions):
    receiver = Receiver()
    subscribe(db, key, receiver.port, subscriptions)
    write_tickets(db, client, events, one_transaction=True)
    feed.sequence(db)
    expected = events * subscriptions
    procs = start_workers(url, processes)
    started = time.time()
    try:
        complete = wait_for(receiver, expected, 300)
    finally:
        stop_workers(procs)
        receiver.stop()
    last = max(t for t, _, _ in receiver.seen)
    ids = [m for _, m, _ in receiver.seen]
    return {"processes": processes, "subscriptions": subscriptions, "events": expected, "complete": complete,
            "seconds": round(last - started, 2), "per_second": round(len(set(ids)) / (last - started)),
            "duplicates": len(ids) - len(set(ids))}


def fault(url, db, key, client, events, subscriptions):
    """Two workers; one is killed with -9 a third of the way; the receiver is stopped for 3 s
    half way. Every event must still arrive, in order per subscription."""
    receiver = Receiver()
    port = receiver.port
    hooks = subscribe(db, key, port, subscriptions)
    written = write_tickets(db, client, events, one_transaction=True)
    feed.sequence(db)
    expected = events * subscriptions
    procs = start_workers(url, 2, lease=3.0)
    started = time.time()
    outage = None
    try:
        wait_for(receiver, expected // 3, 120)
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait()
        wait_for(receiver, expected // 2, 120)
        receiver.stop()
        seen_before = receiver.seen
        time.sleep(3)
        receiver = Receiver(port)
        receiver.seen = seen_before
        outage = 3
        complete = wait_for(receiver, expected, 300)
    finally:
        stop_workers(procs)
        receiver.stop()
    ids = [m for _, m, _ in receiver.seen]
    per_hook = {}
    for _, m, p in receiver.seen:
        per_hook.setdefault(int(m.split("_")[1]), []).append(p["data"]["event_id"])
    in_order = all(seq == sorted(seq) for seq in (list(dict.fromkeys(s)) for s in per_hook.values()))
    wanted = {(h, tid) for h in hooks for tid in written}
    got = {(int(m.split("_")[1]), p["data"]["record_id"]) for _, m, p in receiver.seen}
    return {"events": expected, "killed": "one of two workers (-9)", "receiver_down_s": outage,
            "complete": complete, "lost": len(wanted - got), "duplicates": len(ids) - len(set(ids)),
            "in_order": in_order, "seconds": round(time.time() - started, 1)}


def worker_main(url, owner, lease):
    db = Database(url)
    webhooks.configure(db, settings())
    w = delivery.Worker(db, webhooks.settings_for(db), owner=owner, lease_seconds=float(lease),
                        backoff_base=0.5, backoff_cap=2.0)
    signal.signal(signal.SIGTERM, lambda *a: w.stop())
    w.run()


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        return worker_main(*sys.argv[2:5])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "mysql"), default="sqlite")
    parser.add_argument("--events", type=int, default=1000, help="events per subscription in the throughput runs")
    parser.add_argument("--subscriptions", type=int, default=4)
    parser.add_argument("--writes", type=int, default=200, help="writes in the latency run")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="itflow-bench-events-")
    results = {"backend": args.backend}
    for name, run in (
        ("latency", lambda u, d, k, c: latency(u, d, k, c, args.writes)),
        ("one_process", lambda u, d, k, c: throughput(u, d, k, c, args.events, 1, args.subscriptions)),
        ("two_processes", lambda u, d, k, c: throughput(u, d, k, c, args.events, 2, args.subscriptions)),
        ("fault", lambda u, d, k, c: fault(u, d, k, c, args.events // 2, args.subscriptions)),
    ):
        url, drop = make_database(args.backend, f"{folder}/{name}")
        os.makedirs(f"{folder}/{name}", exist_ok=True)
        db, key, client = prepare(url)
        try:
            results[name] = run(url, db, key, client)
        finally:
            db.close()
            if drop:
                drop()
        print(name, json.dumps(results[name]), flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
