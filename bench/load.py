"""Drivers: wrk for HTTP, mysqlslap for the database's own ceiling, and the answer check."""
import json
import os
import re
import subprocess
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
USER_AGENT = "itflow-bench/1"
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


class Workload:
    """One request shape: its URL (and JSON body for POST), what a real answer holds, and the
    SQL ITFlow runs for it (the database ceiling is measured on that)."""

    def __init__(self, name, path, expect_count, expect_field, sql, body=None):
        self.name, self.path, self.body, self.sql = name, path, body, sql
        self.expect_count, self.expect_field = expect_count, expect_field

    def url(self, base, key):
        return base + self.path.format(key=key)

    def body_text(self, key):
        return json.dumps(dict(self.body, api_key=key)) if self.body is not None else None


def fetch(workload, base, key):
    """(HTTP status, parsed JSON or None, raw text) of one request."""
    body = workload.body_text(key)
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


def check(workload, base, key, server):
    """Refuse to time error pages: the answer must be HTTP 200, success "True" and the data."""
    status, answer, raw = fetch(workload, base, key)
    problem = None
    if status != 200:
        problem = f"HTTP {status}"
    elif not isinstance(answer, dict) or answer.get("success") != "True":
        problem = "no success"
    elif int(answer.get("count", -1)) != workload.expect_count or len(answer.get("data") or []) != workload.expect_count:
        problem = f"count {answer.get('count')!r}, expected {workload.expect_count}"
    elif workload.expect_field not in answer["data"][0]:
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


def wrk(workload, base, key, seconds, connections, threads):
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
           "-H", f"User-Agent: {USER_AGENT}"]  # as real clients do (ITFlow logs a warning without one)
    env = dict(os.environ)
    body = workload.body_text(key)
    if body is not None:
        cmd += ["-s", os.path.join(HERE, "post.lua")]
        env["BENCH_BODY"] = body
    out = subprocess.run(cmd + [workload.url(base, key)], capture_output=True, text=True, check=True,
                         env=env).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
              "requests": int(re.search(r"(\d+) requests in", out).group(1))}
    for pct in ("50", "99"):
        value, unit = re.search(rf"^\s+{pct}(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        result[f"p{pct}"] = float(value) * _UNITS[unit]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["errors"] = (int(non_2xx.group(1)) if non_2xx else 0) + (
        sum(int(n) for n in socket_errors.groups()) if socket_errors else 0)
    return result


def mysqlslap(db, statements, concurrency, requests):
    """Requests per second the database serves when a C client sends `statements` (one request's
    SQL) over `concurrency` persistent connections, `requests` times in all."""
    if any(";" in s for s in statements):
        raise ValueError("a statement contains the delimiter")
    cmd = ["mysqlslap", f"--host={db['host']}", f"--port={db['port']}", f"--user={db['user']}",
           f"--create-schema={db['name']}", "--no-drop", f"--concurrency={concurrency}", "--iterations=1",
           f"--number-of-queries={requests * len(statements)}",  # mysqlslap counts statements
           "--delimiter=;", "--query=" + ";".join(statements)]
    env = dict(os.environ, MYSQL_PWD=db["password"]) if db["password"] else None
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    found = re.search(r"Average number of seconds to run all queries:\s+([\d.]+)", done.stdout)
    if done.returncode or not found:
        raise SystemExit(f"mysqlslap failed: {(done.stderr or done.stdout).strip()[:400]}")
    seconds = float(found.group(1))
    return requests / max(seconds, 1e-6)


def db_ceiling(db, statements, concurrency, seconds):
    """mysqlslap for about `seconds`: a short calibration run sizes the measured one."""
    rate = mysqlslap(db, statements, concurrency, concurrency * 50)
    return mysqlslap(db, statements, concurrency, max(concurrency * 50, int(rate * seconds)))
