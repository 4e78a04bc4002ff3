"""Webhook delivery, measured: write-to-delivery latency, events per second delivered by one
and by two worker processes, and a fault run that checks nothing was lost: while writes go
on, a worker is killed with -9, the database server is restarted (MariaDB) and the receiver
is away for a while.

    python bench/events.py                       # SQLite in a temporary folder
    python bench/events.py --backend mysql       # ITFLOW_TEST_MYSQL_HOST/_PORT/_USER/_PASSWORD, root by default
    python bench/events.py --backend mysql --only fault --receiver-outage 3600   # the long form: an hour

On MariaDB the fault run starts a private server of its own (tests/mariadb_private.py: its
own data directory and port) and restarts that one; the machine's MariaDB is never stopped.

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
    # The workers here back off 0.5 s doubling to 2 s (not 2 s to an hour), so that delivery
    # resumes within 2 s of a recovery; never disabling a subscription keeps a long outage
    # (--receiver-outage 3600: some 1,800 failed attempts) from ending in one.
    kwargs.setdefault("max_failures", 10**9)
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


class Writer:
    """Tickets by plain SQL, one a transaction, every `pause` seconds, from a thread of this
    process, until stop(); a write that fails (the database is down) is tried again. The
    tickets table is the truth afterwards: a commit whose answer was lost is there too."""

    def __init__(self, url, client, pause=0.05):
        self.db, self.client, self.pause = Database(url), client, pause
        self.written = {}  # ticket id: time its commit was answered
        self.failures = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping.is_set():
            try:
                with self.db.transaction(write=True):
                    ticket = self.db.insert("tickets", {"ticket_subject": "bench", "ticket_client_id": self.client})
                self.written[int(ticket)] = time.time()
            except Exception:  # the database restarting: try again
                self.failures += 1
                self.stopping.wait(0.2)
                continue
            self.stopping.wait(self.pause)

    def stop(self):
        self.stopping.set()
        self.thread.join(30)
        self.db.close()


def fault(url, db, key, client, events, subscriptions, outage_seconds=10.0, server=None):
    """Two workers and a writer that keeps writing; one worker is killed with -9 a third of
    the way through the backlog; then the database server is restarted (`server`: a private
    MariaDB, see tests/mariadb_private.py; None on SQLite); then the receiver is away for
    `outage_seconds`. Every event must still arrive, in order per subscription, a repeat
    only with the same webhook-id."""
    receiver = Receiver()
    port = receiver.port
    hooks = subscribe(db, key, port, subscriptions)
    write_tickets(db, client, events, one_transaction=True)
    feed.sequence(db)
    backlog = events * subscriptions
    procs = start_workers(url, 2, lease=3.0)
    writer = Writer(url, client)
    started = time.time()
    db_down = None
    try:
        wait_for(receiver, backlog // 3, 120)
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait()
        wait_for(receiver, backlog // 2, 120)
        if server is not None:
            down = time.time()
            server.stop()
            time.sleep(3)
            server.start()
            db_down = round(time.time() - down, 1)
        time.sleep(1)
        receiver.stop()
        seen_before = receiver.seen
        time.sleep(outage_seconds)
        receiver = Receiver(port)
        receiver.seen = seen_before
        recovered = time.time()
        time.sleep(2)  # writes go on a little after the recovery
    finally:
        writer.stop()
    try:
        truth = Database(url)
        with truth.transaction():
            tickets = [int(r["ticket_id"]) for r in truth.rows("SELECT ticket_id FROM tickets")]
        truth.close()
        expected = len(tickets) * subscriptions
        complete = wait_for(receiver, expected, max(300, 2 * outage_seconds))
    finally:
        stop_workers(procs)
        receiver.stop()
    ids = [m for _, m, _ in receiver.seen]
    per_hook, msg_ids, first_seen = {}, {}, {}
    for t, m, p in receiver.seen:
        hook, record = int(m.split("_")[1]), p["data"]["record_id"]
        per_hook.setdefault(hook, []).append(p["data"]["event_id"])
        msg_ids.setdefault((hook, record), set()).add(m)
        first_seen.setdefault((hook, record), t)
    in_order = all(seq == sorted(seq) for seq in (list(dict.fromkeys(s)) for s in per_hook.values()))
    wanted = {(h, tid) for h in hooks for tid in tickets}
    got = set(msg_ids)
    # After the recovery: how long an event waited for its delivery, counted from the later of
    # its write and the recovery (a write whose answer was lost counts from the recovery).
    delays = [first_seen[(h, tid)] - max(writer.written.get(tid, recovered), recovered)
              for h, tid in wanted & got]
    return {"events_written": expected, "delivered": len(got & wanted), "lost": len(wanted - got),
            "duplicates": len(ids) - len(set(ids)),
            "duplicates_same_webhook_id": all(len(v) == 1 for v in msg_ids.values()),
            "order_ok": in_order, "killed": "one of two workers (-9)",
            "database_restart_s": db_down, "receiver_down_s": outage_seconds,
            "written_during_run": len(writer.written), "writes_retried": writer.failures,
            "max_delay_after_recovery_s": round(max(delays), 2), "complete": complete,
            "seconds": round(time.time() - started, 1)}


def worker_main(url, owner, lease):
    db = Database(url)
    webhooks.configure(db, settings())
    w = delivery.Worker(db, webhooks.settings_for(db), owner=owner, lease_seconds=float(lease),
                        backoff_base=0.5, backoff_cap=2.0)
    signal.signal(signal.SIGTERM, lambda *a: w.stop())
    w.run()


def private_server(folder):
    """A private MariaDB (tests/mariadb_private.py) for the fault run, which restarts it: the
    machine's own MariaDB is never stopped."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests"))
    try:
        from mariadb_private import PrivateMariaDB, missing
    finally:
        sys.path.pop(0)
    if missing():
        raise SystemExit(f"the fault run on MariaDB needs a private server: {missing()}")
    server = PrivateMariaDB(folder)
    server.start()
    with server.connect() as conn:
        conn.cursor().execute("CREATE DATABASE itflow_bench_fault CHARACTER SET utf8mb4")
    return server, f"mysql+pymysql://root:@127.0.0.1:{server.port}/itflow_bench_fault"


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        return worker_main(*sys.argv[2:5])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "mysql"), default="sqlite")
    parser.add_argument("--events", type=int, default=1000, help="events per subscription in the throughput runs")
    parser.add_argument("--subscriptions", type=int, default=4)
    parser.add_argument("--writes", type=int, default=200, help="writes in the latency run")
    parser.add_argument("--receiver-outage", type=float, default=10.0, metavar="SECONDS",
                        help="how long the receiver is away in the fault run (default 10; the long form: 3600)")
    parser.add_argument("--only", choices=("latency", "one_process", "two_processes", "fault"), action="append",
                        help="run only these (repeatable)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="itflow-bench-events-")
    results = {"backend": args.backend}
    for name, run in (
        ("latency", lambda u, d, k, c, s: latency(u, d, k, c, args.writes)),
        ("one_process", lambda u, d, k, c, s: throughput(u, d, k, c, args.events, 1, args.subscriptions)),
        ("two_processes", lambda u, d, k, c, s: throughput(u, d, k, c, args.events, 2, args.subscriptions)),
        ("fault", lambda u, d, k, c, s: fault(u, d, k, c, args.events // 2, args.subscriptions,
                                             args.receiver_outage, s)),
    ):
        if args.only and name not in args.only:
            continue
        os.makedirs(f"{folder}/{name}", exist_ok=True)
        server = None
        if name == "fault" and args.backend == "mysql":
            server, url = private_server(f"{folder}/{name}")
            drop = server.close
        else:
            url, drop = make_database(args.backend, f"{folder}/{name}")
        db, key, client = prepare(url)
        try:
            results[name] = run(url, db, key, client, server)
        finally:
            db.close()
            if drop:
                drop()
        print(name, json.dumps(results[name]), flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
