"""Benchmark: itflow-api against the real ITFlow, on one seeded MariaDB database and one machine.

    python bench/run.py --itflow-tree /tmp/itflow-2.4.6          # the full comparison (about 20 minutes)
    python bench/run.py --itflow-tree /tmp/itflow-2.4.6 --quick  # a smoke run (2 s per run, 1 round: about 6 minutes)
    python bench/run.py --itflow-tree /tmp/itflow-2.4.6 --plan   # what a run would do and how long it takes
    python bench/run.py                                          # ours alone

Servers (--servers, comma-separated; default itflow,default,tuned):
  itflow    ITFlow 2.4.6 from --itflow-tree, served by a private Apache (prefork + mod_php + opcache).
  default   ours as installed: the README's `pip install .` of this checkout into a fresh venv with no
            extras (--default-venv, created if absent, the checkout installed again on every run), started
            as `itflow-api --config <ini> serve` with no other flag; the ini names the database (and the
            port) and raises the per-key quota, nothing else.
  tuned     ours from the venv running this script, with whatever extras it has: `serve --server granian
            --workers <cores>` (waitress when granian is missing; --workers, --threads).
  waitress, granian, gunicorn, mod_wsgi: one more of ours with that HTTP server, tuned as above.

Workloads (--workloads: short ids or words of their names; default all):
  clients     clients list, 50 rows               clients500  clients list, 500 rows (limit=500)
  assets      assets list, 50 rows + interface    asset       asset by id
  email       contact by e-mail                   filter      assets by name pattern and status (ours only:
  ticket      ticket create                                   ITFlow has no filter; its reference is the
  update      asset update (every one changes                 database ceiling of the same SQL)
              its row: a fresh asset_notes)       reply       ticket reply create (ours only: ITFlow 2.4.6
                                                              has no api/v1/ticket_replies)
Every server must first answer each workload properly (HTTP 200, success "True", the rows); read
answers are compared with ITFlow's field by field, the filter's with the database's own answer to
the same SQL. Under load every answer is looked at (bench/wrk.lua): one that is not HTTP 200 with
success "True" is an error, as are socket errors and timeouts (--timeout, default 2 s: an answer
that takes longer counts as a timeout, not in p50/p99); every write must have
stored its row (tickets, asset_history, ticket_replies are counted before and after each run).

Concurrency (--concurrency, default 1,32,256: latency, the usual load, overload): wrk -c<level>
-t<min(--wrk-threads, level)>. ITFlow's Apache is started again for each level with a pre-spawned
pool as large as the level, up to Debian's MaxRequestWorkers 150 (above that, connections wait to be
accepted, as on an installed ITFlow). mysqlslap runs, at each level, ITFlow's SQL for one request
(key look-up and the endpoint's statements) over persistent connections: the database's ceiling
(over the unix socket at levels above MariaDB's back_log: over TCP mysqlslap then hangs now and then).
MariaDB's max_connections is raised for the run when the levels need it, and put back after.

Memory: the summed RSS of each server's processes (ours: the server and its workers; ITFlow: Apache's
children), sampled every 0.5 s during every run; peak and mean in the table, PSS beside it.

Time: each run takes --duration seconds (default 5; --quick 2), --rounds rounds (default 2; --quick 1)
with --warmup seconds (default 1; --quick 0) per server, workload and level before round 1, and one
mysqlslap ceiling (about --duration, writes twice) per workload and level. The default full run is
150 wrk runs + 75 warm-ups + 36 ceilings: about 20 minutes on 2 cores; --quick about 6; --plan prints
the estimate for the options given. --size large seeds 100,000 tickets and 1,000,000 log rows
(seconds more).

The ITFlow tree is an export of the public repository itflow-org/itflow (2.4.6 is the parent of
commit c509b7f69): `git archive <commit> | tar -x -C /tmp/itflow-2.4.6`. It is copied to a
temporary directory, given a config.php for the bench database and served by a private Apache
(apache2 + libapache2-mod-php, prefork) on its own port. Needs wrk, mysqlslap and MariaDB
(--db-host/--db-port/--db-user name an account that may create databases and users, its
password in BENCH_DB_PASSWORD). The database named by --db-name, and a user of that name that
every server and mysqlslap log in as, are created for the run and dropped after it.
"""
import argparse
import json
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
CHECKOUT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import hotspots  # noqa: E402
import load  # noqa: E402
import memory  # noqa: E402
import mod_wsgi_server  # noqa: E402
import seed  # noqa: E402
from itflow_site import DEBIAN_MAX_REQUEST_WORKERS, ITFlowSite  # noqa: E402

API_KEY = "BenchKey0123456789abcdefghijklmn"  # clear text, as ITFlow stores keys; both servers accept it
SECRET = "bench-only-secret"  # our key-hash secret: the tuned ini's key_hash_secret, the default's secret file
SEED = 246
ASSET_ID = 12345
TICKET_CLIENT = 17
CONTACT_ID = 1234
UPDATE_ASSETS = (15001, 1000)  # asset update spreads over these (none is in a list or filter answer)
REPLY_TICKETS = (1, 1000)
FILTER = "asset_name=like=SER-*;asset_status==Deployed"
LEVELS = "1,32,256"
KEY_SQL = f"SELECT * FROM api_keys WHERE api_key_secret = '{API_KEY}' AND api_key_expire > NOW() LIMIT 1"
JOIN = "LEFT JOIN asset_interfaces ON interface_asset_id = asset_id AND interface_primary = 1"
ITFLOW_ASSET_COLUMNS = ("asset_name", "asset_description", "asset_type", "asset_make", "asset_model", "asset_serial",
                        "asset_os", "asset_uri", "asset_uri_2", "asset_status", "asset_location_id", "asset_vendor_id",
                        "asset_contact_id", "asset_purchase_date", "asset_warranty_expire", "asset_install_date")


def _log_sql(kind, action, description, client, entity):
    return (f"INSERT INTO logs SET log_type = '{kind}', log_action = '{action}', log_description = '{description}', "
            f"log_ip = '127.0.0.1', log_user_agent = 'itflow-bench/1', log_client_id = {client}, log_user_id = 0, "
            f"log_entity_id = {entity}")


def filter_sql():
    """What ITFlow would run for the filter, had it one: its list read with our conditions."""
    return (f"SELECT * FROM assets {JOIN} WHERE asset_client_id LIKE '%' AND (assets.asset_name LIKE 'SER-%' "
            "ESCAPE '!' AND assets.asset_status = 'Deployed') ORDER BY asset_id LIMIT 50 OFFSET 0")


def workloads(sizes=seed.SIZES):
    """The request shapes, with the SQL ITFlow 2.4.6 runs for each (its api/v1 files); for the
    two it has not, the SQL the request needs, in ITFlow's way."""
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
        _log_sql("Ticket", "Create", "Created ticket via API", TICKET_CLIENT, 1),
        _log_sql("API", "Success", "Created ticket via API", TICKET_CLIENT, 0),
    ]
    # assets/update.php: the row, the update of every model column (asset_notes is what changes),
    # the primary interface, a history row and two log rows. @a spreads the rows like the HTTP runs.
    first, span = UPDATE_ASSETS
    per_client = sizes["assets"] // sizes["clients"]
    client = f"((@a - 1) DIV {per_client} + 1)"
    update_sql = [
        KEY_SQL,
        f"SET @a = {first} + FLOOR(RAND() * {span})",
        f"SELECT * FROM assets WHERE asset_id = @a AND asset_client_id = {client} LIMIT 1",
        "UPDATE assets SET " + ", ".join(f"{c} = {c}" for c in ITFLOW_ASSET_COLUMNS)
        + f", asset_notes = CONCAT('Bench update ', RAND()) WHERE asset_id = @a AND asset_client_id = {client} LIMIT 1",
        "UPDATE asset_interfaces SET interface_mac = '', interface_ip = '', interface_network_id = 0 "
        "WHERE interface_asset_id = @a AND interface_primary = 1",
        "INSERT INTO asset_history SET asset_history_status = 'Deployed', "
        "asset_history_description = 'API updated an asset (bench)', asset_history_asset_id = @a",
        _log_sql("Asset", "Edit", "an asset via API (bench)", client, 0),
        _log_sql("API", "Success", "Edited an asset via API (bench)", client, 0),
    ]
    t_first, t_span = REPLY_TICKETS
    reply_sql = [
        KEY_SQL,
        f"SET @t = {t_first} + FLOOR(RAND() * {t_span})",
        "SELECT * FROM tickets WHERE ticket_id = @t",
        "INSERT INTO ticket_replies SET ticket_reply = 'Bench reply', ticket_reply_type = 'Internal', "
        "ticket_reply_time_worked = '00:00:00', ticket_reply_by = 0, ticket_reply_ticket_id = @t",
        _log_sql("Ticket", "Reply", "Added a reply via API (bench)", 1, 0),
        _log_sql("API", "Success", "Added a reply via API (bench)", 1, 0),
    ]
    email = seed.contact_email(CONTACT_ID, sizes)
    return [
        load.Workload("clients", "clients list (50 rows)", "/api/v1/clients/read.php?api_key={key}", 50, "client_name",
                      [KEY_SQL, "SELECT * FROM clients WHERE client_id LIKE '%' ORDER BY client_id LIMIT 50 OFFSET 0"]),
        load.Workload("assets", "assets list (50 rows, interface join)", "/api/v1/assets/read.php?api_key={key}", 50,
                      "interface_ip", [KEY_SQL, f"SELECT * FROM assets {JOIN} WHERE asset_client_id LIKE '%' "
                                                "ORDER BY asset_id LIMIT 50 OFFSET 0"]),
        load.Workload("asset", "asset by id", f"/api/v1/assets/read.php?api_key={{key}}&asset_id={ASSET_ID:d}", 1,
                      "asset_name",
                      [KEY_SQL, f"SELECT * FROM assets WHERE asset_id = {ASSET_ID} AND asset_client_id LIKE '%'"]),
        load.Workload("email", "contact by e-mail",
                      "/api/v1/contacts/read.php?api_key={key}&" + load.query({"contact_email": email}), 1,
                      "contact_email",
                      [KEY_SQL, f"SELECT * FROM contacts WHERE contact_email = '{email}' AND contact_client_id LIKE '%'"]),
        load.Workload("clients500", "clients list (500 rows)", "/api/v1/clients/read.php?api_key={key}&limit=500", 500,
                      "client_name",
                      [KEY_SQL, "SELECT * FROM clients WHERE client_id LIKE '%' ORDER BY client_id LIMIT 500 OFFSET 0"]),
        load.Workload("filter", "assets filter (name pattern and status)",
                      "/api/v1/assets/read.php?api_key={key}&" + load.query({"filter": FILTER}), 50, "asset_name",
                      [KEY_SQL, filter_sql()], itflow=False),
        load.Workload("ticket", "ticket create", "/api/v1/tickets/create.php", 1, "insert_id", ticket_sql,
                      body={"client_id": TICKET_CLIENT, "ticket_subject": "Bench ticket",
                            "ticket_details": "Created by the benchmark", "ticket_priority": "Low"},
                      stored="tickets"),
        load.Workload("update", "asset update", "/api/v1/assets/update.php", 1, None, update_sql,
                      body={"asset_id": "@ID@", "client_id": "@CID@", "asset_notes": "Bench update @N@"},
                      stored="asset_history", rotate=(first, span, per_client)),
        load.Workload("reply", "ticket reply create", "/api/v1/ticket_replies/create.php", 1, "insert_id", reply_sql,
                      body={"ticket_id": "@ID@", "ticket_reply": "Bench reply @N@", "ticket_reply_type": "Internal"},
                      itflow="api/v1/ticket_replies/create.php", stored="ticket_replies",
                      rotate=(t_first, t_span, 1)),
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


def _importable(name, python=sys.executable):
    return subprocess.run([python, "-c", f"import {name}"], capture_output=True).returncode == 0


def server_choices():
    """Our HTTP servers this checkout offers: waitress always, others when `serve --server` exists,
    and mod_wsgi (inside Apache, deploy/apache-mod-wsgi.conf) when Apache and mod_wsgi are here."""
    help_text = subprocess.run(ours_command() + ["serve", "--help"], capture_output=True, text=True).stdout
    wsgi = ["mod_wsgi"] if mod_wsgi_server.available() else []
    if "--server" not in help_text:
        return ["waitress", *wsgi]
    return ["waitress", *wsgi, *(name for name in ("granian", "gunicorn") if name in help_text and _importable(name))]


class Ours:
    """One of our servers, in a session of its own (so that its workers can be found and stopped)."""

    def __init__(self, label, cmd, port, log, cwd=None):
        self.label, self.cmd, self.port, self.log, self.cwd = label, cmd, port, log, cwd
        self.proc = None

    def start(self):
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                         cwd=self.cwd)
        wait_for(self.port, self.proc)

    def banner(self):
        """The lines the server printed first: version, database, driver, HTTP server, workers, threads."""
        with open(self.log, encoding="utf-8", errors="replace") as handle:
            return " / ".join(line.strip() for line in handle.readlines()[:2])

    def memory_pids(self):
        return memory.session_members(self.proc.pid) if self.proc else []

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: the master and its workers
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


BENCH_QUOTA = "1000000000/minute"


def has_key_quota(python=sys.executable):
    """Whether this checkout's configuration has [limits] requests_per_key."""
    probe = "import dataclasses, itflow_api.lib.web.config as c; " \
            "print('requests_per_key' in {f.name for f in dataclasses.fields(c.LimitsConfig)})"
    out = subprocess.run([python, "-c", probe], capture_output=True, text=True).stdout
    return out.strip() == "True"


def _database_lines(db):
    return ["[database]", "backend = mysql", f"host = {db['host']}", f"port = {db['port']}",
            f"user = {db['user']}", f"password = {db['password']}", f"name = {db['name']}", ""]


def _quota_lines(python=sys.executable):
    # ITFlow has no per-key quota; the default one (thousands a minute) would answer 429 to a
    # benchmark. Raised rather than turned off, so that its counting is still paid for.
    return ["[limits]", f"requests_per_key = {BENCH_QUOTA}", ""] if has_key_quota(python) else []


def write_ini(path, db, port, workers, threads, workdir):
    """The tuned servers' ini."""
    lines = [*_database_lines(db), "[server]", "host = 127.0.0.1", f"port = {port}", f"workers = {workers}"]
    if threads:
        lines.append(f"threads = {threads}")
    lines += ["", "[security]", f"key_hash_secret = {SECRET}",
              f"secret_file = {os.path.join(workdir, 'itflow-api.secret')}", "", *_quota_lines()]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))


def write_default_ini(path, db, port, python):
    """The as-installed server's ini: the database, the port, the quota; every other setting its
    default (its key secret is the default secret_file beside the ini, holding the same secret)."""
    lines = [*_database_lines(db), "[server]", f"port = {port}", "", *_quota_lines(python)]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    secret_file = os.path.join(os.path.dirname(path), "itflow-api.secret")
    if not os.path.exists(secret_file):
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(SECRET + "\n")


# What decides the speed of an install: its HTTP servers, MySQL drivers and JSON encoder.
INSTALLED = ("waitress", "granian", "gunicorn", "pymysql", "mysqlclient", "mysql-connector-python", "orjson", "falcon")


def default_venv(path):
    """The README's install: a fresh venv (made when absent) and `pip install .` of this checkout,
    no extras; done again on every run so that it serves the checkout as it is now."""
    python = os.path.join(path, "bin", "python")
    if not os.path.exists(python):
        print(f"creating {path} (python -m venv)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", path], check=True)
    print(f"pip install {CHECKOUT} into {path}", flush=True)
    done = subprocess.run([python, "-m", "pip", "install", "--quiet", CHECKOUT], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"pip install . into {path} failed: {(done.stderr or done.stdout).strip()[-600:]}")
    listed = subprocess.run([python, "-m", "pip", "list", "--format=json"], capture_output=True, text=True).stdout
    versions = {p["name"].lower(): p["version"] for p in json.loads(listed or "[]")}
    return python, [f"{name} {versions[name]}" for name in INSTALLED if name in versions]


def fmt_range(values, digits=0):
    med = statistics.median(values)
    text = f"{med:,.{digits}f}"
    if len(values) > 1:
        text += f" ({min(values):,.{digits}f}–{max(values):,.{digits}f})"
    return text


def flag(runs):
    errors = sum(r["errors"] for r in runs)
    return f" ⚠ {errors:,} errors" if errors else ""


def _median(runs, key):
    return statistics.median(r[key] for r in runs)


def _latency(runs):
    return f"{_median(runs, 'p50'):.1f} / {_median(runs, 'p99'):.1f}"


def short(label):
    """'ours tuned' -> 'tuned', 'ours (granian)' -> 'granian', 'ITFlow' stays."""
    return label[5:].strip("()") if label.startswith("ours ") else label


def summary_table(results, labels, itflow, ceilings):
    """One row per workload and concurrency: medians over the rounds, req/s with its range; for
    each of ours its ratio to ITFlow; the database ceiling and each server's share of it; memory."""
    ours = [label for label in labels if label != itflow]
    labels = ([itflow] if itflow else []) + ours  # ITFlow first in the shared columns
    head = ["workload", "c"]
    if itflow:
        head += ["ITFlow req/s", "ITFlow p50 / p99 ms"]
    for label in ours:
        head += [f"{short(label)} req/s", f"{short(label)} p50 / p99 ms"] + ([f"{short(label)} ÷ ITFlow"] if itflow else [])
    head += ["DB ceiling req/s", "% of ceiling (" + " / ".join(short(label) for label in labels) + ")",
             "RSS MB peak (mean): " + " / ".join(short(label) for label in labels)]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (name, level), per_server in results.items():
        ref = per_server.get(itflow) if itflow else None
        cells = [name, str(level)]
        if itflow:
            cells += [f"{fmt_range([r['rps'] for r in ref])}{flag(ref)}", _latency(ref)] if ref else ["–", "–"]
        for label in ours:
            runs = per_server.get(label)
            if not runs:
                cells += ["–", "–"] + (["–"] if itflow else [])
                continue
            cells += [f"{fmt_range([r['rps'] for r in runs])}{flag(runs)}", _latency(runs)]
            if itflow:
                cells.append(f"{_median(runs, 'rps') / _median(ref, 'rps'):.2f}" if ref else "–")
        ceiling = ceilings.get((name, level))
        cells.append(ceiling_text(ceiling))
        shares, rss = [], []
        for label in labels:
            runs = per_server.get(label)
            shares.append(f"{_median(runs, 'rps') * 100 / ceiling[0]:.0f}%" if runs and ceiling else "–")
            rss.append(f"{max(r['rss_peak'] for r in runs):,.0f} ({statistics.mean(r['rss_mean'] for r in runs):,.0f})"
                       if runs else "–")
        cells += [" / ".join(shares), " / ".join(rss)]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def ceiling_text(ceiling):
    if not ceiling:
        return "–"
    text = f"{ceiling[0]:,.0f}"
    if ceiling[1]:
        text += f" ({ceiling[1]:,.0f} in one transaction)"
    return text


def rounds_table(results):
    rows = ["| workload | c | server | round | req/s | p50 ms | p99 ms | non-2xx | 200 without success | timeouts "
            "| socket errors | RSS MB peak / mean | PSS MB peak | processes |", "|" + "---|" * 14]
    for (name, level), per_server in results.items():
        for label, runs in per_server.items():
            for i, r in enumerate(runs, 1):
                rows.append(f"| {name} | {level} | {label} | {i} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} "
                            f"| {r['non_2xx']:,} | {r['not_success']:,} | {r['timeouts']:,} | {r['socket']:,} "
                            f"| {r['rss_peak']:,.0f} / {r['rss_mean']:,.0f} | {r['pss_peak']:,.0f} | {r['procs']} |")
    return rows


def _levels(text):
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SystemExit(f"--concurrency takes numbers separated by commas, not {text!r}") from None
    if not levels or min(levels) < 1:
        raise SystemExit("--concurrency needs at least one level of 1 or more")
    return levels


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--itflow-tree", help="an exported ITFlow tree (read only; it is copied)")
    p.add_argument("--quick", action="store_true", help="smoke run: 2 s per run, 1 round, no warm-up, no RESULTS.md")
    p.add_argument("--plan", action="store_true", help="print what the run would do and its estimated time, then stop")
    p.add_argument("--duration", type=int, help="seconds per wrk run (default 5; --quick 2)")
    p.add_argument("--rounds", type=int, help="rounds of interleaved runs (default 2; --quick 1)")
    p.add_argument("--warmup", type=int, help="seconds of warm-up per server, workload and level before round 1 "
                                              "(default 1; --quick 0)")
    p.add_argument("--concurrency", default=LEVELS,
                   help=f"wrk connections, one level or several: 1 latency, 256 overload (default {LEVELS})")
    p.add_argument("--connections", type=int, help="one concurrency level (the older option; --concurrency N)")
    p.add_argument("--timeout", type=float, default=2, help="seconds after which wrk counts an answer as timed out "
                                                             "(and leaves it out of p50/p99; default 2)")
    p.add_argument("--wrk-threads", type=int, default=2, help="wrk threads, at most the connections (default 2)")
    p.add_argument("--workers", type=int, default=os.cpu_count(),
                   help="processes of our tuned servers (default: the cores)")
    p.add_argument("--threads", type=int, help="threads per process of our tuned servers (default: the server's own)")
    p.add_argument("--servers", help="comma-separated: itflow, default, tuned, waitress, granian, gunicorn, mod_wsgi "
                                     "(default itflow,default,tuned; itflow needs --itflow-tree)")
    p.add_argument("--workloads", "--only", dest="workloads",
                   help="comma-separated short ids (clients, assets, asset, email, clients500, filter, ticket, update, "
                        "reply) or words of the names (default: all)")
    p.add_argument("--size", choices=sorted(seed.SIZE_CHOICES), default="default",
                   help="the seeded data: default (5,000 tickets) or large (100,000 tickets, 1,000,000 log rows)")
    p.add_argument("--default-venv", default="/tmp/bench-default-venv",
                   help="the venv of the as-installed server (created when absent; default /tmp/bench-default-venv)")
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
    args = p.parse_args(argv)
    args.duration = args.duration or (2 if args.quick else 5)
    args.rounds = args.rounds or (1 if args.quick else 2)
    args.warmup = args.warmup if args.warmup is not None else (0 if args.quick else 1)
    args.levels = [args.connections] if args.connections else _levels(args.concurrency)
    args.sizes = seed.SIZE_CHOICES[args.size]
    if args.output is None and not args.quick:
        args.output = os.path.join(HERE, "RESULTS.md")
    return args


def select_workloads(args):
    chosen = workloads(args.sizes)
    if args.workloads:
        words = [w.strip().lower() for w in args.workloads.split(",") if w.strip()]
        by_key = {w.key for w in chosen}
        unknown = [word for word in words if word not in by_key and not any(word in w.name for w in chosen)]
        if unknown:
            raise SystemExit(f"--workloads: no workload {', '.join(unknown)} (ids: {', '.join(sorted(by_key))})")
        chosen = [w for w in chosen if w.key in words or any(word not in by_key and word in w.name for word in words)]
    return chosen


def select_servers(args):
    """[(kind, choice)]: kind itflow, default, tuned or extra (choice: the HTTP server)."""
    wanted = [s.strip().lower() for s in (args.servers or "itflow,default,tuned").split(",") if s.strip()]
    known = {"itflow", "default", "tuned", "waitress", "granian", "gunicorn", "mod_wsgi"}
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise SystemExit(f"--servers: unknown {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    if "itflow" in wanted and not args.itflow_tree:
        if args.servers:
            raise SystemExit("--servers itflow needs --itflow-tree")
        wanted.remove("itflow")
    return wanted


def itflow_has(workload, tree):
    if isinstance(workload.itflow, str):
        return bool(tree) and os.path.exists(os.path.join(tree, workload.itflow))
    return workload.itflow


def plan(args, chosen, wanted):
    """(runs per round and level, warm-ups, ceilings, estimated seconds) of a run with these options."""
    servers_ours = len([s for s in wanted if s != "itflow"])
    per_level = sum(servers_ours + ("itflow" in wanted and itflow_has(w, args.itflow_tree)) for w in chosen)
    writes = sum(w.write for w in chosen)
    runs = per_level * len(args.levels) * args.rounds
    warmups = per_level * len(args.levels) if args.warmup else 0
    ceilings = (len(chosen) + writes) * len(args.levels)
    overhead = 0.7  # wrk's start, the memory sampler, a write's counting
    seconds = (runs * (args.duration + overhead) + warmups * (args.warmup + 0.3)
               + ceilings * (args.duration * 1.1 + 0.5)
               + 15 + ("default" in wanted) * 15 + 5 * len(wanted) + ("itflow" in wanted) * 4 * len(args.levels))
    return per_level, runs, warmups, ceilings, seconds


def mariadb_facts(db):
    """(version, (back_log, unix socket path))."""
    with seed.connect(db) as conn, conn.cursor() as cur:
        cur.execute("SELECT VERSION(), @@back_log, @@socket")
        version, back_log, path = cur.fetchone()
        return version, (int(back_log), path)


def raise_max_connections(admin, needed):
    """(before, after) when MariaDB's max_connections was raised to `needed`, else None."""
    with seed.connect(admin) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.max_connections")
        before = int(cur.fetchone()[0])
        if before >= needed:
            return None
        cur.execute(f"SET GLOBAL max_connections = {int(needed)}")
        return before, needed


def restore_max_connections(admin, raised):
    if raised:
        with seed.connect(admin) as conn, conn.cursor() as cur:
            cur.execute(f"SET GLOBAL max_connections = {int(raised[0])}")


def main():
    # SIGTERM (a timeout, a CI cancel) unwinds like Ctrl-C: servers stopped, max_connections and the database restored
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = parse_args()
    chosen = select_workloads(args)
    wanted = select_servers(args)
    per_level, runs, warmups, ceilings, seconds = plan(args, chosen, wanted)
    print(f"plan: {len(chosen)} workload(s) x {len(args.levels)} level(s) {args.levels} x {args.rounds} round(s): "
          f"{runs} wrk runs of {args.duration} s, {warmups} warm-ups of {args.warmup} s, {ceilings} mysqlslap ceilings; "
          f"servers {', '.join(wanted)}; about {seconds / 60:.0f} minutes", flush=True)
    if args.plan:
        return
    for tool in ("wrk", "mysqlslap"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is needed (Debian: apt-get install wrk mariadb-client)")
    admin = {"host": args.db_host, "port": args.db_port, "user": args.db_user,
             "password": os.environ.get("BENCH_DB_PASSWORD", ""), "name": args.db_name}
    db = dict(admin, user=args.db_name, password=secrets.token_urlsafe(18))  # the servers' own login
    workdir = tempfile.mkdtemp(prefix="itflow-bench-")
    ini = os.path.join(workdir, "itflow-api.ini")
    write_ini(ini, db, free_port(), args.workers, args.threads, workdir)

    run = {"args": args, "db": db, "chosen": chosen, "site": None, "itflow": None, "profiles": {},
           "mariadb": None, "load": os.getloadavg(), "started": time.time(), "banners": [],
           "notes": [], "estimate": seconds, "results": {}, "ceilings": {}, "max_connections": None}
    run["mariadb"], run["back_log"] = mariadb_facts(admin)
    servers = {}  # label -> (base URL, something with stop() and memory_pids())
    try:
        # ITFlow's Apache at most 150 children, mysqlslap one connection per client, our pools
        needed = max(args.levels) + DEBIAN_MAX_REQUEST_WORKERS + 16 * len(wanted) * max(1, args.workers) + 20
        try:
            run["max_connections"] = raise_max_connections(admin, needed)
        except Exception as exc:  # noqa: BLE001 - a run without the privilege still runs, and says so
            run["notes"].append(f"MariaDB's max_connections could not be raised to {needed}: {exc}")
        measure(run, servers, wanted, admin, ini, workdir)
    finally:
        for _, stoppable in servers.values():
            stoppable.stop()
        try:
            restore_max_connections(admin, run["max_connections"])
        finally:
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


def measure(run, servers, wanted, admin, ini, workdir):
    """Seed, start the servers, check their answers, then every level: ceilings and rounds."""
    args, db, chosen = run["args"], run["db"], run["chosen"]
    print(f"seeding {db['name']} ({seed.describe(args.sizes)}; seed {SEED})", flush=True)
    started = time.time()
    itflow_sql = os.path.join(args.itflow_tree, "db.sql") if args.itflow_tree else None
    run["schema"] = seed.recreate(admin, db, ours_command(), ini, itflow_sql)
    seed.seed(admin, API_KEY, SEED, args.sizes)
    run["seed_seconds"] = time.time() - started
    print(f"  done in {run['seed_seconds']:.0f} s", flush=True)

    start_servers(run, servers, wanted, ini, workdir)
    run["order"] = order = interleave(list(servers), run["itflow"])
    for w in chosen:
        if run["itflow"] and not itflow_has(w, args.itflow_tree):
            run["notes"].append(f"{w.name}: ours alone; ITFlow 2.4.6 has no such request "
                                + (f"({w.itflow} is not in the tree)" if isinstance(w.itflow, str)
                                   else "(it ignores filter=), its reference is the database ceiling"))
    check_answers(run, servers, admin)
    for level in args.levels:
        if run["site"] and level != args.levels[0]:  # it was started for the first level
            run["site"].resize(level)
            wait_for(run["site"].port)
        run["ceilings"].update(db_ceilings(chosen, db, level, args, run["notes"], slap_socket(run, level)))
        run_rounds(run, servers, order, level, admin)
    if args.profile:
        level = 32 if 32 in args.levels else args.levels[0]
        for label in (label for label in order if label != run["itflow"]):
            run["profiles"][label] = profile_under_load(chosen[0], servers[label], args, level, workdir)
    if run["site"]:
        php_errors = run["site"].errors()
        if php_errors:
            run["notes"].append(f"ITFlow's error log has {len(php_errors)} PHP lines, "
                                f"e.g. `{php_errors[0].strip()[:200]}`")


def update_docs(run):
    """The summary table and the machine between the bench markers of docs/performance.md."""
    path = os.path.join(CHECKOUT, "docs", "performance.md")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    start, end = "<!-- bench:start -->\n", "<!-- bench:end -->"
    if start not in text or end not in text:
        raise SystemExit(f"{path} has no bench markers")
    a = run["args"]
    block = [f"Latest full run ({datetime.now(timezone.utc):%Y-%m-%d}, {os.cpu_count()} cores shared by wrk, "
             f"MariaDB and the servers; {a.size} data; wrk -d{a.duration}s at {', '.join(map(str, a.levels))} "
             f"connections, {a.rounds} round(s); ours tuned with {a.workers} workers; details in `bench/RESULTS.md`):",
             "", *summary_table(run["results"], run["order"], run["itflow"], run["ceilings"]), ""]
    head, rest = text.split(start, 1)
    text = head + start + "\n".join(block) + "\n" + end + rest.split(end, 1)[1]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    print(f"updated {path}")


def start_servers(run, servers, wanted, ini, workdir):
    """Ours as installed, ours tuned, any other of ours asked for, then ITFlow."""
    args = run["args"]
    available = server_choices()
    named = "--server" in subprocess.run(ours_command() + ["serve", "--help"], capture_output=True, text=True).stdout
    tuned_choice = "granian" if "granian" in available else "waitress"

    def tuned_cmd(choice, port):
        cmd = ours_command() + ["--config", ini, "serve", "--port", str(port), "--workers", str(args.workers)]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        # named even when it is waitress: the default server may be another one in this checkout
        return cmd + (["--server", choice] if named else [])

    for kind in wanted:
        if kind == "itflow":
            continue
        port = free_port()
        if kind == "default":
            python, installed = default_venv(args.default_venv)
            default_dir = os.path.join(workdir, "default")
            os.makedirs(default_dir)
            default_ini = os.path.join(default_dir, "itflow-api.ini")
            write_default_ini(default_ini, run["db"], port, python)
            script = os.path.join(os.path.dirname(python), "itflow-api")
            ours = Ours("ours default", [script, "--config", default_ini, "serve"], port,
                        os.path.join(workdir, "ours-default.log"), cwd=default_dir)
            with open(default_ini, encoding="utf-8") as handle:
                run["default"] = {"venv": args.default_venv, "installed": installed, "ini": handle.read()}
        elif kind == "tuned":
            ours = Ours("ours tuned", tuned_cmd(tuned_choice, port), port, os.path.join(workdir, "ours-tuned.log"))
            run["tuned"] = " ".join(["itflow-api"] + ours.cmd[len(ours_command()):]).replace(ini, "<ini>")
        elif kind not in available:
            raise SystemExit(f"--servers {kind}: not offered here (offered: {', '.join(available)})")
        elif kind == "mod_wsgi":
            ours = mod_wsgi_server.ModWsgiServer(ini, port, args.workers, args.threads, max(args.levels))
        else:
            ours = Ours(f"ours ({kind})", tuned_cmd(kind, port), port, os.path.join(workdir, f"ours-{kind}.log"))
        servers[ours.label] = (f"http://127.0.0.1:{ours.port}", ours)
        ours.start()
        run["banners"].append(f"{ours.label}: `{ours.banner()}`")
    if "itflow" in wanted:
        site = ITFlowSite(os.path.abspath(args.itflow_tree), workdir, free_port(), run["db"], args.levels[0])
        site.prepare()
        run["site"], run["itflow"] = site, "ITFlow"
        servers["ITFlow"] = (f"http://127.0.0.1:{site.port}", site)
        site.start()
        wait_for(site.port)
        site.opcache = site.opcache_enabled()


def slap_socket(run, level):
    """The unix socket for mysqlslap when its connections at `level` outnumber MariaDB's back_log
    (over TCP, mysqlslap then hangs now and then: some of its connections wait for ever)."""
    back_log, path = run["back_log"]
    if level > back_log and path and os.path.exists(path) and run["db"]["host"] in ("127.0.0.1", "localhost", "::1"):
        run.setdefault("slap_socket_levels", []).append(level)
        return path
    return None


def db_ceilings(chosen, db, level, args, notes, socket=None):
    print(f"database ceilings at {level} connection(s) (mysqlslap{' over the socket' if socket else ''})...",
          flush=True)
    ceilings = {}
    for w in chosen:
        variants = [w.sql] + ([["START TRANSACTION", *w.sql, "COMMIT"]] if w.write else [])
        found = []
        for statements in variants:  # writes: ITFlow commits each statement; ours writes one transaction
            rate, hung = load.db_ceiling(db, statements, level, args.duration, socket=socket)
            if hung:
                notes.append(f"mysqlslap at {level} connections hung {hung} time(s) on {w.name} and was run again"
                             + ("" if rate else "; no ceiling"))
            found.append(rate)
        if found[0]:
            ceilings[(w.name, level)] = (found[0], found[1] if len(found) > 1 else None)
    return ceilings


def _memory_pids(stoppable):
    if hasattr(stoppable, "memory_pids"):
        return stoppable.memory_pids
    proc = getattr(stoppable, "proc", None)
    return lambda: memory.session_members(proc.pid) if proc else []


def run_rounds(run, servers, order, level, admin):
    """Round after round at one concurrency level, each workload on each server in turn; a
    warm-up before round 1. Every write run counts the rows its table gained."""
    args, results, notes = run["args"], run["results"], run["notes"]
    tallies = run.setdefault("writes", {})  # (workload, level, label) -> [answered, successes, rows added]
    for w in run["chosen"]:
        results[(w.name, level)] = {label: [] for label in order
                                    if label != run["itflow"] or itflow_has(w, args.itflow_tree)}
    for round_no in range(1, args.rounds + 1):
        for w in run["chosen"]:
            for label in results[(w.name, level)]:
                base, stoppable = servers[label]
                if round_no == 1 and args.warmup:
                    load.wrk(w, base, API_KEY, args.warmup, level, args.wrk_threads, args.timeout)
                before = seed.count(admin, w.stored) if w.write else 0
                sampler = memory.Sampler(_memory_pids(stoppable)).start()
                try:
                    r = load.wrk(w, base, API_KEY, args.duration, level, args.wrk_threads, args.timeout)
                finally:
                    r_memory = sampler.stop()
                r.update(r_memory)
                results[(w.name, level)][label].append(r)
                if w.write:  # a refused write is HTTP 200 too: the rows must be there
                    time.sleep(0.5)
                    tally = tallies.setdefault((w.name, level, label), [0, 0, 0])
                    tally[0] += r["requests"]
                    tally[1] += r["ok"]
                    tally[2] += seed.count(admin, w.stored) - before
                if r["errors"]:
                    status, _, raw = load.fetch(w, base, API_KEY)
                    notes.append(f"c={level}, round {round_no}, {w.name}, {label}: {r['errors']:,} errors "
                                 f"({r['non_2xx']:,} non-2xx, {r['not_success']:,} HTTP 200 without success, "
                                 f"{r['timeouts']:,} timeouts, {r['socket']:,} socket errors); a request right "
                                 f"after got HTTP {status}: `{raw[:160]}`")
                print(f"c={level:<4} round {round_no}  {w.name:42} {label:14} {r['rps']:8,.0f} req/s  "
                      f"p50 {r['p50']:7.2f} ms  p99 {r['p99']:8.2f} ms  errors {r['errors']:<5} "
                      f"RSS {r['rss_peak']:6,.0f} MB", flush=True)


def write_notes(run):
    notes = []
    for (name, level, label), (answered, ok, added) in run.get("writes", {}).items():
        verdict = ("each success stored its row" if added >= ok and ok == answered
                   else "ROWS MISSING" if added < ok else "NOT EVERY ANSWER A SUCCESS")
        notes.append(f"{name}, c={level}, {label}: {answered:,} answers, {ok:,} of them success \"True\", "
                     f"{added:,} rows added ({verdict})")
    return notes


def profile_under_load(workload, server, args, level, workdir):
    """py-spy on one of our servers while wrk drives `workload` at it: once for the time of
    every active thread, once for the threads holding the GIL (Python's own CPU work)."""
    base, ours = server
    rows = []
    for gil, title in ((False, "active threads (time, waits included)"), (True, "threads holding the GIL (CPU in Python)")):
        load_thread = threading.Thread(target=load.wrk, args=(workload, base, API_KEY, args.duration + 3,
                                                              level, args.wrk_threads))
        load_thread.start()
        time.sleep(1)
        raw = os.path.join(workdir, f"profile-{short(ours.label)}-{'gil' if gil else 'active'}.txt")
        hotspots.record(ours.proc.pid, args.duration, raw, gil=gil)
        load_thread.join()
        rows += [f"### {title}", "", *hotspots.summarize(raw), ""]
    print(f"profiled {ours.label}", flush=True)
    return rows


def interleave(labels, itflow):
    """ours, ITFlow, ours...: the reference runs between our servers, so that noise hits both."""
    ours = [label for label in labels if label != itflow]
    return ours[:1] + [itflow] + ours[1:] if itflow else ours


def check_answers(run, servers, admin):
    """Every server must give a real answer to every workload before it is timed: reads of ours
    are compared with ITFlow's field by field (the filter's with the database's own rows for its
    SQL), and every write must store its row."""
    notes, tree = run["notes"], run["args"].itflow_tree
    for w in run["chosen"]:
        answers = {}
        for label, (base, _) in servers.items():
            if label == run["itflow"] and not itflow_has(w, tree):
                continue
            before = seed.count(admin, w.stored) if w.write else 0
            answers[label] = load.check(w, base, API_KEY, label)
            if w.write and seed.count(admin, w.stored) != before + 1:
                raise SystemExit(f"{label}: {w.name} answered success but stored no {w.stored} row")
        print(f"checked {w.name}: {', '.join(answers)} answer with success True and {w.expect_count} row(s)"
              + (f", each stored its {w.stored} row" if w.write else ""), flush=True)
        if w.write:
            continue
        if run["itflow"] in answers:
            for label, answer in answers.items():
                if label != run["itflow"]:
                    diff = load.differences(answer, answers[run["itflow"]])
                    notes.append(f"{w.name}: {label} and ITFlow return "
                                 + (f"different data ({diff})" if diff else "identical data"))
        elif w.key == "filter":
            with seed.connect(admin, admin["name"]) as conn, conn.cursor() as cur:
                cur.execute(w.sql[-1])
                expected = [row[0] for row in cur.fetchall()]
            for label, answer in answers.items():
                got = [int(row["asset_id"]) for row in answer.get("data") or []]
                verdict = "the same assets" if got == expected else f"DIFFERENT assets ({got[:5]} against {expected[:5]})"
                notes.append(f"{w.name}: {label} returns {verdict} as the database for the SQL of the ceiling")


def build_report(run):
    args, db, itflow, site, order = run["args"], run["db"], run["itflow"], run["site"], run["order"]
    results, chosen = run["results"], run["chosen"]
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = "python bench/run.py " + " ".join(sys.argv[1:])
    took = time.time() - run["started"]
    settings = [
        f"- Machine: {os.cpu_count()} cores ({os.uname().machine}), everything on it: wrk, MariaDB, every server; "
        f"load average {run['load'][0]:.1f} before the run, {os.getloadavg()[0]:.1f} after "
        "(other work on the machine adds noise).",
        f"- Database: MariaDB {run['mariadb']} at {db['host']}:{db['port']}"
        f"{' (socket)' if db['host'] == 'localhost' else ' over TCP'} for every server, user {db['user']}, "
        f"back_log {run['back_log'][0]} (connections waiting to be accepted; more are dropped and retried), schema from "
        f"{run['schema']}; size **{args.size}**: {seed.describe(args.sizes)} (every asset with one primary "
        f"interface, seven in ten Deployed), random seed {SEED}, seeded in {run['seed_seconds']:.0f} s; "
        "one clear-text all-clients key."
        + (f" max_connections raised from {run['max_connections'][0]} to {run['max_connections'][1]} for the run."
           if run["max_connections"] else ""),
        f"- Load: wrk -c<level> -t<min({args.wrk_threads}, level)> -d{args.duration}s --timeout {args.timeout:g}s "
        f"(keep-alive) at levels {', '.join(map(str, args.levels))}; {args.rounds} round(s) per level in the order "
        f"{', '.join(order)}; {args.warmup} s warm-up per server, workload and level before round 1. Every answer "
        "is looked at (bench/wrk.lua): errors are non-2xx, HTTP 200 without success \"True\", timeouts and socket "
        "errors; p50/p99 leave timed-out requests out (wrk).",
    ]
    if "default" in run:
        d = run["default"]
        settings.append(f"- Ours default (as installed): `pip install .` of this checkout into {d['venv']} (no extras; "
                        f"it brought {', '.join(d['installed'])}), "
                        "`itflow-api --config <ini> serve` with no other flag; the ini is `"
                        + d["ini"].replace("\n", " ").replace(db["password"], "…").strip() + "` (nothing else set).")
    if "tuned" in run:
        settings.append(f"- Ours tuned: `{run['tuned']}` from {sys.prefix} (the ini: mysql backend, driver auto, "
                        f"[limits] requests_per_key = {BENCH_QUOTA}, other settings at their defaults).")
    settings += [f"  - {banner}" for banner in run["banners"]]
    if site:
        settings.append(f"- {site.settings()} (at the last level; the pool follows each level up to "
                        f"MaxRequestWorkers {DEBIAN_MAX_REQUEST_WORKERS}); ITFlow tree `{args.itflow_tree}` "
                        "(copied, config.php written for the bench database).")
    settings += [
        "- DB ceiling: mysqlslap --concurrency=<level> with ITFlow's SQL for one request (key look-up and the "
        "endpoint's statements; for the filter and the reply, which ITFlow has not, the same SQL written out) over "
        f"persistent connections, about {args.duration} s per workload and level; writes also inside one transaction"
        + (f"; at {', '.join(map(str, run['slap_socket_levels']))} connections over the unix socket (more than "
           f"MariaDB's back_log of {run['back_log'][0]}: over TCP mysqlslap hangs now and then)"
           if run.get("slap_socket_levels") else "; over TCP") + ".",
        "- Memory: summed RSS of a server's processes (ours: the server and its workers; ITFlow: Apache's children, "
        "not the master), sampled every 0.5 s during each run; PSS (shared pages divided among their sharers) "
        "every 2 s.",
        f"- Time: {took / 60:.1f} minutes (estimated beforehand: {run['estimate'] / 60:.0f}).",
    ]
    lines = [f"# Benchmark results ({when})", "", f"Command: `{command}`", "",
             *summary_table(results, order, itflow, run["ceilings"]), "",
             "c: connections; req/s: median over the rounds (range); p50/p99: medians; ÷ ITFlow: ours / ITFlow "
             "req/s; % of ceiling: each server's req/s against the database's own ceiling; RSS: the highest "
             "sample (the mean of the runs' means).", "",
             "## Settings", "", *settings, ""]
    notes = run["notes"] + write_notes(run)
    if notes:
        lines += ["## Checks", "", *(f"- {n}" for n in notes), ""]
    lines += ["## Every run", "", *rounds_table(results)]
    for label, rows in run["profiles"].items():
        lines += ["", f"## Profile: {label}, {chosen[0].name} (py-spy, every worker, {args.duration} s under wrk)", "", *rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
