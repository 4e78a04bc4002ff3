"""Hostile input at every endpoint (issue 10, "Proof"): generated query strings, JSON bodies,
raw bodies, form bodies, duplicate parameters, odd headers and Content-Types, through the
in-process falcon client, with a valid all-clients key (or one scoped to a client) and the
decrypt password (with most requests, so credentials are reached; missing or wrong with some).
Every answer must be

- below 500,
- Content-Type application/json carrying the envelope (success "True"/"False"; a failure with
  its message, count 0 and data []),
- and, when a request was refused (anything but success "True"), the database unchanged:
  every table of the layout is read before and after and compared (all rows on SQLite,
  CHECKSUM TABLE on MariaDB; the one row a refusal may add is the `logs` row of a failed
  authentication, contract section 3).

Without randomness besides: a per-field sweep (each create/update field gets the values that
break columns: integers past 64 bits, floats past double, lone surrogates, one character more
than the column holds), read parameters at their limits, and malformed HTTP sent on raw
sockets to the real server (what waitress parses before the app sees it).

How many: CI runs each property EXAMPLES times with a fixed seed, about 2,000 requests in
all, about a minute on either backend. A long run (fresh random input each time):

    HYPOTHESIS_PROFILE=long ITFLOW_FUZZ_EXAMPLES=1000 python -m pytest -q -p no:cacheprovider tests/test_hostile.py
    ITFLOW_TEST_BACKEND=mysql HYPOTHESIS_PROFILE=long ITFLOW_FUZZ_EXAMPLES=500 python -m pytest -q tests/test_hostile.py

ITFLOW_FUZZ_EXAMPLES sets the examples per property (default 40; 1000 with the long profile).
ITFLOW_FUZZ_SURVEY=1 records every faulty answer instead of stopping at the first, and
ITFLOW_FUZZ_REPORT=file.json writes the tally (requests sent, statuses, 5xx, non-envelope
answers, refusals that changed the database, each distinct fault with its traceback summary).
"""
import json
import logging
import os
from collections import Counter

import hostile_corpus as hc
import pytest
from falcon import testing
from helpers import SECRET, Api, fresh_config, make_key
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from itflow_api.lib.access.keys import KeyStore
from itflow_api.lib.db.database import Database
from itflow_api.lib.itflow import schema
from itflow_api.lib.web.app import create_app

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
EXAMPLES = hc.examples(1000 if LONG else 40)
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not LONG,
                    suppress_health_check=list(HealthCheck),
                    phases=[Phase.explicit, Phase.generate, Phase.shrink])
SURVEY = os.environ.get("ITFLOW_FUZZ_SURVEY") == "1"

TALLY = Counter()   # requests sent, 5xx, non-envelope answers, changed databases
FAULTS = {}         # (endpoint, fault kind) -> first reproduction

ENDPOINTS = hc.endpoint_table()
GET_PATHS = [e[0] for e in ENDPOINTS if e[3] == "GET"]
FAMILIES = {
    # Bodies are built from a module definition's fields: hand-written endpoints (webhooks) have
    # none, and their own tests (test_webhooks.py) send them what they refuse.
    "create": [e for e in ENDPOINTS if e[2] == "create" and e[4] is not None],
    "update": [e for e in ENDPOINTS if e[2] == "update" and e[4] is not None],
    "delete": [e for e in ENDPOINTS if e[2] == "delete"],
    "archive": [e for e in ENDPOINTS if e[2] in ("archive", "unarchive", "resolve")],
}


class Errors(logging.Handler):
    """Keeps the last exception the app logged, to name a 500's traceback."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.last = None

    def emit(self, record):
        if record.exc_info:
            kind, value, tb = record.exc_info
            while tb.tb_next:
                tb = tb.tb_next
            frame = tb.tb_frame.f_code
            self.last = f"{kind.__name__}: {str(value)[:200]} at {frame.co_filename.split('/')[-1]}:{tb.tb_lineno}"
        else:
            self.last = record.getMessage()[:200]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with fresh_config(tmp_path_factory.mktemp("hostile")) as cfg:
        hc.no_rate_limits(cfg)
        db = Database.from_config(cfg.database)
        db.create_schema()
        keys = KeyStore(db, SECRET.encode())
        key = make_key(keys, decrypt_password=hc.DECRYPT)
        app = create_app(cfg, db, keys)
        errors = Errors()
        logger = logging.getLogger("itflow_api")
        logger.addHandler(errors)
        w = hc.World(db, Api(app), key)
        w.client, w.errors, w.keys = testing.TestClient(app), errors, keys
        try:
            yield w
        finally:
            logger.removeHandler(errors)
            db.close()
            _write_report()


@pytest.fixture
def fresh(world):
    """The world emptied and seeded again: clients A and B with one record of every module."""
    db = world.db
    with db.transaction(write=True):
        for table in schema.tables():
            if table != "api_keys":
                db.execute(f"DELETE FROM {table}")
    db.create_schema()
    world.records = {}
    world.a, world.b = world.add_client("Alpha"), world.add_client("Bravo")
    world.seed_client(world.a, 1)
    world.seed_client(world.b, 2)
    # a key scoped to A (2.4.6 layout), with the decrypt password: the other scope's paths
    world.scoped = make_key(world.keys, client_id=world.a, decrypt_password=hc.DECRYPT,
                            unlock_key=world.key, unlock_password=hc.DECRYPT)
    return world


def _write_report():
    target = os.environ.get("ITFLOW_FUZZ_REPORT")
    if target:
        with open(target, "w") as out:
            json.dump({"tally": dict(TALLY), "faults": [
                {"endpoint": k[0], "fault": k[1], **v} for k, v in FAULTS.items()]}, out, indent=1)


def send(w, method, path, *, query="", body=None, headers=(), check_db=None):
    """One request; returns the answer's envelope (or None) after checking the contract.
    check_db (default: for POST): a refusal must leave the database as it was."""
    check_db = method == "POST" if check_db is None else check_db
    before = hc.snapshot(w.db) if check_db else None
    w.errors.last = None
    result = w.client.simulate_request(method, path, query_string=query or None, body=body,
                                       headers=list(headers))
    TALLY["requests"] += 1
    TALLY[f"HTTP {result.status_code}"] += 1
    problems = hc.problems_of(result)
    answer = hc.envelope_of(result)
    if answer and answer.get("success") == "True":
        TALLY["success True"] += 1
    if result.status_code >= 500:
        TALLY["5xx"] += 1
    if any(not p.startswith("HTTP") for p in problems):
        TALLY["non-envelope"] += 1
    if check_db and (answer is None or answer.get("success") != "True"):
        changed = hc.changed_tables(before, hc.snapshot(w.db))
        if answer and str(answer.get("message", "")).startswith(NO_CHANGE):
            # An update that changed nothing in the module's own table answers "False" as
            # ITFlow does, yet keeps (and logs) what it changed elsewhere (an asset's interface).
            module = hc.module_of(path.split("/")[3])
            changed = [t for t in changed if module is not None and t == module.table]
        if changed:
            TALLY["changed by a refusal"] += 1
            problems.append(f"refused ({result.status_code} {result.text[:120]}) but changed {changed}")
    if problems:
        shown = body if body is None or len(body) < 300 else body[:300] + b"..."
        fault = {"method": method, "query": query[:300], "body": repr(shown), "headers": repr(list(headers))[:300],
                 "status": result.status_code, "answer": result.text[:300], "traceback": w.errors.last}
        kind = problems[0].split(":")[0][:60]
        FAULTS.setdefault((path, kind), fault)
        if not SURVEY:
            raise AssertionError(f"{path}: {problems}\n{json.dumps(fault, indent=1)}")
    return answer


# --- strategies -----------------------------------------------------------------------

NO_CHANGE = "No rows changed"
GENERIC_NAMES = ["client_id", "limit", "offset", "api_key", "api_key_decrypt_password", "filter", "sort",
                 "order", "fields", "include_archived", "type", "year", "month", "technician_id", "id"]


def names_for(module):
    names = list(GENERIC_NAMES)
    if module is not None:
        names += [f.name for f in module.fields] + [lk.param for lk in module.lookups] + [module.id_column]
        names += [f"filter[{f.name}]" for f in module.fields[:5]]
    return names


class Raw:
    """A JSON value spliced in as raw text (see hc.RAW_TOKENS)."""

    def __init__(self, token):
        self.token = token


scalars = st.sampled_from(hc.SCALARS)
json_leaf = st.one_of(
    scalars, scalars, st.integers(), st.floats(), st.text(max_size=40),
    st.sampled_from(hc.RAW_TOKENS).map(Raw),
)
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=6)
query_value = st.one_of(scalars.map(lambda v: "" if v is None else str(v)), st.text(max_size=40),
                        st.integers().map(str), st.sampled_from(["1", "2", "3", "0"]))


def splice(body):
    """(JSON-ready body with placeholders, raw tokens) for a body holding Raw values."""
    tokens = []

    def walk(value):
        if isinstance(value, Raw):
            tokens.append(value.token)
            return hc.RAW_MARK % (len(tokens) - 1)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value
    return walk(body), tokens


@st.composite
def key_placement(draw, w):
    """(query pairs, body fields, headers) carrying the key: usually the right one, sometimes
    none, a wrong one or two of them."""
    how = draw(st.sampled_from(["header"] * 5 + ["bearer", "query", "body"] * 2 + ["none", "wrong", "both"]))
    key = draw(st.sampled_from([w.key, w.key, w.scoped]))  # all clients, or scoped to A
    password = draw(st.sampled_from([hc.DECRYPT] * 4 + [None, "wrong password", hc.DECRYPT + "\x00"]))
    pw = [("X-API-Decrypt-Password", password)] if password else []
    if how == "header":
        return [], {}, [("X-API-KEY", key)] + pw
    if how == "bearer":
        return [], {}, [("Authorization", f"Bearer {key}")] + pw
    if how == "query":
        return [("api_key", key)] + ([("api_key_decrypt_password", password)] if password else []), {}, []
    if how == "body":
        return [], {"api_key": key, **({"api_key_decrypt_password": password} if password else {})}, []
    if how == "none":
        return [], {}, []
    if how == "wrong":
        return [], {}, [("X-API-KEY", draw(st.sampled_from(["x" * 32, w.key[:-1] + "A", "' OR 1=1 --"])))]
    return [("api_key", w.key)], {}, [("X-API-KEY", "y" * 32), ("X-API-KEY", w.key)] + pw


def base_body(w, draw, path, module_name, function, module):
    """A valid body for the endpoint, on one of the seeded records of client A or B."""
    owner = draw(st.sampled_from([w.a, w.b]))
    records = w.records[owner]
    if function == "create":
        n = draw(st.integers(min_value=10, max_value=10 ** 6))
        return hc.create_body(module_name, owner, n, refs=records)
    if module is not None and module_name in records:
        return {module.id_column: records[module_name]}
    return {}


# --- properties -------------------------------------------------------------------------

@SETTINGS
@given(data=st.data())
def test_query_strings_at_every_read(fresh, data):
    w = fresh
    path = data.draw(st.sampled_from(GET_PATHS))
    module = next(e[4] for e in ENDPOINTS if e[0] == path)
    pairs = data.draw(st.lists(st.tuples(st.one_of(st.sampled_from(names_for(module)), st.text(max_size=10)),
                                         query_value), max_size=8))
    key_query, _, headers = data.draw(key_placement(w))
    # duplicates: a name given twice, the key's own parameters among them
    if pairs and data.draw(st.booleans()):
        pairs.append((pairs[0][0], data.draw(query_value)))
    send(w, "GET", path, query=hc.query_string(key_query + pairs), headers=headers, check_db=True)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@SETTINGS
@given(data=st.data())
def test_json_bodies_at_every_write(fresh, family, data):
    w = fresh
    path, module_name, function, method, module = data.draw(st.sampled_from(FAMILIES[family]))
    body = base_body(w, data.draw, path, module_name, function, module)
    hostile = data.draw(st.dictionaries(
        st.one_of(st.sampled_from(names_for(module)), st.text(max_size=12)), json_value, min_size=1, max_size=4))
    body.update(hostile)
    if module is not None and data.draw(st.booleans()):
        # a field of the module with a value its column cannot hold (as in the sweep below)
        field = data.draw(st.sampled_from(module.fields))
        body[field.name] = Raw(data.draw(st.sampled_from(breaking_values(field)))[1])
    key_query, key_body, headers = data.draw(key_placement(w))
    body = {**key_body, **body} if data.draw(st.booleans()) else {**body, **key_body}
    ready, tokens = splice(body)
    extra_query = data.draw(st.lists(st.tuples(st.sampled_from(names_for(module)), query_value), max_size=3))
    content_type = data.draw(st.sampled_from(["application/json", "application/json", None, "text/plain",
                                              "application/x-www-form-urlencoded"]))
    if content_type:
        headers = headers + [("Content-Type", content_type)]
    shape = data.draw(st.sampled_from(["json", "json", "json", "duplicate keys", "form"]))
    if shape == "form":
        # a form body: every value as text, names repeated at will
        pairs = [(k, v if isinstance(v, str) else hc.encode_body(*splice(v)).decode("utf-8", "surrogatepass"))
                 for k, v in body.items()]
        raw = hc.query_string(pairs + data.draw(st.lists(st.tuples(st.sampled_from(names_for(module)), query_value),
                                                         max_size=3))).encode()
        headers = [h for h in headers if h[0] != "Content-Type"] + [
            ("Content-Type", "application/x-www-form-urlencoded")]
    else:
        raw = hc.encode_body(ready, tokens, ascii_only=data.draw(st.booleans()))
        if shape == "duplicate keys" and raw.endswith(b"}") and body:
            # the same name again at the end: JSON parsers keep the last one
            name = data.draw(st.sampled_from(sorted(body)))
            again, more = splice({name: data.draw(json_value)})
            raw = raw[:-1] + b"," + hc.encode_body(again, more)[1:]
    send(w, method, path, query=hc.query_string(key_query + extra_query), body=raw, headers=headers)


@SETTINGS
@given(data=st.data())
def test_raw_bodies_and_content_types(fresh, data):
    w = fresh
    path, module_name, function, method, module = data.draw(st.sampled_from(ENDPOINTS))
    raw = data.draw(st.one_of(st.sampled_from(hc.RAW_BODIES), st.binary(max_size=64)))
    content_type = data.draw(st.sampled_from(hc.CONTENT_TYPES))
    headers = [("X-API-KEY", w.key), ("X-API-Decrypt-Password", hc.DECRYPT)]
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    method = data.draw(st.sampled_from([method, method, method, "GET" if method == "POST" else "POST"]))
    send(w, method, path, body=raw, headers=headers, check_db=True)


@SETTINGS
@given(data=st.data())
def test_odd_headers(fresh, data):
    w = fresh
    path, module_name, function, method, module = data.draw(st.sampled_from(ENDPOINTS))
    body = base_body(w, data.draw, path, module_name, function, module)
    key_query, key_body, headers = data.draw(key_placement(w))
    odd = data.draw(st.lists(st.sampled_from(hc.ODD_HEADERS), min_size=1, max_size=4))
    content_type = data.draw(st.sampled_from(hc.CONTENT_TYPES))
    headers = headers + odd + ([("Content-Type", content_type)] if content_type is not None else [])
    raw = json.dumps({**body, **key_body}).encode() if method == "POST" else None
    query = hc.query_string(key_query + ([] if method == "POST" else list(body.items())))
    send(w, method, path, query=query, body=raw, headers=headers, check_db=True)


# --- the sweep: every create/update field against what breaks columns -----------------

def breaking_values(field):
    """Values a field's column cannot hold, each as (label, raw JSON text): a few per kind."""
    kind = field.kind
    if kind in ("int", "flag"):
        values = [("2**63", str(2 ** 63)), ("-2**63-1", str(-2 ** 63 - 1)), ("1e400", "1e400"),
                  ("40 digits", '"' + "9" * 40 + '"')]
    elif kind == "decimal":
        values = [("1e308", "1e308"), ("40 digits", '"' + "9" * 40 + '"'), ("NaN", "NaN")]
    elif kind in ("date", "datetime", "time"):
        values = [("2**63", str(2 ** 63)), ("lone surrogate", '"\\ud800"'), ("9999-99-99", '"9999-99-99"')]
    else:
        values = [("lone surrogate", '"ok\\udfffok"'), ("2**64", str(2 ** 64)), ("object", '{"a": 1}')]
    column = field.column_spec
    if kind not in ("int", "flag", "decimal") and column is not None and column.max_length \
            and column.max_length < 20000:
        values.append(("one character too long", json.dumps("x" * (column.max_length + 1))))
        values.append(("4-byte characters too long", json.dumps("\U0001F600" * (column.max_length + 1))))
    return values


SWEPT = sorted({e[1] for e in FAMILIES["create"]} | {e[1] for e in FAMILIES["update"]})


@pytest.mark.parametrize("module_name", SWEPT)
def test_every_field_refuses_what_its_column_cannot_hold(fresh, module_name):
    w = fresh
    module = hc.module_of(module_name)
    headers = [("X-API-KEY", w.key), ("X-API-Decrypt-Password", hc.DECRYPT), ("Content-Type", "application/json")]
    found, n = [], 100
    for function in ("create", "update"):
        if function not in hc.functions_of(module_name):
            continue
        for field in module.fields:
            for label, raw_value in breaking_values(field):
                n += 1  # a fresh name and email each time: no refusal as a duplicate
                if function == "create":
                    body = hc.create_body(module_name, w.a, n, refs=w.records[w.a])
                else:
                    # (a module whose table the world's 2.4.6 layout lacks has no record: id 1, refused)
                    body = {module.id_column: w.records[w.a].get(module_name, 1)}
                body[field.name] = hc.RAW_MARK % 0
                raw = hc.encode_body(body, [raw_value])
                try:
                    send(w, "POST", f"/api/v1/{module_name}/{function}.php", body=raw, headers=headers)
                except AssertionError as fault:
                    found.append(f"{function} {field.name}={label}: {str(fault).splitlines()[0][:300]}")
    assert not found, "\n".join(found)


# --- malformed HTTP, through the real server ------------------------------------------------
# What never reaches the app in-process: waitress parses the request first, and answers some
# faults itself (issue 10 item 7). Sent as raw bytes on a socket to the server `serve` builds.

import socket  # noqa: E402
import threading  # noqa: E402

from itflow_api.lib.web import servers as server_module  # noqa: E402


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with fresh_config(tmp_path_factory.mktemp("hostile-live")) as cfg:
        hc.no_rate_limits(cfg)
        cfg.server.threads = 2
        db = Database.from_config(cfg.database)
        db.create_schema()
        keys = KeyStore(db, SECRET.encode())
        key = make_key(keys)
        listener = server_module.bind("127.0.0.1", 0)
        served = server_module._waitress_server(create_app(cfg, db, keys), cfg, listener)
        thread = threading.Thread(target=served.run, daemon=True)
        thread.start()
        try:
            yield {"port": listener.getsockname()[1], "key": key, "max": cfg.server.max_body_bytes}
        finally:
            served.close()
            db.close()


def raw_exchange(port, data, timeout=10):
    """Send bytes, read the answer until the server closes; (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before it has read everything
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks):
                head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
                length = [int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")]
                if length and len(body) >= length[0]:
                    break
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.decode("latin-1").partition(":") for line in lines[1:])}
    return status, headers, body


def _request(path="/api/v1/clients/read.php", method="GET", headers=(), body=b""):
    path = path if isinstance(path, bytes) else path.encode()
    lines = [method.encode() + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    lines += [h if isinstance(h, bytes) else h.encode("latin-1") for h in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _malformed(max_bytes, key):
    big = b'{"client_name":"' + b"x" * (max_bytes + 10) + b'"}'
    return {
        "body over the limit (Content-Length)": _request(
            "/api/v1/clients/create.php", "POST", [f"X-API-KEY: {key}", "Content-Type: application/json",
                                                   f"Content-Length: {len(big)}"], big),
        "body over the limit (chunked)": _request(
            "/api/v1/clients/create.php", "POST", [f"X-API-KEY: {key}", "Transfer-Encoding: chunked"],
            f"{len(big):x}\r\n".encode() + big + b"\r\n0\r\n\r\n"),
        "NUL byte in a header": _request(headers=[f"X-API-KEY: {key}", b"X-Note: a\x00b"]),
        "control character in Content-Type": _request(
            "/api/v1/clients/create.php", "POST", [f"X-API-KEY: {key}", b"Content-Type: application/json\x01",
                                                   "Content-Length: 2"], b"{}"),
        "header line without a colon": _request(headers=[f"X-API-KEY: {key}", "this is no header"]),
        "Content-Length that is no number": _request(
            "/api/v1/clients/create.php", "POST", [f"X-API-KEY: {key}", "Content-Length: abc"], b"{}"),
        "bad percent-encoding in the path": _request(f"/api/v1/clients/read%zz.php?api_key={key}"),
        "non-ASCII bytes in the path": _request(f"/api/v1/clients/r\u00e9ad.php?api_key={key}".encode("latin-1")),
        "unknown method (PROPFIND)": _request(f"/api/v1/clients/read.php?api_key={key}", "PROPFIND"),
        "CONNECT": _request(f"/api/v1/clients/read.php?api_key={key}", "CONNECT"),
        "unknown path": _request(f"/api/v1/../../etc/passwd?api_key={key}"),
        "HTTP/1.0 without Host": f"GET /api/v1/clients/read.php?api_key={key} HTTP/1.0\r\n\r\n".encode(),
        "lone surrogate bytes in the query": _request(f"/api/v1/clients/read.php?api_key={key}&client_name=".encode()
                                                      + b"\xed\xa0\x80"),
    }


MALFORMED_NAMES = list(_malformed(10, "k"))


@pytest.mark.parametrize("case", MALFORMED_NAMES)
def test_malformed_http_gets_the_envelope_from_the_real_server(live, case):
    status, headers, body = raw_exchange(live["port"], _malformed(live["max"], live["key"])[case])
    TALLY["requests"] += 1
    assert 0 < status < 500, (status, headers, body[:300])
    assert headers.get("content-type", "").startswith("application/json"), (status, headers, body[:300])
    answer = json.loads(body)
    assert answer["success"] == "False" and answer["message"], answer


# --- read parameters at their limits ----------------------------------------------------------

READ_MODULES = sorted({e[1] for e in ENDPOINTS if e[2] == "read" and e[4] is not None})


def _limit_cases(module):
    """(parameter, value) pairs at and past what a database takes in one statement: thousands
    of sort terms (SQLite allows 2000 in an ORDER BY), fields, filter clauses and nesting."""
    column = module.id_column
    return [
        ("sort", ",".join([column] * 2100)), ("sort", ",".join(f"-{column}" for _ in range(2100))),
        ("order", ",".join([column] * 2100)), ("fields", ",".join([column] * 2100)),
        ("filter", "(" * 200 + f"{column}==1" + ")" * 200), ("filter", ";".join([f"{column}==1"] * 400)),
        ("filter", f"{column}=in=(" + ",".join(["1"] * 1900) + ")"), ("filter", f"{column}=={2 ** 70}"),
        (f"filter[{column}]", str(2 ** 64)), ("limit", str(2 ** 64)), ("offset", str(2 ** 63)),
    ]


@pytest.mark.parametrize("module_name", READ_MODULES)
def test_read_parameters_at_their_limits(fresh, module_name):
    w = fresh
    module = hc.module_of(module_name)
    path = f"/api/v1/{module_name}/read.php"
    found = []
    for name, value in _limit_cases(module):
        # parent-scoped reads need their parent's id to get as far as the query
        pairs = [(name, value)] + [(p, "1") for p in ("invoice_id", "ticket_id") if p in names_for(module)]
        try:
            send(w, "GET", path, query=hc.query_string(pairs), headers=[("X-API-KEY", w.key)])
        except AssertionError as fault:
            found.append(f"{name}={value[:30]}... ({len(value)} characters): {str(fault).splitlines()[0][:200]}"
                         f" [{w.errors.last}]")
    assert not found, "\n".join(found)
