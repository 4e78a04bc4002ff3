"""Benchmark: itflow-api against a PHP reference, on the same MariaDB database and machine.

    python bench/run.py [--duration 10] [--connections 16] [--threads 8] [--php-workers 4]

Needs wrk and PHP with mysqli (Debian: apt-get install wrk php-cli php-mysql) and MariaDB
on 127.0.0.1:3306 (BENCH_DB_USER / BENCH_DB_PASSWORD, default root with no password).
The reference (bench/reference/router.php) does the work of ITFlow's read.php; see its
header. Results go to stdout as a Markdown table (and to --output FILE). bench/RESULTS.md
holds the figures last reported.
"""
import argparse
import os
import re
import socket
import subprocess
import sys
import time
from datetime import date, timedelta

import pymysql

from itflow_api.lib.auth import KeyStore
from itflow_api.lib.db import Database

HERE = os.path.dirname(os.path.abspath(__file__))
DB_NAME = "itflow_bench"
USER = os.environ.get("BENCH_DB_USER", "root")
PASSWORD = os.environ.get("BENCH_DB_PASSWORD", "")
PLAIN_KEY = "BenchPlainKey0123456789abcdefghi"  # an ITFlow-style clear-text key for the reference
SECRET = "bench-secret"


def prepare_database(clients=50, assets_per_client=10):
    with pymysql.connect(host="127.0.0.1", user=USER, password=PASSWORD, autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
            cur.execute(f"CREATE DATABASE {DB_NAME} CHARACTER SET utf8mb4")
    db = Database(f"mysql+pymysql://{USER}:{PASSWORD}@127.0.0.1/{DB_NAME}?charset=utf8mb4", "mysql")
    db.create_schema()
    expire = (date.today() + timedelta(days=2)).isoformat()
    with db.transaction(write=True):
        for c in range(clients):
            client_id = db.insert("clients", {"client_name": f"Client {c}", "client_rate": "95.00"})
            for a in range(assets_per_client):
                asset_id = db.insert("assets", {"asset_name": f"PC-{c}-{a}", "asset_type": "Laptop",
                                                "asset_client_id": client_id, "asset_make": "Dell"})
                db.insert("asset_interfaces", {"interface_name": "1", "interface_primary": 1,
                                               "interface_ip": f"10.0.{c}.{a}", "interface_asset_id": asset_id})
        db.insert("api_keys", {"api_key_name": "reference", "api_key_secret": PLAIN_KEY,
                               "api_key_decrypt_hash": "", "api_key_expire": expire})
    ours, _ = KeyStore(db, SECRET.encode()).create("bench", expire)
    db.close()
    return ours


def wait_for(port, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing answers on port {port}")


def start_ours(port, threads, workers, driver):
    env = dict(os.environ, ITFLOW_API_DATABASE_BACKEND="mysql", ITFLOW_API_DATABASE_NAME=DB_NAME,
               ITFLOW_API_DATABASE_USER=USER, ITFLOW_API_DATABASE_PASSWORD=PASSWORD,
               ITFLOW_API_DATABASE_POOL_SIZE=str(threads), ITFLOW_API_SECURITY_KEY_HASH_SECRET=SECRET,
               ITFLOW_API_DATABASE_DRIVER=driver)
    proc = subprocess.Popen([sys.executable, "-m", "itflow_api.lib.cli", "serve", "--port", str(port),
                             "--threads", str(threads), "--workers", str(workers)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_for(port)
    return proc


def start_reference(port, workers):
    env = dict(os.environ, PHP_CLI_SERVER_WORKERS=str(workers), BENCH_DB=DB_NAME,
               BENCH_DB_USER=USER, BENCH_DB_PASSWORD=PASSWORD)
    proc = subprocess.Popen(["php", "-S", f"127.0.0.1:{port}", os.path.join(HERE, "reference", "router.php")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(port)
    return proc


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def run_wrk(url, duration, connections):
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for pct in ("50", "90", "99"):
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        result[f"p{pct}"] = float(value) * _UNITS[unit]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result["errors"] = int(non_2xx.group(1)) if non_2xx else 0
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--threads", type=int, default=4, help="itflow-api threads per process (default 4)")
    parser.add_argument("--workers", type=int, default=3, help="itflow-api processes (default 3)")
    parser.add_argument("--output", help="also write the table to this file")
    parser.add_argument("--driver", default="auto", help="itflow-api MySQL driver: auto, pymysql, mysqlclient")
    parser.add_argument("--php-workers", type=int, default=4, help="PHP built-in server workers (default 4)")
    args = parser.parse_args()

    ours_key = prepare_database()
    servers = {"itflow-api": (18090, ours_key), "PHP reference": (18091, PLAIN_KEY)}
    procs = [start_ours(18090, args.threads, args.workers, args.driver), start_reference(18091, args.php_workers)]
    scenarios = {
        "clients list (50 rows)": "/api/v1/clients/read.php?api_key={key}",
        "asset by id (1 row)": "/api/v1/assets/read.php?api_key={key}&asset_id=123",
    }
    from itflow_api.lib.db import mysql_driver
    lines = [f"wrk -t2 -c{args.connections} -d{args.duration}s; itflow-api: {args.workers} processes × {args.threads} threads, "
             f"driver {mysql_driver(args.driver)}; "
             f"PHP {args.php_workers} built-in server workers; MariaDB on the same machine ({os.cpu_count()} cores)",
             "", "| scenario | server | requests/s | p50 ms | p90 ms | p99 ms | non-2xx |", "|---|---|---|---|---|---|---|"]
    try:
        for name, path in scenarios.items():
            for server, (port, key) in servers.items():
                url = f"http://127.0.0.1:{port}" + path.format(key=key)
                run_wrk(url, 2, args.connections)  # warm-up
                r = run_wrk(url, args.duration, args.connections)
                lines.append(f"| {name} | {server} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p90']:.2f} | "
                             f"{r['p99']:.2f} | {r['errors']} |")
                print(lines[-1], flush=True)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(20)
    report = "\n".join(lines)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(f"# Benchmark results ({date.today().isoformat()})\n\n{report}\n")
    print("\n" + report)


if __name__ == "__main__":
    main()
