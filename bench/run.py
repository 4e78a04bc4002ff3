"""Benchmark: itflow-api against the real ITFlow, on one seeded MariaDB database and one machine.

    python bench/run.py --itflow-tree /tmp/itflow-2.4.6        # the full comparison (about 9 minutes)
    python bench/run.py --itflow-tree /tmp/itflow-2.4.6 --quick  # a smoke run (2 s per run, 1 round)
    python bench/run.py                                         # ours alone

The ITFlow tree is an export of the public repository itflow-org/itflow (2.4.6 is the parent of
commit c509b7f69): `git archive <commit> | tar -x -C /tmp/itflow-2.4.6`. It is copied to a
temporary directory, given a config.php for the bench database and served by a private Apache
(apache2 + libapache2-mod-php, prefork) on its own port. Needs wrk, mysqlslap and MariaDB
(--db-host/--db-port/--db-user name an account that may create databases and users, its
password in BENCH_DB_PASSWORD). The database named by --db-name, and a user of that name that
every server and mysqlslap log in as, are created for the run and dropped after it.
"""
import argparse
import os
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
import urllib.error
import urllib.request
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import hotspots  # noqa: E402
import load  # noqa: E402
import mod_wsgi_server  # noqa: E402
import seed  # noqa: E402
from itflow_site import ITFlowSite  # noqa: E402

API_KEY = "BenchKey0123456789abcdefghijklmn"  # clear text, as ITFlow stores keys; both servers accept it
SEED = 246
ASSET_ID = 12345
TICKET_CLIENT = 17
KEY_SQL = f"SELECT * FROM api_keys WHERE api_key_secret = '{API_KEY}' AND api_key_expire > NOW() LIMIT 1"


def workloads():
    """The four request shapes, with the SQL ITFlow 2.4.6 runs for each (its api/v1 files)."""
    join = "LEFT JOIN asset_interfaces ON interface_asset_id = asset_id AND interface_primary = 1"
    ticket_sql = [
        KEY_SQL,
        "SELECT * FROM settings WHERE company_id = 1",
        "SELECT company_name, company_phone FROM companies WHERE company_id = 1",
        f"SELECT contact_id FROM contacts WHERE contact_client_id = {TICKET_CLIENT} AND contact_primary = 1",
        "UPDATE settings SET config_ticket_next_number = LAST_INSERT_ID(config_ticket_next_number), "
        "config_ticket_next_number = config_ticket_next_number + 1 WHERE company_id = 1",
        "INSERT INTO tickets SET ticket_prefix = 'TCK-', ticket_number = LAST_INSERT_ID(), ticket_source = 'API', "
        "ticket_subject = 'Bench ticket', ticket_details = 'Created by the benchmark<br>', ticket_priority = 'Low', "
        "ticket_status = 1, ticket_billable = 0, ticket_vendor_ticket_number = '0', ticket_vendor_id = 0, "
        "ticket_created_by = 0, ticket_assigned_to = 0, ticket_contact_id = 33, ticket_asset_id = 0, "
        f"ticket_url_key = 'abcdefghijklmnopqrstuvwxyz012345', ticket_client_id = {TICKET_CLIENT}",
        "INSERT INTO logs SET log_type = 'Ticket', log_action = 'Create', log_description = 'Created ticket via API', "
        f"log_ip = '127.0.0.1', log_user_agent = '', log_client_id = {TICKET_CLIENT}, log_user_id = 0, log_entity_id = 1",
        "INSERT INTO logs SET log_type = 'API', log_action = 'Success', log_description = 'Created ticket via API', "
        f"log_ip = '127.0.0.1', log_user_agent = '', log_client_id = {TICKET_CLIENT}, log_user_id = 0, log_entity_id = 0",
    ]
    return [
        load.Workload("clients list (50 rows)", "/api/v1/clients/read.php?api_key={key}", 50, "client_name",
                      [KEY_SQL, "SELECT * FROM clients WHERE client_id LIKE '%' ORDER BY client_id LIMIT 50 OFFSET 0"]),
        load.Workload("assets list (50 rows, interface join)", "/api/v1/assets/read.php?api_key={key}", 50,
                      "interface_ip", [KEY_SQL, f"SELECT * FROM assets {join} WHERE asset_client_id LIKE '%' "
                                                "ORDER BY asset_id LIMIT 50 OFFSET 0"]),
        load.Workload("asset by id", f"/api/v1/assets/read.php?api_key={{key}}&asset_id={ASSET_ID:d}", 1, "asset_name",
                      [KEY_SQL, f"SELECT * FROM assets WHERE asset_id = {ASSET_ID} AND asset_client_id LIKE '%'"]),
        load.Workload("ticket create", "/api/v1/tickets/create.php", 1, "insert_id", ticket_sql,
                      body={"client_id": TICKET_CLIENT, "ticket_subject": "Bench ticket",
                            "ticket_details": "Created by the benchmark", "ticket_priority": "Low"}),
    ]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, proc=None, seconds=60):
    """Until the server answers HTTP (any status): a bound port may still have no worker behind it."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the server for port {port} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/", timeout=5).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing answers on port {port}")


def ours_command():
    script = os.path.join(os.path.dirname(sys.executable), "itflow-api")
    return [script] if os.path.exists(script) else [sys.executable, "-m", "itflow_api.lib.cli"]


def server_choices():
    """Our HTTP servers this checkout offers: waitress always, others when `serve --server` exists,
    and mod_wsgi (inside Apache, deploy/apache-mod-wsgi.conf) when Apache and mod_wsgi are here."""
    help_text = subprocess.run(ours_command() + ["serve", "--help"], capture_output=True, text=True).stdout
    wsgi = ["mod_wsgi"] if mod_wsgi_server.available() else []
    if "--server" not in help_text:
        return [None, *wsgi]
    found = [None, *wsgi]
    for name in ("granian", "gunicorn"):
        if name in help_text and subprocess.run([sys.executable, "-c", f"import {name}"],
                                                capture_output=True).returncode == 0:
            found.append(name)
    return found


class Ours:
    def __init__(self, server, ini, port, workers, threads, workdir):
        self.server, self.ini, self.port = server, ini, port
        self.label = f"ours ({server or 'waitress'})"
        self.cmd = ours_command() + ["--config", ini, "serve", "--port", str(port), "--workers", str(workers)]
        if threads:
            self.cmd += ["--threads", str(threads)]
        if server:
            self.cmd += ["--server", server]
        self.log = os.path.join(workdir, f"ours-{server or 'waitress'}.log")
        self.proc = None

    def start(self):
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(self.port, self.proc)

    def banner(self):
        """The first line the server printed: its version, database, driver, workers, threads."""
        with open(self.log, encoding="utf-8", errors="replace") as handle:
            return handle.readline().strip()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: the master and its workers
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


BENCH_QUOTA = "1000000000/minute"


def has_key_quota():
    """Whether this checkout's configuration has [limits] requests_per_key."""
    probe = "import dataclasses, itflow_api.lib.web.config as c; " \
            "print('requests_per_key' in {f.name for f in dataclasses.fields(c.LimitsConfig)})"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout
    return out.strip() == "True"


def write_ini(path, db, port, workers, threads, workdir):
    lines = ["[database]", "backend = mysql", f"host = {db['host']}", f"port = {db['port']}",
             f"user = {db['user']}", f"password = {db['password']}", f"name = {db['name']}", "",
             "[server]", "host = 127.0.0.1", f"port = {port}", f"workers = {workers}"]
    if threads:
        lines.append(f"threads = {threads}")
    lines += ["", "[security]", "key_hash_secret = bench-only-secret",
              f"secret_file = {os.path.join(workdir, 'itflow-api.secret')}", ""]
    if has_key_quota():
        # ITFlow has no per-key quota; the default one (thousands a minute) would answer 429 to a
        # benchmark. Raised rather than turned off, so that its counting is still paid for.
        lines += ["[limits]", f"requests_per_key = {BENCH_QUOTA}", ""]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))


def fmt_range(values, digits=0):
    med = statistics.median(values)
    text = f"{med:,.{digits}f}"
    if len(values) > 1:
        text += f" ({min(values):,.{digits}f}–{max(values):,.{digits}f})"
    return text


def flag(runs):
    errors = sum(r["errors"] for r in runs)
    return f" ⚠ {errors:,} errors" if errors else ""


TARGET = 1.5  # issue 12: at least 1.5x ITFlow's requests per second, with a p99 no worse than ITFlow's


def _median(runs, key):
    return statistics.median(r[key] for r in runs)


def summary_table(results, servers, itflow, ceilings):
    """Medians over the rounds; req/s with its range; ratio = ours / ITFlow; whether the target is met."""
    rows = ["| workload | ITFlow req/s | ITFlow p50 / p99 ms | ours | ours req/s | ours p50 / p99 ms | ratio "
            f"| ≥ {TARGET}× and p99 ≤ ITFlow's | DB ceiling req/s |", "|---|---|---|---|---|---|---|---|---|"]
    for name, per_server in results.items():
        ref = per_server.get(itflow) if itflow else None
        for label in (s for s in servers if s != itflow):
            runs = per_server[label]
            ref_cells, ratio, verdict = "– | –", "–", "–"
            if ref:
                ref_cells = (f"{fmt_range([r['rps'] for r in ref])}{flag(ref)} | "
                             f"{_median(ref, 'p50'):.1f} / {_median(ref, 'p99'):.1f}")
                times = _median(runs, "rps") / _median(ref, "rps")
                ratio = f"{times:.2f}"
                verdict = "yes" if times >= TARGET and _median(runs, "p99") <= _median(ref, "p99") else "no"
            rows.append(f"| {name} | {ref_cells} | {label[6:-1]} | {fmt_range([r['rps'] for r in runs])}{flag(runs)} | "
                        f"{_median(runs, 'p50'):.1f} / {_median(runs, 'p99'):.1f} | {ratio} | {verdict} | "
                        f"{ceilings.get(name, '–')} |")
    return rows


def rounds_table(results):
    rows = ["| workload | server | round | req/s | p50 ms | p99 ms | errors |", "|---|---|---|---|---|---|---|"]
    for name, per_server in results.items():
        for label, runs in per_server.items():
            for i, r in enumerate(runs, 1):
                rows.append(f"| {name} | {label} | {i} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']} |")
    return rows


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--itflow-tree", help="an exported ITFlow tree (read only; it is copied)")
    p.add_argument("--quick", action="store_true", help="smoke run: 2 s per run, 1 round, no warm-up, no RESULTS.md")
    p.add_argument("--duration", type=int, help="seconds per wrk run (default 10; --quick 2)")
    p.add_argument("--rounds", type=int, help="rounds of interleaved runs (default 3; --quick 1)")
    p.add_argument("--warmup", type=int, help="seconds of warm-up per server and workload before round 1 (default 2)")
    p.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    p.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument("--workers", type=int, default=os.cpu_count(), help="our server processes (default: the cores)")
    p.add_argument("--threads", type=int, help="our threads per process (default: the server's own)")
    p.add_argument("--servers", help="ours to measure, comma-separated (default: every one `serve --server` offers, "
                        "and mod_wsgi: inside Apache, when apache2 and mod_wsgi are installed)")
    p.add_argument("--only", help="workloads to run: comma-separated words matched in their names")
    p.add_argument("--db-host", default="127.0.0.1",
                   help="MariaDB host for every client (default 127.0.0.1: TCP; localhost: the socket, ITFlow's default)")
    p.add_argument("--db-port", type=int, default=3306)
    p.add_argument("--db-user", default="root", help="an account that may create databases and users (default root)")
    p.add_argument("--db-name", default="itflow_bench", help="the database made for the run, and its user (default itflow_bench)")
    p.add_argument("--output", help="write the report here (default bench/RESULTS.md; none with --quick)")
    p.add_argument("--profile", action="store_true",
                   help="after the rounds, py-spy each of our servers on the first workload (needs py-spy)")
    p.add_argument("--update-docs", "--update-readme", dest="update_docs", action="store_true",
                   help="put the summary table into docs/performance.md, between its bench markers "
                        "(--update-readme: the older name)")
    p.add_argument("--keep", action="store_true", help="leave the servers' directory and the database in place")
    args = p.parse_args()
    args.duration = args.duration or (2 if args.quick else 10)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.warmup = args.warmup if args.warmup is not None else (0 if args.quick else 2)
    if args.output is None and not args.quick:
        args.output = os.path.join(HERE, "RESULTS.md")
    return args


def mariadb_version(db):
    with seed.connect(db) as conn, conn.cursor() as cur:
        cur.execute("SELECT VERSION()")
        return cur.fetchone()[0]


def main():
    args = parse_args()
    for tool in ("wrk", "mysqlslap"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is needed (Debian: apt-get install wrk mariadb-client)")
    admin = {"host": args.db_host, "port": args.db_port, "user": args.db_user,
             "password": os.environ.get("BENCH_DB_PASSWORD", ""), "name": args.db_name}
    db = dict(admin, user=args.db_name, password=secrets.token_urlsafe(18))  # the servers' own login
    chosen = workloads()
    if args.only:
        words = [w.strip().lower() for w in args.only.split(",")]
        chosen = [w for w in chosen if any(word in w.name for word in words)]
    workdir = tempfile.mkdtemp(prefix="itflow-bench-")
    ini = os.path.join(workdir, "itflow-api.ini")
    write_ini(ini, db, free_port(), args.workers, args.threads, workdir)

    print(f"seeding {db['name']} ({', '.join(f'{n:,} {t}' for t, n in seed.SIZES.items())}; seed {SEED})", flush=True)
    started = time.time()
    itflow_sql = os.path.join(args.itflow_tree, "db.sql") if args.itflow_tree else None
    run = {"args": args, "db": db, "chosen": chosen, "schema": seed.recreate(admin, db, ours_command(), ini, itflow_sql),
           "site": None, "itflow": None, "profiles": {}, "mariadb": mariadb_version(admin),
           "load": os.getloadavg()}
    seed.seed(admin, API_KEY, SEED)
    print(f"  done in {time.time() - started:.0f} s", flush=True)

    servers = {}  # label -> (base URL, something with stop())
    try:
        start_servers(run, servers, ini, workdir)
        run["order"] = order = interleave(list(servers), run["itflow"])
        run["notes"] = check_answers(chosen, servers, run["itflow"])
        run["ceilings"] = db_ceilings(chosen, db, args)
        run["results"] = run_rounds(chosen, servers, order, args, run["notes"], lambda: seed.count(admin, "tickets"))
        if args.profile:
            for label in (label for label in order if label != run["itflow"]):
                run["profiles"][label] = profile_under_load(chosen[0], servers[label], args, workdir)
        if run["site"]:
            php_errors = run["site"].errors()
            if php_errors:
                run["notes"].append(f"ITFlow's error log has {len(php_errors)} PHP lines, "
                                    f"e.g. `{php_errors[0].strip()[:200]}`")
    finally:
        for _, stoppable in servers.values():
            stoppable.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
            seed.drop(admin, db)

    report = build_report(run)
    print("\n" + report)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(report + "\n")
        print(f"\nwritten to {args.output}")
    if args.update_docs:
        update_docs(run)


def update_docs(run):
    """The summary table and the machine between the bench markers of docs/performance.md."""
    path = os.path.join(os.path.dirname(HERE), "docs", "performance.md")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    start, end = "<!-- bench:start -->\n", "<!-- bench:end -->"
    if start not in text or end not in text:
        raise SystemExit(f"{path} has no bench markers")
    a = run["args"]
    block = [f"Latest full run ({datetime.now(timezone.utc):%Y-%m-%d}, {os.cpu_count()} cores shared by wrk, "
             f"MariaDB and the servers; wrk -t{a.wrk_threads} -c{a.connections} -d{a.duration}s, {a.rounds} rounds, "
             f"ours with {a.workers} workers; details in `bench/RESULTS.md`):", "",
             *summary_table(run["results"], run["order"], run["itflow"], run["ceilings"]), ""]
    head, rest = text.split(start, 1)
    text = head + start + "\n".join(block) + "\n" + end + rest.split(end, 1)[1]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    print(f"updated {path}")


def start_servers(run, servers, ini, workdir):
    """Every server of ours that `--servers` asks for (default: all offered), then ITFlow."""
    args = run["args"]
    available = server_choices()
    if args.servers:
        wanted = [None if s in ("waitress", "") else s for s in args.servers.split(",")]
        available = [s for s in available if s in wanted]
    for choice in available:
        if choice == "mod_wsgi":
            ours = mod_wsgi_server.ModWsgiServer(ini, free_port(), args.workers, args.threads, args.connections)
        else:
            ours = Ours(choice, ini, free_port(), args.workers, args.threads, workdir)
        servers[ours.label] = (f"http://127.0.0.1:{ours.port}", ours)
        ours.start()
        run.setdefault("banners", []).append(f"{ours.label}: `{ours.banner()}`")
    if args.itflow_tree:
        site = ITFlowSite(os.path.abspath(args.itflow_tree), workdir, free_port(), run["db"], args.connections)
        site.prepare()
        run["site"], run["itflow"] = site, "ITFlow"
        servers["ITFlow"] = (f"http://127.0.0.1:{site.port}", site)
        site.start()
        wait_for(site.port)
        site.opcache = site.opcache_enabled()


def db_ceilings(chosen, db, args):
    print("database ceilings (mysqlslap)...", flush=True)
    ceilings = {}
    for w in chosen:
        ceilings[w.name] = f"{load.db_ceiling(db, w.sql, args.connections, args.duration):,.0f}"
        if w.body is not None:  # ITFlow commits each statement; ours writes one transaction
            wrapped = ["START TRANSACTION", *w.sql, "COMMIT"]
            ceilings[w.name] += (f" autocommit, {load.db_ceiling(db, wrapped, args.connections, args.duration):,.0f}"
                                 " in one transaction")
    return ceilings


def run_rounds(chosen, servers, order, args, notes, count_tickets):
    """Round after round, each workload on each server in turn; a warm-up before round 1."""
    results = {w.name: {label: [] for label in order} for w in chosen}
    created = {}  # label -> [requests answered, tickets added]
    for round_no in range(1, args.rounds + 1):
        for w in chosen:
            for label in order:
                base = servers[label][0]
                if round_no == 1 and args.warmup:
                    load.wrk(w, base, API_KEY, args.warmup, args.connections, args.wrk_threads)
                before = count_tickets() if w.body is not None else 0
                r = load.wrk(w, base, API_KEY, args.duration, args.connections, args.wrk_threads)
                results[w.name][label].append(r)
                if w.body is not None:  # a refused create is HTTP 200 too: the rows must be there
                    time.sleep(0.5)
                    tally = created.setdefault(label, [0, 0])
                    tally[0] += r["requests"]
                    tally[1] += count_tickets() - before
                if r["errors"]:
                    status, _, raw = load.fetch(w, base, API_KEY)
                    notes.append(f"round {round_no}, {w.name}, {label}: {r['errors']:,} non-2xx answers or socket "
                                 f"errors; a request right after got HTTP {status}: `{raw[:160]}`")
                print(f"round {round_no}  {w.name:40} {label:16} {r['rps']:8,.0f} req/s  p50 {r['p50']:6.2f} ms  "
                      f"p99 {r['p99']:7.2f} ms  errors {r['errors']}", flush=True)
    for label, (answered, added) in created.items():
        verdict = "each one added its ticket" if added >= answered else "TICKETS MISSING"
        notes.append(f"ticket create, {label}: {answered:,} requests answered, {added:,} tickets added ({verdict})")
    return results


def profile_under_load(workload, server, args, workdir):
    """py-spy on one of our servers while wrk drives `workload` at it: once for the time of
    every active thread, once for the threads holding the GIL (Python's own CPU work)."""
    base, ours = server
    rows = []
    for gil, title in ((False, "active threads (time, waits included)"), (True, "threads holding the GIL (CPU in Python)")):
        load_thread = threading.Thread(target=load.wrk, args=(workload, base, API_KEY, args.duration + 3,
                                                              args.connections, args.wrk_threads))
        load_thread.start()
        time.sleep(1)
        raw = os.path.join(workdir, f"profile-{ours.label[6:-1]}-{'gil' if gil else 'active'}.txt")
        hotspots.record(ours.proc.pid, args.duration, raw, gil=gil)
        load_thread.join()
        rows += [f"### {title}", "", *hotspots.summarize(raw), ""]
    print(f"profiled {ours.label}", flush=True)
    return rows


def interleave(labels, itflow):
    """ours, ITFlow, ours...: the reference runs between our servers, so that noise hits both."""
    ours = [label for label in labels if label != itflow]
    return ours[:1] + [itflow] + ours[1:] if itflow else ours


def check_answers(chosen, servers, itflow):
    """Every server must give a real answer to every workload before it is timed; read answers
    of ours are compared with ITFlow's, field by field."""
    notes = []
    for w in chosen:
        answers = {label: load.check(w, base, API_KEY, label) for label, (base, _) in servers.items()}
        print(f"checked {w.name}: {', '.join(answers)} answer with success True and {w.expect_count} row(s)", flush=True)
        if itflow and w.body is None:
            for label, answer in answers.items():
                if label != itflow:
                    diff = load.differences(answer, answers[itflow])
                    notes.append(f"{w.name}: {label} and ITFlow return "
                                 + (f"different data ({diff})" if diff else "identical data"))
    return notes


def build_report(run):
    args, db, itflow, site, order = run["args"], run["db"], run["itflow"], run["site"], run["order"]
    results, chosen = run["results"], run["chosen"]
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = "python bench/run.py " + " ".join(sys.argv[1:])
    settings = [
        f"- Machine: {os.cpu_count()} cores ({os.uname().machine}), everything on it: wrk, MariaDB, both servers; "
        f"load average {run['load'][0]:.1f} before the run, {os.getloadavg()[0]:.1f} after "
        "(other work on the machine adds noise).",
        f"- Database: MariaDB {run['mariadb']} at {db['host']}:{db['port']}"
        f"{' (socket)' if db['host'] == 'localhost' else ' over TCP'} for every client, user {db['user']}, schema from "
        f"{run['schema']}, seeded with {', '.join(f'{n:,} {t}' for t, n in seed.SIZES.items())} "
        f"(every asset with one primary interface), random seed {SEED}; one clear-text all-clients key.",
        f"- Load: wrk -t{args.wrk_threads} -c{args.connections} -d{args.duration}s (keep-alive), "
        f"{args.rounds} round(s) in the order {', '.join(order)}; "
        f"{args.warmup} s warm-up per server and workload before round 1.",
        f"- Ours: `itflow-api --config <ini> serve --workers {args.workers}"
        + (f" --threads {args.threads}" if args.threads else "") + "` (servers: "
        + ", ".join(label[6:-1] for label in order if label != itflow) + "), ini: mysql backend, driver auto"
        " (mysqlclient when installed)"
        + (f", [limits] requests_per_key = {BENCH_QUOTA}" if has_key_quota() else "") + ", other settings at their defaults.",
        *(f"  - {banner}" for banner in run.get("banners", [])),
    ]
    if site:
        settings.append(f"- {site.settings()}; ITFlow tree `{args.itflow_tree}` "
                        "(copied, config.php written for the bench database).")
    settings.append(f"- DB ceiling: mysqlslap --concurrency={args.connections} with ITFlow's SQL for one request "
                    "(key look-up and the endpoint's statements) over persistent connections, about "
                    f"{args.duration} s per workload.")
    lines = [f"# Benchmark results ({when})", "", f"Command: `{command}`", "",
             *summary_table(results, order, itflow, run['ceilings']), "",
             "req/s: median over the rounds (range); p50/p99: medians; ratio: ours / ITFlow req/s.", "",
             "## Settings", "", *settings, ""]
    if run["notes"]:
        lines += ["## Checks", "", *(f"- {n}" for n in run["notes"]), ""]
    lines += ["## Every run", "", *rounds_table(results)]
    for label, rows in run["profiles"].items():
        lines += ["", f"## Profile: {label}, {chosen[0].name} (py-spy, every worker, {args.duration} s under wrk)", "", *rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
