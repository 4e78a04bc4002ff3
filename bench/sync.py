"""An asset sync, the way an RMM or inventory script does it, measured three ways against a
real `itflow-api serve` on loopback:

  per record   one create per asset, then one update per asset, then a read of them all in
               pages of 50 by offset: what scripts written for ITFlow do today;
  batched      the creates and the updates in batches of --batch (default 500) through
               /api/v1/batch.php, and the read by cursor in pages of 1,000;
  atomic       the same batches with "atomic": true (all or nothing per batch).

    python bench/sync.py                              # SQLite in a temporary folder, 10,000 assets
    python bench/sync.py --backend mysql              # MariaDB (ITFLOW_TEST_MYSQL_HOST/_PORT/_USER/_PASSWORD)
    python bench/sync.py --assets 1000 --clients 4    # a quicker run

Each way starts from an empty database and its own server. Printed: requests, wall time,
requests/s and records/s per phase, the server's CPU seconds and, on MariaDB, the database
server's (read from /proc when mariadbd runs on this machine). The last line checks that
every way stored the same number of assets.
"""
import argparse
import http.client
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = "bench-sync-secret-0123456789abcdef"


# --- a server of our own -------------------------------------------------------------------------

def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, backend, folder, workers, threads):
        self.env = dict(os.environ, ITFLOW_API_SECURITY_KEY_HASH_SECRET=SECRET)
        self.env.pop("ITFLOW_API_CONFIG", None)
        self.drop = None
        if backend == "sqlite":
            self.env["ITFLOW_API_DATABASE_BACKEND"] = "sqlite"
            self.env["ITFLOW_API_DATABASE_PATH"] = os.path.join(folder, f"sync-{secrets.token_hex(3)}.sqlite3")
        else:
            self._mysql()
        self.port = free_port()
        self.env.update(ITFLOW_API_SERVER_PORT=str(self.port), ITFLOW_API_SERVER_WORKERS=str(workers),
                        ITFLOW_API_SERVER_THREADS=str(threads), ITFLOW_API_LIMITS_ENABLED="false")
        self._cli("init-db")
        out = self._cli("keys", "create", "--name", "sync-bench")
        self.key = out.strip().splitlines()[-1].strip()  # the key is printed last, on its own line
        self.proc = subprocess.Popen([sys.executable, "-m", "itflow_api.lib.cli", "serve"], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:  # an answer, not just an accepted connection (granian listens before its workers run)
                probe = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                probe.request("GET", "/api/v1/health")
                probe.getresponse().read()
                probe.close()
                break
            except (OSError, http.client.HTTPException):
                time.sleep(0.1)
        self.clients = []

    def _mysql(self):
        import pymysql
        host = os.environ.get("ITFLOW_TEST_MYSQL_HOST", "127.0.0.1")
        port = int(os.environ.get("ITFLOW_TEST_MYSQL_PORT", "3306"))
        user = os.environ.get("ITFLOW_TEST_MYSQL_USER", "root")
        password = os.environ.get("ITFLOW_TEST_MYSQL_PASSWORD", "")
        name = f"itflow_bench_sync_{secrets.token_hex(3)}"
        with pymysql.connect(host=host, port=port, user=user, password=password, autocommit=True) as conn:
            conn.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")

        def drop():
            with pymysql.connect(host=host, port=port, user=user, password=password, autocommit=True) as conn:
                conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        self.drop = drop
        self.env.update(ITFLOW_API_DATABASE_BACKEND="mysql", ITFLOW_API_DATABASE_HOST=host,
                        ITFLOW_API_DATABASE_PORT=str(port), ITFLOW_API_DATABASE_USER=user,
                        ITFLOW_API_DATABASE_PASSWORD=password, ITFLOW_API_DATABASE_NAME=name)

    def _cli(self, *args):
        done = subprocess.run([sys.executable, "-m", "itflow_api.lib.cli", *args], env=self.env,
                              capture_output=True, text=True, check=True)
        return done.stdout

    def cpu_seconds(self):
        """CPU of the server and its worker processes (Linux /proc)."""
        return sum(_cpu(pid) for pid in [self.proc.pid, *_children(self.proc.pid)])

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)
        if self.drop:
            self.drop()


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _cpu(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def mariadb_cpu():
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() in ("mariadbd", "mysqld"):
                        return _cpu(int(pid))
            except OSError:
                continue
    return None


# --- the client ----------------------------------------------------------------------------------

class Client:
    """One keep-alive connection per thread, as a script's HTTP session keeps."""

    def __init__(self, port):
        self.port = port
        self.local = threading.local()
        self.requests = 0
        self.lock = threading.Lock()

    def call(self, method, path, body=None):
        conn = getattr(self.local, "conn", None)
        if conn is not None and time.monotonic() - self.local.used > 5:
            conn.close()  # idle a while: the server may have closed it (as a script's HTTP session would find)
            conn = None
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        self.local.used = time.monotonic()
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        response = conn.getresponse()
        raw = response.read()
        with self.lock:
            self.requests += 1
        return response.status, {name.lower(): value for name, value in response.getheaders()}, json.loads(raw)


def phase(name, client, server, work):
    measure_db = server.drop is not None  # MariaDB: its server's CPU; SQLite works inside ours
    db_before, cpu_before, requests_before = mariadb_cpu() if measure_db else None, server.cpu_seconds(), client.requests
    started = time.perf_counter()
    records = work()
    wall = time.perf_counter() - started
    db_after = mariadb_cpu() if measure_db else None
    return {"phase": name, "requests": client.requests - requests_before, "records": records, "wall": wall,
            "server_cpu": server.cpu_seconds() - cpu_before,
            "db_cpu": (db_after - db_before) if db_before is not None and db_after is not None else None}


def per_record(client, key, clients, count, threads):
    def create(n):
        status, _, body = client.call("POST", "/api/v1/assets/create.php",
                                      {"api_key": key, "client_id": clients[n % len(clients)],
                                       "asset_name": f"PC-{n:05d}", "asset_type": "Desktop"})
        assert body["success"] == "True", body
        return body["data"][0]["insert_id"]

    def update(asset_id):
        _, _, body = client.call("POST", "/api/v1/assets/update.php",
                                 {"api_key": key, "asset_id": asset_id, "asset_status": "Deployed"})
        assert body["success"] == "True", body

    def read_all():
        seen, offset = 0, 0
        while True:
            _, _, body = client.call("GET", f"/api/v1/assets/read.php?api_key={key}&limit=50&offset={offset}")
            if body["success"] != "True":
                return seen
            seen += len(body["data"])
            offset += 50

    ids = []
    with ThreadPoolExecutor(threads) as pool:
        results = [phase("create", client, SERVER, lambda: ids.extend(pool.map(create, range(count))) or len(ids))]
        results.append(phase("update", client, SERVER, lambda: sum(1 for _ in pool.map(update, ids))))
    results.append(phase("read", client, SERVER, read_all))
    return results


def batched(client, key, clients, count, size, atomic):
    def run(operations):
        status, _, body = client.call("POST", "/api/v1/batch.php",
                                      {"api_key": key, "atomic": atomic, "operations": operations})
        assert status == 200 and body["success"] == "True", body.get("message")
        return body["data"]

    ids = []

    def create():
        for start in range(0, count, size):
            items = run([{"module": "assets", "function": "create",
                          "body": {"client_id": clients[n % len(clients)], "asset_name": f"PC-{n:05d}",
                                   "asset_type": "Desktop"}} for n in range(start, min(count, start + size))])
            ids.extend(item["data"][0]["insert_id"] for item in items)
        return len(ids)

    def update():
        for start in range(0, len(ids), size):
            run([{"module": "assets", "function": "update", "ids": ids[start:start + size],
                  "body": {"asset_status": "Deployed"}}])
        return len(ids)

    def read_all():
        seen, cursor = 0, ""
        while cursor is not None:
            _, headers, body = client.call("GET", f"/api/v1/assets/read.php?api_key={key}&limit=1000&cursor={cursor}")
            seen += len(body["data"]) if body["success"] == "True" else 0
            cursor = headers.get("x-next-cursor")  # names in any case: granian sends them lower-case
        return seen

    return [phase("create", client, SERVER, create), phase("update", client, SERVER, update),
            phase("read", client, SERVER, read_all)]


SERVER = None


def main():
    global SERVER
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "mysql"), default="sqlite")
    parser.add_argument("--assets", type=int, default=10000)
    parser.add_argument("--clients", type=int, default=20, help="the assets are spread over this many clients")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--threads", type=int, default=8, help="concurrent requests of the per-record way")
    parser.add_argument("--workers", type=int, default=0, help="server processes (default: the server's own)")
    parser.add_argument("--ways", default="per record,batched,atomic", help="which of the three to run, comma separated")
    args = parser.parse_args()
    totals = {}
    with tempfile.TemporaryDirectory() as folder:
        for way in [w.strip() for w in args.ways.split(",")]:
            print(f"-- {way}: {args.assets} assets on {args.backend}", file=sys.stderr, flush=True)
            SERVER = Server(args.backend, folder, args.workers or os.cpu_count() or 1, max(4, args.threads // 2))
            try:
                client = Client(SERVER.port)
                clients = [_new_client(client, SERVER.key, n) for n in range(args.clients)]
                if way == "per record":
                    results = per_record(client, SERVER.key, clients, args.assets, args.threads)
                else:
                    results = batched(client, SERVER.key, clients, args.assets, args.batch, way == "atomic")
                totals[way] = results
                for r in results:
                    print(f"   {r['phase']}: {r['requests']} requests, {r['wall']:.2f} s", file=sys.stderr, flush=True)
            finally:
                SERVER.stop()
    print(table(totals, args))


def _new_client(client, key, n):
    _, _, body = client.call("POST", "/api/v1/clients/create.php", {"api_key": key, "client_name": f"Sync {n}"})
    return body["data"][0]["insert_id"]


def table(totals, args):
    lines = [f"Asset sync of {args.assets:,} assets, {args.backend}, batches of {args.batch}:", "",
             "| way | phase | requests | wall s | req/s | records/s | server CPU s | DB CPU s |",
             "|---|---|---|---|---|---|---|---|"]
    walls = {}
    for way, results in totals.items():
        for r in results:
            db = f"{r['db_cpu']:.1f}" if r["db_cpu"] is not None else "n/a"
            lines.append(f"| {way} | {r['phase']} | {r['requests']:,} | {r['wall']:.2f} | {r['requests'] / r['wall']:,.0f} "
                         f"| {r['records'] / r['wall']:,.0f} | {r['server_cpu']:.1f} | {db} |")
        walls[way] = sum(r["wall"] for r in results)
        lines.append(f"| {way} | **end to end** | {sum(r['requests'] for r in results):,} | {walls[way]:.2f} | | "
                     f"{3 * args.assets / walls[way]:,.0f} | | |")
    base = walls.get("per record")
    if base:
        lines.append("")
        lines.append("Speed-up end to end against one request per record: " + ", ".join(
            f"{way} {base / wall:.1f}x" for way, wall in walls.items() if way != "per record"))
    stored = {way: results[-1]["records"] for way, results in totals.items()}
    lines.append(f"Assets read back: {stored}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
