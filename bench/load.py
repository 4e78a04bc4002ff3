"""Drivers: wrk for HTTP, mysqlslap for the database's own ceiling, and the answer check."""
import json
import os
import re
import secrets
import subprocess
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
USER_AGENT = "itflow-bench/1"
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


class Workload:
    """One request shape: its URL (and JSON body for POST), what a real answer holds, and the
    SQL ITFlow runs for it (the database ceiling is measured on that).

    `key` is the short id --workloads takes; `itflow` False when ITFlow 2.4.6 has no such
    request (ours alone then; `sql` is then the SQL the same request needs, written out).
    A write names `stored`, the table that gains one row per successful request. `rotate`
    (first, span, per_client) spreads a write's "@ID@" over `span` records from `first`."""

    def __init__(self, key, name, path, expect_count, expect_field, sql, body=None, itflow=True,
                 stored=None, rotate=None):
        self.key, self.name, self.path, self.body, self.sql = key, name, path, body, sql
        self.expect_count, self.expect_field = expect_count, expect_field
        self.itflow, self.stored, self.rotate = itflow, stored, rotate or (1, 1, 1)

    @property
    def write(self):
        return self.body is not None

    def url(self, base, key):
        return base + self.path.format(key=key)

    def body_template(self, key):
        return json.dumps(dict(self.body, api_key=key)) if self.body is not None else None

    def body_text(self, key, n=0):
        """The body of one request, as wrk.lua makes the n-th (a fresh unique value each call)."""
        text = self.body_template(key)
        if text is None:
            return None
        first, span, per_client = self.rotate
        record = first + n % span
        return (text.replace("@N@", secrets.token_hex(6)).replace('"@ID@"', str(record))
                .replace('"@CID@"', str((record - 1) // per_client + 1)))


def query(params):
    """A query string (for paths that carry a filter expression)."""
    return urllib.parse.urlencode(params, safe="*")


def fetch(workload, base, key, n=0):
    """(HTTP status, parsed JSON or None, raw text) of one request."""
    body = workload.body_text(key, n)
    request = urllib.request.Request(workload.url(base, key), data=body.encode() if body else None,
                                     headers={"User-Agent": USER_AGENT, **({"Content-Type": "application/json"} if body else {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read().decode("utf-8", "replace")
    try:
        return status, json.loads(raw), raw
    except ValueError:
        return status, None, raw


def check(workload, base, key, server, n=0):
    """Refuse to time error pages: the answer must be HTTP 200, success "True" and the data
    (an update answers a count and no data: its `expect_field` is None)."""
    status, answer, raw = fetch(workload, base, key, n)
    problem = None
    if status != 200:
        problem = f"HTTP {status}"
    elif not isinstance(answer, dict) or answer.get("success") != "True":
        problem = "no success"
    elif int(answer.get("count", -1)) != workload.expect_count:
        problem = f"count {answer.get('count')!r}, expected {workload.expect_count}"
    elif workload.expect_field and len(answer.get("data") or []) != workload.expect_count:
        problem = f"{len(answer.get('data') or [])} rows of data, expected {workload.expect_count}"
    elif workload.expect_field and workload.expect_field not in answer["data"][0]:
        problem = f"no {workload.expect_field} in the data"
    if problem:
        raise SystemExit(f"{server} does not answer {workload.name} properly ({problem}): {raw[:400]}")
    return answer


def differences(ours, theirs):
    """A short description of how two read answers differ ('' when their data is identical)."""
    a, b = ours.get("data") or [], theirs.get("data") or []
    if len(a) != len(b):
        return f"{len(a)} rows against {len(b)}"
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x != y:
            keys = sorted(set(x) ^ set(y))
            if keys:
                return f"row {i}: columns only on one side: {', '.join(keys[:6])}"
            field = next(k for k in x if x[k] != y[k])
            return f"row {i}: {field} = {x[field]!r} against {y[field]!r}"
    return ""


def wrk(workload, base, key, seconds, connections, threads, timeout=10):
    """One wrk run through wrk.lua, which looks at every answer. `errors` sums what was not a
    success: non-2xx statuses, 200s without success "True", and socket errors (timeouts
    included: wrk leaves requests slower than `timeout` seconds out of its latencies)."""
    threads = max(1, min(threads, connections))  # wrk refuses more threads than connections
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", f"{timeout:g}s",
           "-H", f"User-Agent: {USER_AGENT}",  # as real clients do (ITFlow logs a warning without one)
           "-s", os.path.join(HERE, "wrk.lua")]
    env = dict(os.environ)
    env.pop("BENCH_BODY", None)
    body = workload.body_template(key)
    if body is not None:
        first, span, per_client = workload.rotate
        env.update(BENCH_BODY=body, BENCH_RUN=secrets.token_hex(4), BENCH_FIRST=str(first), BENCH_SPAN=str(span),
                   BENCH_PER_CLIENT=str(per_client))
    done = subprocess.run(cmd + [workload.url(base, key)], capture_output=True, text=True, env=env)
    out = done.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if done.returncode or not rps:
        raise SystemExit(f"wrk failed ({done.returncode}): {(done.stderr or out).strip()[:400]}")
    result = {"rps": float(rps.group(1)), "requests": int(re.search(r"(\d+) requests in", out).group(1))}
    for pct in ("50", "99"):
        found = re.search(rf"^\s+{pct}(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        result[f"p{pct}"] = float(found.group(1)) * _UNITS[found.group(2)] if found else float("nan")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    counted = re.search(r"BENCH ok (\d+) failed (\d+)", out)
    connect, read, write, timeouts = (int(n) for n in sockets.groups()) if sockets else (0, 0, 0, 0)
    result.update(non_2xx=int(non_2xx.group(1)) if non_2xx else 0, timeouts=timeouts,
                  socket=connect + read + write, ok=int(counted.group(1)) if counted else result["requests"],
                  failed=int(counted.group(2)) if counted else 0)
    result["not_success"] = max(0, result["failed"] - result["non_2xx"])  # HTTP 200 but no success "True"
    result["errors"] = result["failed"] + result["socket"] + result["timeouts"]
    return result


class Hung(Exception):
    """mysqlslap did not finish in time (it can hang when hundreds of its connections arrive at
    once over TCP and MariaDB's back_log overflows)."""


def mysqlslap(db, statements, concurrency, requests, timeout=None, socket=None):
    """Requests per second the database serves when a C client sends `statements` (one request's
    SQL) over `concurrency` persistent connections, `requests` times in all (over TCP to the
    database's host, or over the unix `socket`)."""
    if any(";" in s for s in statements):
        raise ValueError("a statement contains the delimiter")
    where = ["--host=localhost", f"--socket={socket}"] if socket else [f"--host={db['host']}", f"--port={db['port']}"]
    cmd = ["mysqlslap", *where, f"--user={db['user']}",
           f"--create-schema={db['name']}", "--no-drop", f"--concurrency={concurrency}", "--iterations=1",
           f"--number-of-queries={requests * len(statements)}",  # mysqlslap counts statements
           "--delimiter=;", "--query=" + ";".join(statements)]
    env = dict(os.environ, MYSQL_PWD=db["password"]) if db["password"] else None
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Hung(f"mysqlslap --concurrency={concurrency} did not finish in {timeout} s") from None
    found = re.search(r"Average number of seconds to run all queries:\s+([\d.]+)", done.stdout)
    if done.returncode or not found:
        raise SystemExit(f"mysqlslap failed: {(done.stderr or done.stdout).strip()[:400]}")
    seconds = float(found.group(1))
    return requests / max(seconds, 1e-6)


def db_ceiling(db, statements, concurrency, seconds, attempts=3, socket=None):
    """mysqlslap for about `seconds`: a short calibration run sizes the measured one. A run that
    hangs is stopped and tried again; (requests per second or None, runs that hung)."""
    hung = 0
    for _ in range(attempts):
        try:
            rate = mysqlslap(db, statements, concurrency, concurrency * 20, timeout=10, socket=socket)
            return mysqlslap(db, statements, concurrency, max(concurrency * 20, int(rate * seconds)),
                             timeout=2 * seconds + 10, socket=socket), hung
        except Hung:
            hung += 1
    return None, hung
