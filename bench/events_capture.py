"""What event capture costs, in API terms: requests per second of ticket creates and of a
burst of 50 asset updates sent as 50 API requests (in process, falcon's test client), with and
without the capture triggers, on SQLite and on MariaDB. The issue's goal: under 10% fewer
requests per second. Also, labelled "raw SQL", what the triggers add to bursts of plain SQL
updates (as ITFlow's pages and cron write) and what a feed read takes.

    python bench/events_capture.py [--backend sqlite|mysql|both] [--creates 300] [--bursts 40] [--rounds 4]
        MySQL: ITFLOW_BENCH_MYSQL_HOST / _PORT / _USER / _PASSWORD (default 127.0.0.1:3306 root)

Prints two Markdown tables (API: requests/s; raw SQL: µs per operation), each the median of
alternating rounds: off, on, off, on...
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


def measure(backend: str, creates: int, bursts: int, rounds: int = ROUNDS) -> dict[str, tuple[float, float]]:
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
                db.insert_many("assets", [{"asset_name": f"a{n}", "asset_type": "Laptop", "asset_client_id": client_id}
                                          for n in range(50)])
                assets = [int(r["asset_id"]) for r in db.rows("SELECT asset_id FROM assets ORDER BY asset_id")]
            results: dict[str, dict[bool, list[float]]] = {
                "ticket create (API)": {False: [], True: []},
                "burst: 50 asset updates, 50 API requests": {False: [], True: []},
                "raw SQL: 50 single-row UPDATEs, one transaction": {False: [], True: []},
                "raw SQL: one UPDATE of 50 rows": {False: [], True: []},
                "feed read, 50 events (API)": {False: [], True: []},
            }
            body = {"api_key": key, "client_id": client_id, "ticket_subject": "bench", "ticket_details": "x"}
            for round_no in range(rounds * 2):
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
                for n in range(max(1, bursts // 4)):
                    for asset in assets:
                        result = client.simulate_post("/api/v1/assets/update.php", json={
                            "api_key": key, "asset_id": asset, "asset_notes": f"r{round_no}b{n}"})
                        assert result.status_code == 200 and result.json["success"] == "True", result.text
                results["burst: 50 asset updates, 50 API requests"][on].append(
                    per_op(time.perf_counter() - started, max(1, bursts // 4)))
                started = time.perf_counter()
                for n in range(bursts):
                    with db.transaction(write=True):
                        for contact in range(1, 51):
                            db.execute("UPDATE contacts SET contact_title = :t WHERE contact_id = :id",
                                       {"t": f"r{round_no}b{n}", "id": contact})
                results["raw SQL: 50 single-row UPDATEs, one transaction"][on].append(
                    per_op(time.perf_counter() - started, bursts))
                started = time.perf_counter()
                for n in range(bursts):
                    with db.transaction(write=True):
                        db.execute("UPDATE contacts SET contact_title = :t WHERE contact_client_id = :c",
                                   {"t": f"s{round_no}b{n}", "c": client_id})
                results["raw SQL: one UPDATE of 50 rows"][on].append(per_op(time.perf_counter() - started, bursts))
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
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds with and as many without triggers")
    args = parser.parse_args(argv)
    backends = ["sqlite", "mysql"] if args.backend == "both" else [args.backend]
    measured = {backend: measure(backend, args.creates, args.bursts, args.rounds) for backend in backends}
    print("API, requests per second (higher is better):\n")
    print("| backend | operation | req/s without triggers | req/s with triggers | change |")
    print("|---|---|---:|---:|---:|")
    for backend, rows in measured.items():
        for name, (off, on) in rows.items():
            if name.startswith("raw SQL") or off != off:
                continue
            per_request = 50 if name.startswith("burst") else 1
            off_rps, on_rps = per_request * 1e6 / off, per_request * 1e6 / on
            print(f"| {backend} | {name} | {off_rps:,.0f} | {on_rps:,.0f} | {(on_rps / off_rps - 1) * 100:+.1f}% |")
    print("\nraw SQL and the feed, µs per operation (lower is better):\n")
    print("| backend | operation | without triggers (µs) | with triggers (µs) | cost |")
    print("|---|---|---:|---:|---:|")
    for backend, rows in measured.items():
        for name, (off, on) in rows.items():
            if not (name.startswith("raw SQL") or off != off):
                continue
            cost = f"{(on / off - 1) * 100:+.0f}%" if off == off else "—"
            off_text = f"{off:,.0f}" if off == off else "— (needs the event tables)"
            print(f"| {backend} | {name} | {off_text} | {on:,.0f} | {cost} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
