"""Scaling: 1, 2 and 3 API processes on a 3-node Galera cluster and on a single MariaDB.

    python deploy/galera/bench.py [--seconds 8] [--connections 12]

Each API process (waitress, 8 threads, limits off) is pointed at its own node (cluster) or
at the one server (single). wrk drives every process at once with the same total number of
connections, split between them, for two workloads: the clients list (50 rows) and ticket
create (every one bumps the ticket counter row: the cluster's worst case). The table gives
req/s summed over the processes, non-2xx answers (503 after the write retries), and the CPU
seconds each part used during the run (from /proc/<pid>/stat), so that on a shared machine
the ratios can be read even when the absolute numbers cannot.
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cluster as galera  # noqa: E402

SERVER = """
import sys, waitress
from itflow_api.lib.web import config as c
from itflow_api.lib.web.app import create_app
from itflow_api.lib.db.database import Database
cfg = c.load(None, environ=__import__("os").environ)
waitress.serve(create_app(cfg, Database.from_config(cfg.database)), host="127.0.0.1", port=int(sys.argv[1]),
               threads=8, clear_untrusted_proxy_headers=False, _quiet=True)
"""
SECRET = "bench-galera-secret"
TICK = os.sysconf("SC_CLK_TCK")
POST_LUA = os.path.join(HERE, os.pardir, os.pardir, "bench", "post.lua")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_api(port, db_port, user, password, log):
    env = dict(os.environ)
    env.update({f"ITFLOW_API_{k}": str(v) for k, v in {
        "DATABASE_BACKEND": "mysql", "DATABASE_HOST": "127.0.0.1", "DATABASE_PORT": db_port,
        "DATABASE_USER": user, "DATABASE_PASSWORD": password, "DATABASE_NAME": galera.DATABASE,
        "DATABASE_DRIVER": "pymysql", "SECURITY_KEY_HASH_SECRET": SECRET, "LIMITS_ENABLED": "no",
        "LOG_ACCESS_LOG": "off"}.items()})
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=env, stderr=log)
    for _ in range(150):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"API process on {port} did not start")


def seed(db_url):
    from itflow_api.lib.access.keys import KeyStore
    from itflow_api.lib.db.database import Database
    db = Database(db_url, "mysql")
    try:
        with db.transaction(write=True):
            for i in range(50):
                db.insert("clients", {"client_name": f"Client {i:02d}", "client_type": "Bench"})
        return KeyStore(db, SECRET.encode()).create("bench", "2099-01-01", 0, None)[0]
    finally:
        db.close()


def run_wrk(ports, connections, seconds, workload, key):
    """req/s summed over one wrk per port, and the non-2xx answers."""
    per = max(1, connections // len(ports))
    procs = []
    for port in ports:
        base = f"http://127.0.0.1:{port}/api/v1"
        if workload == "clients list":
            args = [f"{base}/clients/read.php?api_key={key}"]
            env = None
        else:
            args = ["-s", POST_LUA, f"{base}/tickets/create.php"]
            env = dict(os.environ, BENCH_BODY=json.dumps({"api_key": key, "ticket_subject": "Bench ticket"}))
        procs.append(subprocess.Popen(["wrk", "-t1", f"-c{per}", f"-d{seconds}s", "--latency", *args],
                                      stdout=subprocess.PIPE, text=True, env=env))
    rate, bad, wrk_cpu = 0.0, 0, 0.0
    for p in procs:
        _, status, usage = os.wait4(p.pid, 0)
        out = p.stdout.read()
        p.returncode = os.waitstatus_to_exitcode(status)
        wrk_cpu += usage.ru_utime + usage.ru_stime
        rate += float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        found = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        bad += int(found.group(1)) if found else 0
    return rate, bad, wrk_cpu


def measure(label, db_ports, user, password, db_pids, key, args, log):
    rows = []
    for count in (1, 2, 3):
        ports = [free_port() for _ in range(count)]
        apis = [start_api(p, db_ports[i % len(db_ports)], user, password, log) for i, p in enumerate(ports)]
        try:
            for workload in ("clients list", "ticket create"):
                urllib.request.urlopen(f"http://127.0.0.1:{ports[0]}/api/v1/health").read()
                api_before = [cpu_seconds(a.pid) for a in apis]
                db_before = [cpu_seconds(p) for p in db_pids]
                rate, bad, wrk_cpu = run_wrk(ports, args.connections, args.seconds, workload, key)
                api_cpu = sum(cpu_seconds(a.pid) for a in apis) - sum(api_before)
                db_cpu = sum(cpu_seconds(p) for p in db_pids) - sum(db_before)
                rows.append((label, workload, count, rate, bad, api_cpu, db_cpu, wrk_cpu))
                print(f"  {label:8} {workload:13} {count} API: {rate:7.0f} req/s, {bad} non-2xx, CPU s: "
                      f"API {api_cpu:.1f}, MariaDB {db_cpu:.1f}, wrk {wrk_cpu:.1f}", flush=True)
        finally:
            for a in apis:
                a.terminate()
                a.wait(15)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=12, help="in all, split between the processes")
    parser.add_argument("--sync-wait", type=int, default=1, help="the cluster's wsrep_sync_wait (1: read-your-writes)")
    parser.add_argument("--only", choices=("single", "galera"), help="measure one database only")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="itflow-galera-bench-") as base, \
            open(os.path.join(base, "api.log"), "wb") as log:
        os.chmod(base, 0o755)  # the servers run as the mysql user
        for label, nodes, is_galera in (("single", 1, False), ("galera", 3, True)):
            if args.only and label != args.only:
                continue
            with galera.Cluster(nodes, base=os.path.join(base, label), galera=is_galera,
                                sync_wait=args.sync_wait) as running:
                key = seed(running.url(0))
                rows += measure(label, [n.port for n in running.nodes], running.user, running.password,
                                [n.process.pid for n in running.nodes], key, args, log)
    print(f"\n{os.cpu_count()} cores (shared), wrk -t1 per API process, {args.connections} connections in all, "
          f"{args.seconds} s per run, cluster wsrep_sync_wait = {args.sync_wait}; x = against 1 API process "
          f"on the same database\n")
    print("| database | workload | API processes | 2xx req/s | x | 503 answers | CPU s: API | MariaDB | wrk |")
    print("|---|---|---|---|---|---|---|---|---|")
    done = {(r[0], r[1], r[2]): r[3] - r[4] / args.seconds for r in rows}  # answers that did the work
    for label, workload, count, _rate, bad, api_cpu, db_cpu, wrk_cpu in rows:
        ok, one = done[label, workload, count], done[label, workload, 1]
        print(f"| {label} | {workload} | {count} | {ok:.0f} | {ok / one:.2f} | {bad} | {api_cpu:.1f} | "
              f"{db_cpu:.1f} | {wrk_cpu:.1f} |")


if __name__ == "__main__":
    main()
