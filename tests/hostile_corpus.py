"""What the hostile tests share: the endpoint table, a seeded world of records for two clients,
table checksums, the envelope check, and the building blocks of hostile input.

Used by tests/test_hostile.py (generated input at every endpoint) and
tests/test_scope_hostile.py (one client's key against another client's records).
"""
import json
import os
from urllib.parse import quote_from_bytes

from itflow_api.lib.core import routing
from itflow_api.lib.itflow import schema

DECRYPT = "hostile-decrypt-pw-1"
ROUTES = routing.discover()


def endpoint_table():
    """[(path, module name, function, method, Module or None)] for every endpoint."""
    found = []
    for path, endpoint in ROUTES.items():
        module_name, function = path.split("/")[3], path.split("/")[4][:-len(".php")]
        found.append((path, module_name, function, endpoint.method, getattr(endpoint, "module", None)))
    return found


def module_of(name):
    for _path, module_name, _function, _method, module in endpoint_table():
        if module_name == name and module is not None:
            return module
    return None


def functions_of(name):
    return [function for _, module_name, function, _, _ in endpoint_table() if module_name == name]


# --- a valid body per create, so that hostile fields reach the write path --------------

def create_body(module_name, client_id, n=0, refs=None):
    """A body that creates a record of `module_name` for `client_id` (refs: {module: id} of
    records the new one may need, such as the invoice of an item or the ticket of a reply)."""
    refs = refs or {}
    tag = f"{module_name}-{client_id}-{n}"
    bodies = {
        "clients": {"client_name": f"Client {tag}"},
        "assets": {"asset_name": f"pc {tag}"},
        "certificates": {"certificate_name": f"cert {tag}", "certificate_domain": f"{n}.example.com"},
        "contacts": {"contact_name": f"contact {tag}", "contact_email": f"c{n}-{client_id}@example.com"},
        "credentials": {"credential_name": f"cred {tag}", "credential_username": f"user{n}",
                        "credential_password": f"secret-{tag}"},
        "documents": {"document_name": f"doc {tag}", "document_content": f"<p>{tag}</p>"},
        "document_folders": {"folder_name": f"folder {tag}"},
        "domains": {"domain_name": f"d{n}-{client_id}.example.com"},
        "locations": {"location_name": f"loc {tag}"},
        "networks": {"network_name": f"net {tag}", "network": "10.0.0.0/24"},
        "software": {"software_name": f"sw {tag}"},
        "tickets": {"ticket_subject": f"ticket {tag}"},
        "vendors": {"vendor_name": f"vendor {tag}"},
        "invoices": {"invoice_scope": f"invoice {tag}", "items": [{"name": f"line {tag}", "qty": 1, "price": 3}]},
        "quotes": {"quote_scope": f"quote {tag}", "items": [{"name": f"line {tag}", "qty": 1, "price": 3}]},
        "invoice_items": {"invoice_id": refs.get("invoices", 0), "name": f"item {tag}", "qty": 1, "price": 2},
        "ticket_replies": {"ticket_id": refs.get("tickets", 0), "ticket_reply": f"reply {tag}"},
        "products": {"product_name": f"product {tag}", "product_price": "1.50"},
        "recurring_invoices": {"recurring_invoice_frequency": "month", "recurring_invoice_next_date": "2027-01-01",
                               "recurring_invoice_scope": f"recurring {tag}"},
        "recurring_invoice_items": {"recurring_invoice_id": refs.get("recurring_invoices", 1), "item_name": f"item {tag}",
                                    "item_quantity": 1, "item_price": 2},
        "recurring_tickets": {"recurring_ticket_subject": f"recurring {tag}", "recurring_ticket_frequency": "Weekly",
                              "recurring_ticket_start_date": "2027-01-04"},
        "expenses": {"expense_date": "2024-01-31", "expense_amount": "10.00", "expense_description": f"exp {tag}"},
        "payments": {"invoice_id": refs.get("invoices", 0), "payment_amount": "0.01",
                     "payment_account_id": refs.get("accounts", 0), "payment_reference": f"ref {tag}"},
    }
    body = dict(bodies[module_name])
    if module_name not in ("clients", "invoice_items", "ticket_replies", "payments", "products",
                           "recurring_invoice_items"):
        body["client_id"] = client_id
    return body


# Modules created through the API for each client, in dependency order.
CREATED = ["vendors", "locations", "contacts", "networks", "assets", "domains", "certificates",
           "software", "documents", "credentials", "tickets", "ticket_replies", "invoice_items", "payments", "products"]
# Read-only modules, seeded straight into their tables.
def _direct_rows(client_id, n):
    return {
        "invoices": {"invoice_prefix": "INV-", "invoice_number": 100 + n, "invoice_status": "Sent",
                     "invoice_date": "2024-01-31", "invoice_due": "2024-02-29", "invoice_currency_code": "USD",
                     "invoice_category_id": 0, "invoice_client_id": client_id},
        "quotes": {"quote_prefix": "QUO-", "quote_number": 100 + n, "quote_status": "Draft",
                   "quote_date": "2024-01-31", "quote_currency_code": "USD", "quote_category_id": 0,
                   "quote_client_id": client_id},
        "expenses": {"expense_description": f"Cables {client_id}", "expense_amount": "10.00",
                     "expense_currency_code": "USD", "expense_date": "2024-01-31", "expense_client_id": client_id},
        "accounts": {"account_name": f"Account {client_id}", "account_currency_code": "USD"},  # payments go to one
    }


class World:
    """Two clients (and client 0's shared records), each with one record of every module,
    made through the API so that every row is what the server itself writes."""

    def __init__(self, db, api, key, decrypt=DECRYPT):
        self.db, self.api, self.key, self.decrypt = db, api, key, decrypt
        self.records = {}  # {client_id: {module: record id}}

    def post(self, path, body, key=None):
        body = {**body, "api_key": key or self.key, "api_key_decrypt_password": self.decrypt}
        return self.api.post(path, body)

    def seed_client(self, client_id, n=0):
        mine = self.records.setdefault(client_id, {})
        with self.db.transaction(write=True):
            for table, row in _direct_rows(client_id, n).items():
                mine[table] = self.db.insert(table, row)
        for module_name in CREATED:
            body = create_body(module_name, client_id, n, refs=mine)
            status, answer = self.post(f"{module_name}/create", body)
            assert answer["success"] == "True", (module_name, body, answer)
            mine[module_name] = int(answer["data"][0]["insert_id"])
        mine["time_entries"] = mine["ticket_replies"]  # time entries are replies: update and delete take any
        return mine

    def add_client(self, name):
        status, answer = self.post("clients/create", {"client_name": name})
        assert answer["success"] == "True", answer
        client_id = int(answer["data"][0]["insert_id"])
        self.records.setdefault(client_id, {})["clients"] = client_id
        return client_id


def no_rate_limits(cfg):
    """Thousands of requests with one key from one address, wrong keys among them: the rate
    limits (tested on their own) would answer 429 long before the input is tried."""
    if hasattr(cfg, "limits"):
        cfg.limits.enabled = False
    return cfg


# --- the database, as one value ----------------------------------------------------------

FAILED_AUTH = "log_type = 'API' AND log_action = 'Failed'"


def snapshot(db):
    """Every table of the layout, as a value to compare before and after a request. A failed
    authentication's own `logs` row (contract section 3) is left out: that row is the one write
    a refused request is meant to leave. On MySQL, CHECKSUM TABLE gives one number per table in
    one round trip (a tenth of the time of reading every row); SQLite reads the rows."""
    tables = [t for t in schema.tables() if t != "logs"]
    with db.transaction():
        if db.dialect == "mysql":
            found = {r["Table"].split(".")[-1]: r["Checksum"] for r in db.rows("CHECKSUM TABLE " + ", ".join(tables))}
        else:
            found = {t: db.rows(f"SELECT * FROM {t} ORDER BY 1") for t in tables}
        found["logs"] = db.rows(f"SELECT * FROM logs WHERE NOT ({FAILED_AUTH}) ORDER BY 1")
    return found


def changed_tables(before, after):
    return sorted(t for t in before if before[t] != after.get(t))


# --- answers ------------------------------------------------------------------------------

def problems_of(result):
    """What is wrong with one answer by the contract's section 4: [] when nothing."""
    found = []
    if result.status_code >= 500:
        found.append(f"HTTP {result.status_code}")
    content_type = result.headers.get("content-type", "")
    if not content_type.startswith("application/json"):
        found.append(f"Content-Type {content_type!r}")
    try:
        body = json.loads(result.text)
    except ValueError:
        return found + [f"body is not JSON: {result.text[:200]!r}"]
    if not isinstance(body, dict) or body.get("success") not in ("True", "False"):
        return found + [f"not the envelope: {result.text[:200]!r}"]
    if body["success"] == "False" and not (body.get("message") and body.get("count") == 0
                                           and body.get("data") == []):
        found.append(f"failure envelope without message/count 0/data []: {result.text[:200]!r}")
    return found


def envelope_of(result):
    try:
        body = json.loads(result.text)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


# --- hostile values -----------------------------------------------------------------------

BIG = [2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 + 1, 2 ** 63 - 1, 2 ** 63, 2 ** 64, 2 ** 64 + 1, 10 ** 30,
       -1, -2 ** 31 - 1, -2 ** 63, -2 ** 63 - 1, -10 ** 30]
STRINGS = [
    "", " ", " 12", "12abc", "0x1A", "1e3", "-0", "+5", "٣", "NaN", "Infinity", "-Infinity", "null", "true",
    "' OR '1'='1", "1; DROP TABLE clients; --", "\" OR 1=1 --", "%", "_", "%_%", "\\", "\\'", "`",
    "0' UNION SELECT * FROM api_keys --",
    "\x00", "a\x00b", "\r\n", "\t", "\x0b", "\x1b[31m", "<script>alert(1)</script>", "<b>x</b>", "&amp;",
    "\ud800", "\udfff", "a\udc00b", "\ud83d\ude00", "😀" * 3, "\u202e", "\ufeff", "\u0301", "Ω≈ç√", "\U0010ffff",
    "ｆｕｌｌｗｉｄｔｈ", "İ", "ß", "0000-00-00", "2024-13-45", "9999-12-31 23:59:59", "1970-01-01",
    "a" * 256, "a" * 1001, "é" * 300, "9" * 40, "1" * 400, "😀" * 200,
]
FLOATS = [0.5, -0.5, 1e308, -1e308, 1e-320, 5e-324, 1.7976931348623157e308, 1e16, 123456789.123456789]
SCALARS = BIG + STRINGS + FLOATS + [0, 1, True, False, None]
# JSON text that json.dumps cannot produce, spliced in raw: non-finite tokens, numbers past
# double range, escapes of lone surrogates, deep nesting.
RAW_TOKENS = [
    "NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1E+999", "123456789012345678901234567890123",
    "-0", "0.0000000000000000000000000000001", '"\\ud800"', '"\\udfff"', '"x\\udbff"', '"\\u0000"',
    '"\\ud83d\\ude00"', "[" * 5000 + "]" * 5000, '{"a":' * 5000 + "1" + "}" * 5000,
    "[" * 100 + "1" + "]" * 100, '"' + "x" * 70000 + '"',
]
RAW_MARK = "__hostile_raw_%d__"


def encode_body(body, raw_tokens=(), ascii_only=True):
    """JSON text of `body` with the RAW_MARK placeholders replaced by their raw tokens."""
    text = json.dumps(body, ensure_ascii=ascii_only, allow_nan=True)
    for i, token in enumerate(raw_tokens):
        text = text.replace(json.dumps(RAW_MARK % i), token, 1)
    return text.encode("utf-8", "surrogatepass")


def query_string(pairs):
    """A query string from (name, value) pairs, duplicates kept; text that is no valid UTF-8
    (lone surrogates) is sent as its surrogatepass bytes, percent-encoded as any client would."""
    def enc(value):
        return quote_from_bytes(str(value).encode("utf-8", "surrogatepass"), safe="")
    return "&".join(f"{enc(k)}={enc(v)}" for k, v in pairs)


# Raw bodies sent as they are, each under many Content-Types.
RAW_BODIES = [
    b"", b" ", b"\r\n", b"null", b"[]", b"[1,2]", b'"text"', b"12", b"true", b"{", b"}", b"{]", b"{'a':1}",
    b'{"a":1,}', b'{"a":1}{"b":2}', b"\xef\xbb\xbf{}", b"\xff\xfe{\x00}\x00", b"\x00\x00\x00",
    b"\xc3\x28", b"\xed\xa0\x80", b'{"asset_name":"\xed\xa0\x80"}', b'{"client_name":"\xff\xfe"}',
    b"a=1&b=2", b"api_key=&client_id=1&client_id=2", b"client_name=%ED%A0%80", b"client_name=%00",
    b"=&=&&", b"%", b"%zz", b'{"__proto__":{"x":1}}', b'{"":1}', b'{"a":1,"a":2}',
    ("[" * 5000 + "]" * 5000).encode(), ('{"a":' * 5000 + "1" + "}" * 5000).encode(),
    b'{"x":' + b"[" * 900 + b"]" * 900 + b"}",
]
CONTENT_TYPES = [
    None, "application/json", "application/json; charset=utf-8", "application/json; charset=latin-1",
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain", "text/xml",
    "application/octet-stream", "application/JSON", "application/json;;;", "*/*", "", "a" * 300,
    "application/json; charset=\u00e9", "application/x-www-form-urlencoded; charset=utf-16",
]
ODD_HEADERS = [
    ("Accept", "text/html"), ("Accept", "*/*;q=0"), ("Accept-Encoding", "gzip, br"),
    ("X-Forwarded-For", "1.2.3.4, 10.0.0.1"), ("X-Forwarded-For", "not-an-ip"), ("X-Forwarded-For", "," * 50),
    ("X-Real-IP", "::1"), ("User-Agent", "x" * 5000), ("User-Agent", "\u00e9\u00ff"), ("User-Agent", ""),
    ("Authorization", "Bearer"), ("Authorization", "Bearer "), ("Authorization", "Basic Zm9vOmJhcg=="),
    ("Authorization", "bearer " + "k" * 2000), ("X-API-KEY", ""), ("X-API-KEY", "k" * 5000),
    ("X-API-KEY", "' OR 1=1 --"), ("X-API-Decrypt-Password", ""), ("X-API-Decrypt-Password", "wrong"),
    ("X-API-Decrypt-Password", "\u00e9" * 100), ("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked"),
    ("Expect", "100-continue"), ("Host", "evil.example"), ("Origin", "https://evil.example"),
    ("X-HTTP-Method-Override", "DELETE"), ("Cookie", "a=b; " * 100), ("Range", "bytes=0-1"),
]


def examples(default):
    """Examples per property: ITFLOW_FUZZ_EXAMPLES, or `default` (the CI count)."""
    return int(os.environ.get("ITFLOW_FUZZ_EXAMPLES") or default)
