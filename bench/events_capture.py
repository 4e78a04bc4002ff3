"""What event capture costs a write: ticket creates through the API (in-process, falcon's
test client) and a burst of 50 row updates (plain SQL, as ITFlow's pages and cron write),
with and without the capture triggers, on SQLite and on MariaDB.

    python bench/events_capture.py [--backend sqlite|mysql|both] [--creates 300] [--bursts 40]
        MySQL: ITFLOW_BENCH_MYSQL_HOST / _PORT / _USER / _PASSWORD (default 127.0.0.1:3306 root)

Prints a Markdown table (µs per operation, median of alternating rounds: off, on, off, on...).
"""
from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta

import pymysql
from falcon import testing

from itflow_api.lib.access.keys import KeyStore
from itflow_api.lib.db.database import Database
from itflow_api.lib.events import capture, feed
from itflow_api.lib.web.app import create_app
from itflow_api.lib.web.config import Config

MYSQL = {
    "host": os.environ.get("ITFLOW_BENCH_MYSQL_HOST", "127.0.0.1"),
    "port": int(os.environ.get("ITFLOW_BENCH_MYSQL_PORT", "3306")),
    "user": os.environ.get("ITFLOW_BENCH_MYSQL_USER", "root"),
    "password": os.environ.get("ITFLOW_BENCH_MYSQL_PASSWORD", ""),
}
ROUNDS = 4


def config_for(backend: str, directory: str) -> Config:
    cfg = Config()
    cfg.security.key_hash_secret = "bench-" + secrets.token_hex(8)
    cfg.limits.enabled = False
    cfg.log.access_log = ""
    if backend == "mysql":
        cfg.database.backend = "mysql"
        cfg.database.host, cfg.database.port = MYSQL["host"], MYSQL["port"]
        cfg.database.user, cfg.database.password = MYSQL["user"], MYSQL["password"]
        cfg.database.name = f"itflow_bench_{secrets.token_hex(4)}"
        cfg.database.driver = "pymysql"
        with pymysql.connect(autocommit=True, **MYSQL) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{cfg.database.name}` CHARACTER SET utf8mb4")
    else:
        cfg.database.path = os.path.join(directory, "bench.sqlite3")
    return cfg


def drop(cfg: Config) -> None:
    if cfg.database.backend == "mysql":
        with pymysql.connect(autocommit=True, **MYSQL) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{cfg.database.name}`")


def per_op(seconds: float, count: int) -> float:
    return seconds / count * 1e6


def measure(backend: str, creates: int, bursts: int) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory() as directory:
        cfg = config_for(backend, directory)
        try:
            db = Database.from_config(cfg.database)
            db.create_schema()
            keys = KeyStore(db, cfg.security.key_hash_secret.encode())
            client = testing.TestClient(create_app(cfg, db, keys))
            key, _ = keys.create("bench", (date.today() + timedelta(days=2)).isoformat())
            with db.transaction(write=True):
                client_id = db.insert("clients", {"client_name": "Bench"})
                db.insert_many("contacts", [{"contact_name": f"c{n}", "contact_client_id": client_id}
                                            for n in range(50)])
            results: dict[str, dict[bool, list[float]]] = {
                "ticket create (API)": {False: [], True: []},
                "50 single-row UPDATEs, one transaction": {False: [], True: []},
                "one UPDATE of 50 rows": {False: [], True: []},
                "feed read, 50 events (API)": {False: [], True: []},
            }
            body = {"api_key": key, "client_id": client_id, "ticket_subject": "bench", "ticket_details": "x"}
            for round_no in range(ROUNDS * 2):
                on = bool(round_no % 2)
                if on:
                    capture.install(db)
                else:
                    capture.uninstall(db)
                started = time.perf_counter()
                for _ in range(creates):
                    result = client.simulate_post("/api/v1/tickets/create.php", json=body)
                    assert result.status_code == 200, result.text
                results["ticket create (API)"][on].append(per_op(time.perf_counter() - started, creates))
                started = time.perf_counter()
                for n in range(bursts):
                    with db.transaction(write=True):
                        for contact in range(1, 51):
                            db.execute("UPDATE contacts SET contact_title = :t WHERE contact_id = :id",
                                       {"t": f"r{round_no}b{n}", "id": contact})
                results["50 single-row UPDATEs, one transaction"][on].append(
                    per_op(time.perf_counter() - started, bursts))
                started = time.perf_counter()
                for n in range(bursts):
                    with db.transaction(write=True):
                        db.execute("UPDATE contacts SET contact_title = :t WHERE contact_client_id = :c",
                                   {"t": f"s{round_no}b{n}", "c": client_id})
                results["one UPDATE of 50 rows"][on].append(per_op(time.perf_counter() - started, bursts))
                if on:
                    feed.sequence(db)
                    last = feed.last_seq(db)
                    started = time.perf_counter()
                    for _ in range(creates // 3):
                        result = client.simulate_get("/api/v1/events/read.php",
                                                     params={"api_key": key, "after": max(0, last - 60), "limit": 50})
                        assert result.status_code == 200, result.text
                    results["feed read, 50 events (API)"][on].append(per_op(time.perf_counter() - started, creates // 3))
            db.close()
            return {name: (statistics.median(v[False]) if v[False] else float("nan"), statistics.median(v[True]))
                    for name, v in results.items()}
        finally:
            drop(cfg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "mysql", "both"), default="both")
    parser.add_argument("--creates", type=int, default=300)
    parser.add_argument("--bursts", type=int, default=40)
    args = parser.parse_args(argv)
    backends = ["sqlite", "mysql"] if args.backend == "both" else [args.backend]
    print("| backend | operation | without triggers (µs) | with triggers (µs) | cost |")
    print("|---|---|---:|---:|---:|")
    for backend in backends:
        for name, (off, on) in measure(backend, args.creates, args.bursts).items():
            cost = f"{(on / off - 1) * 100:+.0f}%" if off == off else "—"
            off_text = f"{off:,.0f}" if off == off else "— (needs the event tables)"
            print(f"| {backend} | {name} | {off_text} | {on:,.0f} | {cost} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
