"""Soak and chaos: a realistic mix of requests against a real `itflow-api serve` for a fixed time
while faults are injected on a schedule, then invariants checked on the database. Loopback only;
it stops by itself and cleans up what it started.

    python bench/soak.py                                  # the short form: 3 minutes, SQLite, 16 connections
    python bench/soak.py --backend mysql                  # on a private MariaDB server of its own
    python bench/soak.py --backend mysql --minutes 30 --connections 64 --interval 60   # the long form

The mix: list reads, a filter, reads by id, asset creates, updates and deletes, ticket creates
and ticket replies, requests with a wrong key and malformed bodies. The faults, spread over the
run (each marked in the table): a worker killed with SIGKILL, slow clients holding connections
(slowloris), oversized bodies; on MariaDB the database restarted and frozen (SIGSTOP) for
longer than the read timeout; on SQLite, as root, the database's own small file system filled.

Per interval: requests/s, p50/p99 (ms), answers by class, RSS and open descriptors of every
server process, database connections held. At the end, the invariants; the exit status is 1
when one fails:
  - every create answered "True" is stored (unless a delete of it got no answer, or one
    whose outcome the server could not settle), and none answered "False" or 5xx is;
  - every delete answered "True" is gone; no duplicate ticket numbers; the SQLite file intact;
  - each acknowledged asset create has exactly its one `logs` row;
  - memory and descriptors flat once the faults are over (the quiet last quarter; slopes reported);
  - latency back to its baseline within 5 s of each fault ending;
  - as many server processes alive at the end as at the start.
"""
import argparse
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
SECRET = "soak-secret-0123456789abcdef0123"
READ_TIMEOUT = 2.0
# How a 503 opens when the database vanished during the COMMIT and could not be asked afterwards.
UNKNOWN_OUTCOME = "The database stopped answering while this write was being saved"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the processes -------------------------------------------------------------------------------

def _cpu_list(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


class Setup:
    """The database (SQLite file or private MariaDB) and the server serving it."""

    def __init__(self, backend, folder, workers, threads):
        self.backend, self.folder, self.workers = backend, folder, workers
        self.env = dict(os.environ, ITFLOW_API_SECURITY_KEY_HASH_SECRET=SECRET)
        self.env.pop("ITFLOW_API_CONFIG", None)
        self.mariadb = self.mount = None
        if backend == "mysql":
            from mariadb_private import PrivateMariaDB
            self.mariadb = PrivateMariaDB(folder)
            self.mariadb.start()
            with self.mariadb.connect() as conn:
                conn.cursor().execute("CREATE DATABASE soak CHARACTER SET utf8mb4")
            self.env.update(ITFLOW_API_DATABASE_BACKEND="mysql", ITFLOW_API_DATABASE_PORT=str(self.mariadb.port),
                            ITFLOW_API_DATABASE_USER="root", ITFLOW_API_DATABASE_PASSWORD="",
                            ITFLOW_API_DATABASE_NAME="soak")
        else:
            data = os.path.join(folder, "data")
            os.makedirs(data)
            if os.geteuid() == 0 and shutil.which("mount"):
                done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", data], capture_output=True)
                self.mount = data if done.returncode == 0 else None
            self.env.update(ITFLOW_API_DATABASE_BACKEND="sqlite", ITFLOW_API_DATABASE_PATH=os.path.join(data, "soak.sqlite3"))
        self.port = free_port()
        self.env.update(ITFLOW_API_SERVER_PORT=str(self.port), ITFLOW_API_SERVER_WORKERS=str(workers),
                        ITFLOW_API_SERVER_THREADS=str(threads), ITFLOW_API_LIMITS_ENABLED="false",
                        ITFLOW_API_DATABASE_READ_TIMEOUT=str(READ_TIMEOUT),
                        ITFLOW_API_DATABASE_CONNECT_TIMEOUT="1", ITFLOW_API_LOG_LEVEL="error")
        self.cli("init-db")
        self.key = self.cli("keys", "create", "--name", "soak").strip().splitlines()[-1].strip()
        self.log = open(os.path.join(folder, "server.log"), "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "itflow_api.lib.cli", "serve"], env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while len(self.children()) < workers or not self._answers():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the server did not start; see server.log")
            time.sleep(0.1)

    def cli(self, *args):
        return subprocess.run([sys.executable, "-m", "itflow_api.lib.cli", *args], env=self.env,
                              capture_output=True, text=True, check=True).stdout

    def _answers(self):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/api/v1/health")
            return conn.getresponse().status in (200, 503)
        except OSError:
            return False

    def children(self):
        return _cpu_list(self.proc.pid)

    def processes(self):
        return [self.proc.pid, *self.children()]

    def db_connections(self):
        if self.mariadb is None:
            return None
        try:
            with self.mariadb.connect() as conn:
                cur = conn.cursor()
                cur.execute("SELECT COUNT(*) FROM information_schema.processlist WHERE db = 'soak'")
                return cur.fetchone()[0]
        except Exception:
            return None

    def query(self, sql, args=()):
        """Rows of a check query, straight from the database (not through the server)."""
        if self.mariadb is not None:
            with self.mariadb.connect(database="soak") as conn:
                cur = conn.cursor()
                cur.execute(sql.replace("?", "%s"), args or None)
                return cur.fetchall()
        import sqlite3
        with sqlite3.connect(self.env["ITFLOW_API_DATABASE_PATH"]) as conn:
            return conn.execute(sql, args).fetchall()

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()
        if self.mariadb is not None:
            self.mariadb.close()
        if self.mount:
            subprocess.run(["umount", "-l", self.mount], capture_output=True)


# --- the load ------------------------------------------------------------------------------------

class Ledger:
    """What the server acknowledged, for the invariants, and every answer, for the table."""

    def __init__(self):
        self.lock = threading.Lock()
        self.samples = []                 # (time, latency ms, class)
        self.created, self.refused = {}, set()   # marker → asset id ; markers answered False/5xx
        self.deleted, self.tickets, self.unknown = set(), [], set()
        self.maybe_deleted = set()        # deletes with no answer or an unknown outcome: not judged

    def add(self, started, latency, kind):
        with self.lock:
            self.samples.append((started, latency, kind))


def classify(status, body):
    if status is None:
        return "connection"
    if status >= 500:
        return f"{status}"
    if status >= 400:
        return f"{status}"
    return "ok" if isinstance(body, dict) and body.get("success") == "True" else "false"


class Worker(threading.Thread):
    def __init__(self, setup, ledger, client_id, stop, seed):
        super().__init__(daemon=True)
        self.setup, self.ledger, self.client_id, self.stop = setup, ledger, client_id, stop
        self.random = random.Random(seed)
        self.conn = None

    def call(self, method, path, body=None, raw=None):
        started = time.time()
        t0 = time.perf_counter()
        status, parsed = None, None
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.setup.port, timeout=30)
            data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
            self.conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
            response = self.conn.getresponse()
            status, text = response.status, response.read()
            try:
                parsed = json.loads(text) if text else None
            except ValueError:
                parsed = None
        except (OSError, http.client.HTTPException):
            self.conn = None
        self.ledger.add(started, (time.perf_counter() - t0) * 1000, classify(status, parsed))
        return status, parsed

    def run(self):
        key, actions = self.setup.key, [
            (30, self.list_read), (10, self.filter_read), (15, self.read_by_id), (12, self.create_asset),
            (10, self.update_asset), (5, self.delete_asset), (6, self.create_ticket), (6, self.reply),
            (3, self.bad_key), (3, self.malformed)]
        weights = [w for w, _ in actions]
        self.key, self.mine = key, []
        while not self.stop.is_set():
            self.random.choices([a for _, a in actions], weights)[0]()

    def list_read(self):
        self.call("GET", f"/api/v1/assets/read.php?api_key={self.key}&limit=50")

    def filter_read(self):
        self.call("GET", f"/api/v1/assets/read.php?api_key={self.key}&filter=asset_name=like=SOAK-1*")

    def read_by_id(self):
        if self.mine:
            self.call("GET", f"/api/v1/assets/read.php?api_key={self.key}&asset_id={self.random.choice(self.mine)}")

    def create_asset(self):
        marker = f"SOAK-{secrets.token_hex(6)}"
        status, body = self.call("POST", "/api/v1/assets/create.php",
                                 {"api_key": self.key, "client_id": self.client_id, "asset_name": marker,
                                  "asset_type": "Desktop"})
        with self.ledger.lock:
            if status == 200 and body and body.get("success") == "True":
                self.ledger.created[marker] = body["data"][0]["insert_id"]
                self.mine.append(body["data"][0]["insert_id"])
            elif body and body.get("message", "").startswith(UNKNOWN_OUTCOME):
                self.ledger.unknown.add(marker)  # the server said it cannot know: not judged
            elif status is not None and (status >= 500 or (body and body.get("success") == "False")):
                self.ledger.refused.add(marker)

    def update_asset(self):
        if self.mine:
            self.call("POST", "/api/v1/assets/update.php",
                      {"api_key": self.key, "asset_id": self.random.choice(self.mine),
                       "asset_notes": secrets.token_hex(4)})

    def delete_asset(self):
        if len(self.mine) > 20:
            asset_id = self.mine.pop(self.random.randrange(len(self.mine)))
            status, body = self.call("POST", "/api/v1/assets/delete.php", {"api_key": self.key, "asset_id": asset_id})
            with self.ledger.lock:
                if status == 200 and body and body.get("success") == "True":
                    self.ledger.deleted.add(asset_id)
                elif status is None or (body and body.get("message", "").startswith(UNKNOWN_OUTCOME)):
                    # No answer (a worker killed after its COMMIT, say) or the server could not
                    # settle it: the asset may be gone, so its create is not judged.
                    self.ledger.maybe_deleted.add(asset_id)

    def create_ticket(self):
        status, body = self.call("POST", "/api/v1/tickets/create.php",
                                 {"api_key": self.key, "client_id": self.client_id, "ticket_subject": "soak",
                                  "ticket_details": "soak run"})
        if status == 200 and body and body.get("success") == "True":
            with self.ledger.lock:
                self.ledger.tickets.append(body["data"][0]["insert_id"])

    def reply(self):
        with self.ledger.lock:
            ticket = self.random.choice(self.ledger.tickets) if self.ledger.tickets else None
        if ticket:
            self.call("POST", "/api/v1/ticket_replies/create.php",
                      {"api_key": self.key, "ticket_id": ticket, "ticket_reply": "soak reply",
                       "ticket_reply_type": "Internal"})

    def bad_key(self):
        self.call("GET", "/api/v1/clients/read.php?api_key=not-a-key-" + secrets.token_hex(4))

    def malformed(self):
        self.call("POST", "/api/v1/assets/create.php", raw=b'{"api_key": "' + self.key.encode() + b'", "asset_name": ')


# --- the faults ----------------------------------------------------------------------------------

def kill_worker(setup):
    children = setup.children()
    if children:
        os.kill(random.choice(children), signal.SIGKILL)
    return 0.0


def restart_db(setup):
    setup.mariadb.stop()
    time.sleep(1)
    setup.mariadb.start()
    return 0.0


def freeze_db(setup):
    setup.mariadb.freeze()
    time.sleep(READ_TIMEOUT + 2)
    setup.mariadb.thaw()
    return 0.0


def slowloris(setup, seconds=15, sockets=100):
    held = []
    for _ in range(sockets):
        try:
            s = socket.create_connection(("127.0.0.1", setup.port), timeout=2)
            s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
            held.append(s)
        except OSError:
            break
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for s in held:
            try:
                s.sendall(b"X-a: b\r\n")
            except OSError:
                pass
        time.sleep(1)
    for s in held:
        s.close()
    return 0.0


def oversized(setup, count=5, megabytes=20):
    blob = b'{"api_key": "x", "asset_name": "' + b"A" * (megabytes << 20) + b'"}'
    for _ in range(count):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", setup.port, timeout=30)
            conn.request("POST", "/api/v1/assets/create.php", body=blob, headers={"Content-Type": "application/json"})
            conn.getresponse().read()
        except OSError:
            pass
    return 0.0


def fill_disk(setup, seconds=10):
    filler = os.path.join(setup.mount, "filler")
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 20))
        except OSError:
            pass
    time.sleep(seconds)
    os.remove(filler)
    return 0.0


def schedule(setup):
    faults = [("kill -9 worker", kill_worker), ("slowloris", slowloris), ("oversized bodies", oversized)]
    if setup.mariadb is not None:
        faults += [("restart MariaDB", restart_db), ("freeze MariaDB", freeze_db)]
    if setup.mount:
        faults.append(("disk full", fill_disk))
    return faults


# --- the report ----------------------------------------------------------------------------------

def percentile(values, q):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def slope(points):
    """Least-squares slope of (x, y) points, per unit of x."""
    if len(points) < 2:
        return 0.0
    mx, my = statistics.fmean(p[0] for p in points), statistics.fmean(p[1] for p in points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


def recovery(samples, baseline_p50, ended):
    """Seconds after `ended` until a one-second window answers ok with p50 within 2x the baseline."""
    for second in range(0, 60):
        window = [lat for t, lat, kind in samples if ended + second <= t < ended + second + 1]
        errors = [1 for t, _, kind in samples
                  if ended + second <= t < ended + second + 1 and kind in ("connection", "503", "500")]
        if window and not errors and statistics.median(window) <= max(2 * baseline_p50, baseline_p50 + 5):
            return second
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "mysql"), default="sqlite")
    parser.add_argument("--minutes", type=float, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--interval", type=float, default=20, help="seconds per row of the table")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="itflow-soak-")
    failures = []
    try:
        setup = Setup(args.backend, folder, args.workers, args.threads)
        print(f"soak: {args.minutes:g} min on {args.backend}, {args.connections} connections, "
              f"{args.workers} workers; logs in {folder}", file=sys.stderr, flush=True)
        worker = Worker(setup, Ledger(), 0, threading.Event(), 0)
        _, body = worker.call("POST", "/api/v1/clients/create.php", {"api_key": setup.key, "client_name": "Soak"})
        client_id = body["data"][0]["insert_id"]
        ledger, stop = Ledger(), threading.Event()
        workers = [Worker(setup, ledger, client_id, stop, n) for n in range(args.connections)]
        duration = args.minutes * 60
        start = time.time()
        for w in workers:
            w.start()
        faults = schedule(setup)
        # the first fifth is warm-up and baseline, the faults come in the next half, and the
        # last 30% is quiet: memory and descriptors are judged flat (or not) there
        at = [start + duration * (0.2 + 0.5 * n / max(1, len(faults))) for n in range(len(faults))]
        marks, rows, next_row, fault_ends = {}, [], start + args.interval, []
        pending = list(zip(at, faults, strict=True))
        while time.time() < start + duration:
            now = time.time()
            if pending and now >= pending[0][0]:
                _, (name, fault) = pending.pop(0)
                print(f"  fault at {now - start:.0f} s: {name}", file=sys.stderr, flush=True)
                marks.setdefault(int((now - start) // args.interval), []).append(name)
                threading.Thread(target=lambda f=fault, n=name, t=now: (f(setup), fault_ends.append((n, t, time.time()))),
                                 daemon=True).start()
            if now >= next_row:
                rows.append(sample(setup, ledger, next_row - args.interval, next_row))
                next_row += args.interval
            time.sleep(0.2)
        stop.set()
        for w in workers:
            w.join(40)
        time.sleep(2)
        alive = len(setup.children())
        print(report(args, rows, marks, ledger, setup, start, fault_ends, alive, failures))
        setup.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True) if not failures else None
    if failures:
        print(f"logs kept in {folder}", file=sys.stderr)
    return 1 if failures else 0


def sample(setup, ledger, since, until):
    with ledger.lock:
        window = [(lat, kind) for t, lat, kind in ledger.samples if since <= t < until]
    kinds = {}
    for _, kind in window:
        kinds[kind] = kinds.get(kind, 0) + 1
    latencies = [lat for lat, _ in window]
    procs = setup.processes()
    return {"until": until, "count": len(window), "p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99),
            "kinds": kinds, "rss": sum(_rss_kb(p) for p in procs), "fds": sum(_fds(p) for p in procs),
            "procs": len(procs), "dbconn": setup.db_connections()}


def report(args, rows, marks, ledger, setup, start, fault_ends, alive, failures):
    out = [f"Soak: {args.minutes:g} min, {args.backend}, {args.connections} connections, {args.workers} workers "
           f"x {args.threads} threads", "",
           "| t (s) | req/s | p50 ms | p99 ms | answers | RSS MB | fds | procs | DB conns | fault |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for n, r in enumerate(rows):
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(r["kinds"].items()))
        out.append(f"| {r['until'] - start:.0f} | {r['count'] / args.interval:,.0f} | {r['p50']:.1f} | {r['p99']:.1f} | "
                   f"{kinds} | {r['rss'] / 1024:.0f} | {r['fds']} | {r['procs']} | "
                   f"{'' if r['dbconn'] is None else r['dbconn']} | {', '.join(marks.get(n, []))} |")
    out += ["", "Invariants:"]

    def check(ok, text):
        out.append(f"- {'ok  ' if ok else 'FAIL'} {text}")
        if not ok:
            failures.append(text)

    stored = setup.query("SELECT asset_name, asset_id FROM assets WHERE asset_name LIKE ?", ("SOAK-%",))
    names = {row[0]: row[1] for row in stored}
    gone = ledger.deleted | ledger.maybe_deleted
    lost = [m for m, i in ledger.created.items() if i not in gone and m not in names]
    check(not lost, f"acknowledged creates stored: {len(ledger.created) - len(lost)} of {len(ledger.created)} "
                    f"(deleted since: {len(ledger.deleted)}; deletes with no answer or an unknown outcome, "
                    f"not judged: {len(ledger.maybe_deleted)})")
    ghosts = [m for m in ledger.refused if m in names]
    check(not ghosts, f"creates answered False/5xx absent: {len(ledger.refused) - len(ghosts)} of {len(ledger.refused)}")
    still = [i for i in ledger.deleted if i in set(names.values())]
    check(not still, f"acknowledged deletes gone: {len(ledger.deleted) - len(still)} of {len(ledger.deleted)}")
    dupes = setup.query("SELECT ticket_number, COUNT(*) FROM tickets GROUP BY ticket_number HAVING COUNT(*) > 1")
    check(not dupes, f"duplicate ticket numbers: {len(dupes)} (tickets acknowledged: {len(ledger.tickets)})")
    if setup.mariadb is None:
        integrity = setup.query("PRAGMA integrity_check")[0][0]
        check(integrity == "ok", f"SQLite file intact (integrity_check: {integrity})")
    logged = dict(setup.query("SELECT log_entity_id, COUNT(*) FROM logs WHERE log_type = 'Asset' AND log_action = 'Create' "
                              "GROUP BY log_entity_id"))
    unlogged = [i for i in ledger.created.values() if logged.get(i) != 1]
    check(not unlogged, "one logs row per acknowledged asset create: "
                        f"{len(ledger.created) - len(unlogged)} of {len(ledger.created)}")
    steady = [r for r in rows if r["until"] - start >= args.minutes * 60 * 0.2]
    quiet = [r for r in rows if r["until"] - start >= args.minutes * 60 * 0.75]  # after the faults

    def slopes(window):
        return (slope([((r["until"] - start) / 60, r["rss"] / 1024) for r in window]),
                slope([((r["until"] - start) / 60, r["fds"]) for r in window]))
    (rss_all, fd_all), (rss_quiet, fd_quiet) = slopes(steady), slopes(quiet)
    out.append(f"- after warm-up, faults included: RSS {rss_all:+.2f} MB/min, descriptors {fd_all:+.2f} per min "
               "(a fault may add a step: a restarted database means new connections)")
    if args.minutes >= 10 and len(quiet) >= 3:  # a few minutes are mostly warm-up: judged on long runs
        check(rss_quiet < 0.5, f"RSS slope in the quiet last quarter: {rss_quiet:+.2f} MB/min")
        check(fd_quiet < 0.5, f"descriptor slope in the quiet last quarter: {fd_quiet:+.2f} per min")
    else:
        out.append(f"- (not judged on a run under 10 min) quiet last quarter: RSS {rss_quiet:+.2f} MB/min, "
                   f"descriptors {fd_quiet:+.2f} per min")
    if ledger.unknown:
        out.append(f"- creates the server could not settle (503, outcome unknown, not judged): {len(ledger.unknown)}")
    with ledger.lock:
        samples = list(ledger.samples)
    baseline = [lat for t, lat, kind in samples if start + 5 <= t < start + args.minutes * 60 * 0.2 and kind != "connection"]
    base_p50 = statistics.median(baseline) if baseline else 1.0
    for name, _began, ended in fault_ends:
        # Judged only when no other fault runs in the 5 s after this one ends (in a short run
        # they overlap, and the next one's effect is not this one's recovery).
        overlapping = [n for n, b, e in fault_ends if n != name and b < ended + 5 and e > ended]
        if overlapping:
            out.append(f"- (not judged: '{', '.join(overlapping)}' still running) recovery after '{name}'")
            continue
        seconds = recovery(samples, base_p50, ended)
        if args.minutes < 10:  # a short run's faults crowd each other: reported, judged on long runs
            out.append(f"- (not judged on a run under 10 min) back to baseline after '{name}': "
                       f"{'never' if seconds is None else f'{seconds} s'}")
            continue
        check(seconds is not None and seconds <= 5,
              f"latency back to baseline (p50 {base_p50:.1f} ms) after '{name}': "
              f"{'never' if seconds is None else f'{seconds} s'}")
    check(alive == args.workers, f"workers alive at the end: {alive} of {args.workers}")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
