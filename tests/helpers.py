"""Small helpers the test modules share: the test backend and its settings, a contract-speaking
test client, keys, rows written or read straight from the database, and assertions on envelopes
and logs. conftest.py builds its fixtures from these; test modules import them from here."""
import contextlib
import json
import os
import secrets
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pymysql
from falcon import testing

from itflow_api.lib.itflow import schema
from itflow_api.lib.web.config import Config

# --- the backend under test --------------------------------------------------------------------

BACKEND = os.environ.get("ITFLOW_TEST_BACKEND", "sqlite")
MYSQL = {
    "host": os.environ.get("ITFLOW_TEST_MYSQL_HOST", "127.0.0.1"),
    "port": int(os.environ.get("ITFLOW_TEST_MYSQL_PORT", "3306")),
    "user": os.environ.get("ITFLOW_TEST_MYSQL_USER", "root"),
    "password": os.environ.get("ITFLOW_TEST_MYSQL_PASSWORD", ""),
}
MYSQL_DRIVER = os.environ.get("ITFLOW_TEST_MYSQL_DRIVER", "auto")  # auto: what `serve` would pick
SECRET = "test-secret-" + secrets.token_hex(8)

# Everything the server logs during the run (access log and the itflow_api logger), and every
# key and decrypt password the tests made: none of the latter may appear in the former (the
# session fixture no_secret_reaches_the_server_log in conftest.py checks).
SERVER_LOG = Path(tempfile.mkdtemp(prefix="itflow-api-test-log-")) / "server.log"
SECRETS_USED = set()
APP_USED = []  # set once an in-process app has been made (subprocess servers log elsewhere)


def admin_connection():
    return pymysql.connect(autocommit=True, **MYSQL)


@contextlib.contextmanager
def fresh_config(directory):
    """A Config pointing at a brand-new empty database, dropped afterwards."""
    cfg = Config()
    cfg.security.key_hash_secret = SECRET
    cfg.server.max_body_bytes = 64 * 1024
    cfg.log.access_log = str(SERVER_LOG)
    if BACKEND == "mysql":
        name = f"itflow_test_{secrets.token_hex(4)}"
        with admin_connection() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        cfg.database.backend = "mysql"
        cfg.database.host, cfg.database.port = MYSQL["host"], MYSQL["port"]
        cfg.database.user, cfg.database.password = MYSQL["user"], MYSQL["password"]
        cfg.database.name = name
        cfg.database.driver = MYSQL_DRIVER
    else:
        cfg.database.path = str(directory / "test.sqlite3")
    try:
        yield cfg
    finally:
        if BACKEND == "mysql":
            with admin_connection() as conn, conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{cfg.database.name}`")


@contextlib.contextmanager
def user_keys_database(directory):
    """(config, Database) on a fresh database in ITFlow 2.4.7+'s layout (keys act as users)."""
    from itflow_api.lib.db.database import Database

    with fresh_config(directory) as cfg:
        db = Database.from_config(cfg.database)
        db.create_schema(schema.LAYOUT_USER_KEYS)
        try:
            yield cfg, db
        finally:
            db.close()


# --- calling the API -----------------------------------------------------------------------------

class Api:
    """A test client that speaks the contract: every answer must be a JSON envelope."""

    def __init__(self, app):
        self.client = testing.TestClient(app)

    def _check(self, result):
        assert result.headers.get("content-type", "").startswith("application/json"), result.text
        body = json.loads(result.text)
        assert body["success"] in ("True", "False"), body
        return result.status_code, body

    def get(self, path, key=None, headers=None, **params):
        if key is not None:
            params["api_key"] = key
        return self._check(self.client.simulate_get(f"/api/v1/{path}.php", params=params, headers=headers))

    def post(self, path, body=None, key=None, headers=None, raw=None, query=None):
        payload = dict(body or {})
        if key is not None:
            payload["api_key"] = key
        kwargs = {"body": raw} if raw is not None else {"json": payload}
        return self._check(self.client.simulate_post(
            f"/api/v1/{path}.php", headers=headers, params=query, **kwargs))

    def request(self, method, path, **kwargs):
        return self._check(self.client.simulate_request(method, path, **kwargs))


def make_key(keys, client_id=0, expire=None, decrypt_password=None, **kwargs):
    expire = expire or (date.today() + timedelta(days=30)).isoformat()
    presented, _ = keys.create("test key", expire, client_id, decrypt_password, **kwargs)
    SECRETS_USED.update(s for s in (presented, decrypt_password, kwargs.get("unlock_password")) if s)
    return presented


# --- rows and envelopes --------------------------------------------------------------------------

NO_RESOURCE = {"success": "False",
               "message": "No resource (for this client and company) with the specified parameter(s).",
               "count": 0, "data": []}
MISSING_ID = 987654  # an id no test row has


def insert(db, table, **values):
    """A row written straight to the database (no API call, no logs)."""
    with db.transaction(write=True):
        return db.insert(table, values)


def fetch(db, table, **where):
    """Rows of `table` matching every column in `where`, in id order."""
    conds = " AND ".join(f"{k} = :{k}" for k in where) or "1 = 1"
    with db.transaction():
        return db.rows(f"SELECT * FROM {table} WHERE {conds} ORDER BY 1", where)


def one(db, table, **where):
    found = fetch(db, table, **where)
    assert len(found) == 1, (table, where, found)
    return found[0]


def set_columns(db, table, values, **where):
    with db.transaction(write=True):
        db.update(table, values, where)


def succeeded(result):
    status, body = result
    assert (status, body["success"]) == (200, "True"), body
    return body


def refused(result):
    """A refusal with HTTP 200 (ITFlow's way), carrying our empty count/data and a message."""
    status, body = result
    assert (status, body["success"]) == (200, "False"), body
    assert body["count"] == 0 and body["data"] == [] and body["message"], body
    return body


def log_rows(db, **where):
    return fetch(db, "logs", **where)


def assert_recent(stamp):
    """A datetime column the server set to 'now'."""
    assert stamp is not None
    assert abs((datetime.now() - datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")).total_seconds()) < 120, stamp


def assert_write_logged(db, entity, action, record_id, client_id, name):
    """Section 5: a write leaves exactly two logs rows, the record's and the API's."""
    rows = log_rows(db)
    assert len(rows) == 2, rows
    record, api_row = rows
    assert (record["log_type"], record["log_action"]) == (entity, action)
    assert record["log_description"] == f"{name} via API (test key)"
    assert (record["log_entity_id"], record["log_client_id"]) == (str(record_id), str(client_id))
    assert (api_row["log_type"], api_row["log_action"]) == ("API", "Success")
    assert api_row["log_client_id"] == str(client_id)
    assert api_row["log_description"].endswith("via API (test key)")
    for row in rows:
        assert row["log_ip"] and row["log_user_agent"] is not None


# --- exact envelopes (the endpoint modules beyond the nine documented ones) ----------------------

def clear_logs(db):
    with db.transaction(write=True):
        db.execute("DELETE FROM logs")


def columns(table):
    return [c.name for c in schema.columns(table)]


def created_id(result):
    """A create's exact envelope; returns the insert id."""
    status, body = result
    assert status == 200, body
    assert list(body) == ["success", "count", "data"], body
    insert_id = body["data"][0]["insert_id"] if body.get("data") else None
    assert isinstance(insert_id, int) and insert_id > 0, body
    assert body == {"success": "True", "count": "1", "data": [{"insert_id": insert_id}]}
    return insert_id


def changed_one(result):
    assert result == (200, {"success": "True", "count": 1}), result


def read_rows(result):
    """A read's exact envelope; returns its rows (every value a string or None)."""
    status, body = result
    assert status == 200, body
    assert list(body) == ["success", "count", "data"], body
    assert body["success"] == "True" and body["count"] == len(body["data"]) > 0, body
    for row in body["data"]:
        assert all(v is None or isinstance(v, str) for v in row.values()), row
    return body["data"]


def ids(rows, column):
    return [r[column] for r in rows]


def same_refusal(theirs, missing, their_id):
    """B's record must look exactly like one that does not exist."""
    assert theirs[0] == missing[0]
    assert theirs[1]["message"].replace(str(their_id), "N") == missing[1]["message"].replace(str(MISSING_ID), "N")
    assert {k: v for k, v in theirs[1].items() if k != "message"} == \
        {k: v for k, v in missing[1].items() if k != "message"}


# --- documents, locations, vendors: made through the API ----------------------------------------

# module: (id column, the fields a create needs, a text field, the archived column,
#          the log entity, the name column)
WRITABLE = {
    "documents": ("document_id", {"document_name": "Runbook", "document_content": "<p>Step 1</p>"},
                  "document_description", "document_archived_at", "Document", "document_name"),
    "locations": ("location_id", {"location_name": "HQ"}, "location_notes", "location_archived_at",
                  "Location", "location_name"),
    "vendors": ("vendor_id", {"vendor_name": "Dell"}, "vendor_notes", "vendor_archived_at", "Vendor", "vendor_name"),
}
CLIENT_COLUMN = {"documents": "document_client_id", "locations": "location_client_id",
                 "vendors": "vendor_client_id"}


def new_record(api, module, key, client_id=None, **fields):
    body = {**WRITABLE[module][1], **fields}
    if client_id is not None:
        body["client_id"] = client_id
    return created_id(api.post(f"{module}/create", body, key=key))


# --- invoices and tickets: rows written straight to the database ---------------------------------

def new_invoice(db, client_id, number=1, status="Sent", **columns):
    values = {"invoice_prefix": "INV-", "invoice_number": number, "invoice_status": status,
              "invoice_date": "2024-01-31", "invoice_due": "2024-02-29", "invoice_currency_code": "USD",
              "invoice_category_id": 0, "invoice_client_id": client_id}
    return insert(db, "invoices", **{**values, **columns})


def new_payment(db, invoice_id, amount="10.00", **columns):
    values = {"payment_invoice_id": invoice_id, "payment_amount": amount, "payment_date": "2024-02-01",
              "payment_currency_code": "USD", "payment_method": "Cash", "payment_account_id": 0}
    return insert(db, "payments", **{**values, **columns})


def new_ticket(db, client_id, number=1, subject="Printer on fire", **columns):
    values = {"ticket_prefix": "TCK-", "ticket_number": number, "ticket_subject": subject,
              "ticket_details": "<p>Help</p>", "ticket_status": 1, "ticket_created_by": 0,
              "ticket_client_id": client_id}
    return insert(db, "tickets", **{**values, **columns})


def reply(db, ticket_id, text, reply_type="Internal", by=0, worked=None, **columns):
    return insert(db, "ticket_replies", ticket_reply=text, ticket_reply_type=reply_type, ticket_reply_by=by,
                  ticket_reply_time_worked=worked, ticket_reply_ticket_id=ticket_id, **columns)


# --- live servers ------------------------------------------------------------------------------

def free_port():
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_listening(port, tries=100):
    import socket
    import time
    for _ in range(tries):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


@contextlib.contextmanager
def serving(app, threads=4):
    """`app` under a real waitress server in a thread; yields its base URL."""
    import threading

    import waitress
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=threads)
    port = server.socket.getsockname()[1]
    threading.Thread(target=server.run, daemon=True).start()
    wait_until_listening(port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


def read_status(port, key, address, timeout=30):
    """HTTP status of a clients/read.php with `key`, as a caller at `address` behind our proxy."""
    import urllib.error
    import urllib.request
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/clients/read.php?api_key={key}",
                                     headers={"X-Forwarded-For": address})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


# --- keys acting as users: roles and users (ITFlow 2.4.7+) -------------------------------------

def insert_role(db, name, admin=0, levels=None):
    """A user role; `levels` maps an ITFlow permission module name to its level."""
    role_id = db.insert("user_roles", {"role_name": name, "role_is_admin": admin})
    if levels:
        modules = {r["module_name"]: int(r["module_id"]) for r in db.rows("SELECT module_id, module_name FROM modules")}
        for module, level in levels.items():
            db.insert("user_role_permissions", {"user_role_id": role_id, "module_id": modules[module],
                                                "user_role_permission_level": level})
    return role_id


def insert_user(db, name, role_id, **columns):
    return db.insert("users", {"user_name": name, "user_email": f"{name}@msp.example",
                               "user_password": "x", "user_role_id": role_id, **columns})


# --- a webhook receiver ----------------------------------------------------------------------

class WebhookReceiver:
    """An HTTP server on 127.0.0.1 recording what it is sent. `script`: statuses to answer,
    in turn (then 200); `redirect`: answer 302 to that location."""

    def __init__(self):
        self.received = []
        self.script = []
        self.delay = 0.0  # seconds before each answer
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(owner.delay)
                with owner.lock:
                    status = owner.script.pop(0) if owner.script else 200
                    owner.received.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                           "status": status})
                self.send_response(status)
                if status in (301, 302, 307, 308):
                    self.send_header("Location", f"http://127.0.0.1:{owner.port}/elsewhere")
                text = b"ok " + b"x" * 3000 if status < 300 else b"not now"
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def delivered(self):
        """The events answered with 2xx, as (msg id, payload)."""
        with self.lock:
            return [(r["headers"]["webhook-id"], json.loads(r["body"])) for r in self.received if r["status"] < 300]

    def wait_for(self, count, seconds=5.0):
        end = time.monotonic() + seconds
        while time.monotonic() < end and len(self.delivered()) < count:
            time.sleep(0.02)
        return self.delivered()

    def messages(self):
        """Every message answered with 2xx, as (webhook-id, path, payload), in arrival order."""
        with self.lock:
            return [(r["headers"]["webhook-id"], r["path"], json.loads(r["body"]))
                    for r in self.received if r["status"] < 300]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# --- the command and the access log, pointed at a test database --------------------------------

def point_cli_at(monkeypatch, cfg, secret):
    """Point the CLI at `cfg`'s database through the environment, as a user would."""
    d = cfg.database
    for key, value in {"BACKEND": d.backend, "PATH": d.path, "HOST": d.host, "PORT": str(d.port),
                       "USER": d.user, "PASSWORD": d.password, "NAME": d.name, "DRIVER": d.driver}.items():
        monkeypatch.setenv(f"ITFLOW_API_DATABASE_{key}", value)
    monkeypatch.setenv("ITFLOW_API_SECURITY_KEY_HASH_SECRET", secret)
    monkeypatch.delenv("ITFLOW_API_CONFIG", raising=False)


@contextlib.contextmanager
def access_log_at(config, db, keys, path):
    """An app whose access log goes to `path`; afterwards the log goes back where the
    session's config sends it."""
    from itflow_api.lib.web.app import create_app
    before = config.log.access_log
    config.log.access_log = str(path)
    try:
        yield create_app(config, db, keys)
    finally:
        config.log.access_log = before
        create_app(config, db, keys)


def create_newest_schema(db):
    """What db.create_schema() does, in the newest ITFlow layout (keys act as users), with its
    seed rows; safe to run again on a database that has them."""
    with db.transaction(write=True):
        for statement in schema.create_statements(db.dialect, schema.LAYOUT_USER_KEYS, schema.NEWEST_VERSION):
            db.execute(statement)
    with db.transaction(write=True):
        for table, key, row in schema.seed_rows(schema.NEWEST_VERSION):
            if not db.count(table, {key: row[key]}):
                db.insert(table, row)


# --- side by side with ITFlow's own pages (tests/itflow_recorded) -------------------------------

SEED_TABLES = ("user_roles", "users", "clients", "slas", "tickets", "sla_history")


def recorded(name):
    """A recording of ITFlow's own pages (tests/itflow_recorded/<name>)."""
    with open(Path(__file__).parent / "itflow_recorded" / name, encoding="utf-8") as handle:
        return json.load(handle)


def page_twin(cfg, db, seed, secret, ids_from_one=(), tables=SEED_TABLES):
    """A newest-layout database emptied and given a page recording's seed (its settings, if
    any, and the rows of `tables`, in that order; None: every table of the seed), and a key
    acting as agent user 1, whom the recorder signed in as. `ids_from_one`: tables whose ids
    start again at 1, when the replay names rows by the ids the page gave them. Returns
    {"db", "api", "key", "keys"}."""
    from itflow_api.lib.access.keys import KeyStore
    from itflow_api.lib.web.app import create_app
    with db.transaction(write=True):
        for table in schema.tables(schema.NEWEST_VERSION):
            db.execute(f"DELETE FROM {table}")
    with db.transaction(write=True):
        for table in ids_from_one:
            if db.dialect == "mysql":
                db.execute(f"ALTER TABLE {table} AUTO_INCREMENT = 1")
            else:
                db.execute("DELETE FROM sqlite_sequence WHERE name = :table", {"table": table})
    create_newest_schema(db)
    with db.transaction(write=True):
        if seed.get("settings"):  # a recording that seeded none keeps the layout's own
            db.update("settings", seed["settings"], {"company_id": 1})
        for table in (tables if tables is not None else [t for t in seed if t != "settings"]):
            ours = set(db.columns_of(table))
            for row in seed.get(table, []):
                db.insert(table, {k: v for k, v in row.items() if k in ours})
    keys = KeyStore(db, secret)
    expire = (date.today() + timedelta(days=10)).isoformat()
    return {"db": db, "api": Api(create_app(cfg, db, keys)), "key": keys.create("page twin", expire, 1)[0],
            "keys": keys}


def ordered_rows(db, table, order):
    with db.transaction():
        return db.rows(f"SELECT * FROM {table} ORDER BY {order}")



def assert_same_rows(db, theirs, compared, skip=()):
    """Every row of each table in `compared` ({table: order column}) as the recording has it:
    the same number, the same columns in the same order, the same values (`skip` aside)."""
    for table, order in compared.items():
        ours = ordered_rows(db, table, order)
        assert len(ours) == len(theirs[table]), (table, ours)
        for our_row, their_row in zip(ours, theirs[table], strict=True):
            assert list(our_row) == list(their_row), table  # same columns, same order
            for column, expected in their_row.items():
                if column not in skip:
                    assert our_row[column] == expected, (table, column, our_row, their_row)


def assert_same_log_rows(db, theirs, logged):
    """The page's logs rows, said of the same whom and what (the `logged` columns), each
    followed by the API's Success row. Returns our rows that are not the API's."""
    everything = ordered_rows(db, "logs", "log_id")
    ours = [r for r in everything if r["log_type"] != "API"]
    assert [tuple(r[c] for c in logged) for r in ours] == [tuple(r[c] for c in logged) for r in theirs]
    assert len(everything) == 2 * len(ours)  # and the API's Success row after each
    return ours
