"""Real ITFlow clients against a live server (waitress on a loopback port, its own fresh
database), sending requests exactly the way those clients send them:

- PowerShell `Invoke-RestMethod`: a `ConvertTo-Json` body string, which Invoke-RestMethod
  labels `application/x-www-form-urlencoded`; every value a string, "" for unset ids; any
  non-2xx answer is an exception that ends the script.
- Python `requests` with `json=` and `raise_for_status()`.
- curl: the key in the query string, `-d '<json>'` with no content type (curl labels it
  form-encoded), `--fail` (an exit code on >= 400).

For every module's create, update, delete and read the cases recorded from the real ITFlow
2.4.6 (itflow_recorded/itflow-2.4.6.json) are replayed through each client: no answer may be
non-2xx where ITFlow answered 200, and the stored rows must equal ITFlow's (with the
deliberate differences test_itflow_parity.py lists). Then two scripts end to end: an RMM
asset sync and ITFlow's PowerShell examples.
"""
import json
import urllib.error
import urllib.parse
import urllib.request

import pytest
import requests
from helpers import SECRET, fetch, fresh_config, serving
from test_itflow_parity import (
    CASES,
    DECRYPT_PASSWORD,
    Same,
    expectation,
    fill,
    insert_id,
    seed_and_keys,
    text,
    touches_credentials,
)

from itflow_api.lib.access.keys import KeyStore
from itflow_api.lib.db.database import Database
from itflow_api.lib.itflow import schema
from itflow_api.lib.web.app import create_app


class ClientError(Exception):
    """What the client itself raises on a non-2xx answer (the script stops here)."""


# ------------------------------------------------------------------ the live server

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Our server over HTTP on a fresh database of its own."""
    with fresh_config(tmp_path_factory.mktemp("live")) as cfg:
        db = Database.from_config(cfg.database)
        db.create_schema()
        keys = KeyStore(db, SECRET.encode())
        try:
            with serving(create_app(cfg, db, keys)) as base:
                yield base, db, keys
        finally:
            db.close()


class Site:
    """The live server emptied back to its seed rows, with the recorded seed and two keys."""

    def __init__(self, base, db, keys, credentials=True):
        self.base, self.db = base, db
        with db.transaction(write=True):
            for table in schema.tables():
                db.execute(f"DELETE FROM {table}")
        db.create_schema()
        self.keys, self.master_key = seed_and_keys(db, keys, credentials)

    def url(self, path):
        return f"{self.base}/api/v1/{path}.php"

    def read(self, spec, ids):
        return [{k: text(v) for k, v in row.items()} for row in fetch(self.db, spec["table"], **fill(spec["where"], ids))]


@pytest.fixture
def site(server, request):
    """A fresh site; keys that can decrypt only for tests that touch credentials."""
    params = getattr(request.node, "callspec", None)
    params = params.params if params else {}
    credentials = ("case" in params and touches_credentials(params["case"])) or \
        params.get("module", "credentials") == "credentials"
    return Site(*server, credentials=credentials)


# ------------------------------------------------------------------ the three clients

def powershell(site, method, path, key, body=None, query=None):
    """Invoke-RestMethod -Method <m> -Uri <url> -Body ($body | ConvertTo-Json): values are the
    strings the script built, the JSON is ConvertTo-Json's indented text, the content type the
    form one Invoke-RestMethod puts on a string body; a non-2xx status throws."""
    if method == "GET":
        params = {**{k: ps_string(v) for k, v in (query or {}).items()}, "api_key": key}
        request = urllib.request.Request(f"{site.url(path)}?{urllib.parse.urlencode(params)}", method="GET")
    else:
        payload = {"api_key": key, **{k: ps_string(v) for k, v in (body or {}).items()}}
        request = urllib.request.Request(site.url(path), method="POST",
                                         data=json.dumps(payload, indent=4).replace("\n", "\r\n").encode("utf-8"),
                                         headers={"Content-Type": "application/x-www-form-urlencoded",
                                                  "User-Agent": "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) "
                                                                "WindowsPowerShell/5.1.19041.4648"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        raise ClientError(f"Invoke-RestMethod : The remote server returned an error: ({error.code}) "
                          f"{error.read().decode('utf-8', 'replace')}") from None


def ps_string(value):
    """How a PowerShell script's hashtable values come out: strings; an unset id is ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def python_requests(site, method, path, key, body=None, query=None):
    if method == "GET":
        answer = requests.get(site.url(path), params={**(query or {}), "api_key": key}, timeout=30)
    else:
        answer = requests.post(site.url(path), json={"api_key": key, **(body or {})}, timeout=30)
    try:
        answer.raise_for_status()
    except requests.HTTPError as error:
        raise ClientError(f"{error}: {answer.text}") from None
    return answer.status_code, answer.json()


def curl(site, method, path, key, body=None, query=None):
    """curl --fail "<url>?api_key=<key>" [-d '<json>']: `-d` without -H labels the body
    application/x-www-form-urlencoded."""
    params = {"api_key": key, **(query or {})}
    url = f"{site.url(path)}?{urllib.parse.urlencode(params)}"
    data = None if method == "GET" else json.dumps(body or {}).encode("utf-8")
    headers = {"User-Agent": "curl/7.88.1", "Accept": "*/*"}
    if data is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        raise ClientError(f"curl: (22) The requested URL returned error: {error.code}") from None


CLIENTS = {"powershell": powershell, "requests": python_requests, "curl": curl}


# ------------------------------------------------------------------ recorded cases, each client

def client_cases():
    """Per module its recorded create, update, delete and read cases (what 2.4.6 has), plus the
    edge values real clients send. PowerShell sends strings, so its cases carry no booleans."""
    wanted = []
    for case in CASES:
        name = case["name"]
        kind = name.split(".", 1)[1]
        if kind in ("create.minimal", "create.full", "create.int.empty_string", "update.change_one",
                    "update.change_nothing_twice", "delete.ok", "read.by_id", "read.by_name", "read.no_such_record",
                    "update.no_such_record", "create.missing_required") \
                or name in ("assets.create.powershell_example", "assets.create.date.slashes",
                            "assets.create.date.zero_date", "assets.create.date.compact", "assets.create.date.impossible",
                            "assets.update.powershell_rmm_unchanged_twice", "assets.update.only_ip_after_update",
                            "clients.update.scoped_key_own_client", "contacts.create.duplicate_email",
                            "contacts.update.duplicate_email", "assets.create.int.abc", "assets.create.text.too_long"):
            wanted.append(case)
    return [(client, case) for case in wanted for client in CLIENTS]


@pytest.mark.parametrize("client,case", client_cases(), ids=[f"{c}-{k['name']}" for c, k in client_cases()])
def test_recorded_case_through_a_real_client(client, case, site):
    send = CLIENTS[client]
    ids, pairs, before = [], set(), None
    for n, step in enumerate(case["steps"]):
        if n == len(case["steps"]) - 1:
            before = [site.read(spec, ids) for spec in case["reads"]]
        body, query = fill(step.get("body"), ids), fill(step.get("query"), ids)
        if step["path"].startswith("credentials/"):
            if step["method"] == "GET":
                query = {**query, "api_key_decrypt_password": DECRYPT_PASSWORD}
            elif not body.pop("__no_decrypt__", False):
                body = {"api_key_decrypt_password": DECRYPT_PASSWORD, **body}
        # A client error here is the failure: ITFlow answered 200 (or its 500 is a deliberate 200 here).
        status, answer = send(site, step["method"], step["path"], site.keys[step["key"]], body=body, query=query)
        ids.append(insert_id(answer))
        if case["insert_ids"][n] is not None and ids[-1] is not None:
            pairs.add((str(case["insert_ids"][n]), str(ids[-1])))
    final = fill(case["steps"][-1].get("body") or case["steps"][-1].get("query") or {}, ids)
    expect = expectation(case, before, final)
    assert (status, answer.get("success")) == (expect["answer"]["status"], expect["answer"].get("success")), answer
    if expect["answer"].get("success") == "True" and "count" in expect["answer"]:
        assert answer["count"] == expect["answer"]["count"], answer
    same = Same(site, pairs)
    problems = []
    for spec, theirs in zip(case["reads"], expect["stored"], strict=True):
        problems += same.rows(f"{spec['table']} {spec['where']}", theirs, site.read(spec, ids))
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------ scripts end to end

def test_rmm_asset_sync_script(site):
    """A widely copied RMM-to-ITFlow sync, per machine: look the asset up by serial; create it
    when missing (vendor id "", dates yyyy/MM/dd, the zero date for an unknown install date);
    otherwise update it and print "No changes to update" when ITFlow answers "False". As in
    ITFlow, the first identical re-check-in after the create answers "True" (the update model
    writes the NULL asset_uri_2 back as ''), the next ones "False"."""
    key = site.keys["all"]
    machine = {"asset_name": "WS-042", "asset_serial": "5CG1234XYZ", "asset_type": "Desktop", "asset_make": "HP",
               "asset_model": "EliteDesk 800", "asset_os": "Windows 11 Pro", "asset_ip": "10.1.2.42",
               "asset_mac": "AA-BB-CC-DD-EE-42", "asset_purchase_date": "2023/03/15",
               "asset_warranty_expire": "2026/03/15", "asset_install_date": "0000-00-00", "asset_vendor_id": "",
               "asset_location_id": "", "asset_contact_id": "", "client_id": "1"}
    log = []

    def sync():
        _, found = powershell(site, "GET", "assets/read", key, query={"asset_serial": machine["asset_serial"]})
        if found["success"] == "False":
            _, created = powershell(site, "POST", "assets/create", key, body=machine)
            log.append(f"Created {created['data'][0]['insert_id']}" if created["success"] == "True" else "Create failed")
            return
        asset_id = found["data"][0]["asset_id"]
        _, updated = powershell(site, "POST", "assets/update", key, body={"asset_id": asset_id, **machine})
        log.append("Updated" if updated["success"] == "True" else "No changes to update")

    sync()
    sync()  # the machine as it was: ITFlow's model still turns NULL into '', "True"
    sync()  # now the script's "nothing changed" branch
    machine["asset_os"] = "Windows 11 Pro 24H2"
    sync()
    assert log[0].startswith("Created") and log[1:] == ["Updated", "No changes to update", "Updated"], log
    asset = fetch(site.db, "assets", asset_serial="5CG1234XYZ")
    assert len(asset) == 1
    asset = asset[0]
    # What ITFlow 2.4.6 stores for these values (recorded: assets.create.date.slashes/zero_date/int.empty_string).
    assert (asset["asset_purchase_date"], asset["asset_warranty_expire"], asset["asset_install_date"]) == \
        ("2023-03-15", "2026-03-15", "0000-00-00")
    assert (text(asset["asset_vendor_id"]), text(asset["asset_location_id"]), text(asset["asset_contact_id"])) == \
        ("0", "0", "0")
    assert asset["asset_os"] == "Windows 11 Pro 24H2" and text(asset["asset_client_id"]) == "1"
    interfaces = fetch(site.db, "asset_interfaces", interface_asset_id=asset["asset_id"])
    assert [(i["interface_ip"], i["interface_mac"], text(i["interface_primary"])) for i in interfaces] == \
        [("10.1.2.42", "AA-BB-CC-DD-EE-42", "1")]


def test_powershell_examples(site):
    """ITFlow's PowerShell examples: a client-scoped key creates a contact, an asset with the
    zero dates and empty ids, a ticket; reads them back; updates its own client without
    sending client_id. Every answer is 200 (Invoke-RestMethod would throw otherwise)."""
    key = site.keys["scoped"]
    _, contact = powershell(site, "POST", "contacts/create", key, body={
        "contact_name": "Pat Doe", "contact_email": "pat@example.com", "contact_phone": "(555) 010-1000",
        "contact_primary": "1", "contact_location_id": ""})
    assert contact["success"] == "True" and contact["count"] == "1"
    _, asset = powershell(site, "POST", "assets/create", key, body={
        "asset_name": "PAT-LAPTOP", "asset_type": "Laptop", "asset_purchase_date": "0000-00-00",
        "asset_warranty_expire": "0000-00-00", "asset_install_date": "0000-00-00",
        "asset_vendor_id": "", "asset_location_id": "", "asset_contact_id": str(contact["data"][0]["insert_id"])})
    assert asset["success"] == "True"
    _, ticket = powershell(site, "POST", "tickets/create", key, body={
        "ticket_subject": "New laptop", "ticket_details": "Set up PAT-LAPTOP", "ticket_priority": "Medium",
        "ticket_contact_id": "", "ticket_asset_id": str(asset["data"][0]["insert_id"])})
    assert ticket["success"] == "True"
    _, read = powershell(site, "GET", "tickets/read", key, query={"ticket_id": ticket["data"][0]["insert_id"]})
    row = read["data"][0]
    assert (row["ticket_prefix"], row["ticket_number"], row["ticket_status"], row["ticket_source"]) == \
        ("TCK-", "1", "1", "API")
    assert row["ticket_contact_id"] == str(contact["data"][0]["insert_id"])  # the client's primary contact
    assert row["ticket_details"] == "Set up PAT-LAPTOP<br>" and row["ticket_vendor_ticket_number"] == "0"
    _, stored = powershell(site, "GET", "assets/read", key, query={"asset_id": asset["data"][0]["insert_id"]})
    assert [stored["data"][0][c] for c in ("asset_purchase_date", "asset_warranty_expire", "asset_install_date",
                                           "asset_vendor_id", "asset_uri_2", "asset_photo")] == \
        ["0000-00-00", "0000-00-00", "0000-00-00", "0", None, None]
    _, renamed = powershell(site, "POST", "clients/update", key, body={"client_name": "Alpha GmbH",
                                                                       "client_is_lead": "0"})
    assert renamed == {"success": "True", "count": 1}
    assert fetch(site.db, "clients", client_id=1)[0]["client_name"] == "Alpha GmbH"
    _, again = powershell(site, "POST", "clients/update", key, body={"client_name": "Alpha GmbH",
                                                                     "client_is_lead": "0"})
    assert again["success"] == "False"  # nothing changed, still HTTP 200


@pytest.mark.parametrize("client", list(CLIENTS))
def test_refusals_never_raise_in_the_client(client, site):
    """After a key is accepted every refusal is HTTP 200 (section 4): a missing field, a value
    MariaDB would refuse, a record that does not exist, another client's record."""
    send = CLIENTS[client]
    key = site.keys["all"]
    for path, body in [("assets/create", {"client_id": "1"}),
                       ("assets/create", {"client_id": "1", "asset_name": "X", "asset_purchase_date": "2024-13-45"}),
                       ("assets/create", {"client_id": "1", "asset_name": "X", "asset_vendor_id": "99999999999999999999"}),
                       ("assets/update", {"client_id": "1", "asset_id": "9999", "asset_name": "X"}),
                       ("contacts/delete", {"client_id": "2", "contact_id": "9999"}),
                       ("clients/update", {"client_id": "9999", "client_name": "X", "client_is_lead": "0"})]:
        status, answer = send(site, "POST", path, key, body=body)
        assert status == 200 and answer["success"] == "False" and answer["message"], (path, body, answer)
    status, answer = send(site, "GET", "assets/read", key, query={"asset_id": "9999"})
    assert status == 200 and answer["success"] == "False"
    with pytest.raises(ClientError):  # a bad key stays 401, as on ITFlow
        send(site, "GET", "assets/read", "not-a-key")


# ------------------------------------------------------------------ every module, every write

# module: (create body as a script builds it, the field an update changes, the look-up param)
ROUND_TRIP = {
    "clients": ({"client_name": "Round Trip Ltd", "client_net_terms": "", "client_rate": ""}, "client_name", "client_name"),
    "contacts": ({"client_id": "1", "contact_name": "Kim", "contact_email": "kim@example.com",
                  "contact_location_id": "", "contact_primary": "0"}, "contact_title", "contact_id"),
    "assets": ({"client_id": "1", "asset_name": "RT-PC", "asset_purchase_date": "2024/06/12",
                "asset_install_date": "0000-00-00", "asset_vendor_id": "", "asset_ip": ""}, "asset_notes", "asset_id"),
    "certificates": ({"client_id": "1", "certificate_name": "RT cert", "certificate_domain": "rt.example.com",
                      "certificate_expire": "2026/01/31", "certificate_domain_id": ""}, "certificate_notes",
                     "certificate_id"),
    "credentials": ({"client_id": "1", "credential_name": "RT login", "credential_username": "admin",
                     "credential_password": "pw", "credential_contact_id": "", "credential_asset_id": ""},
                    "credential_note", "credential_id"),
    "documents": ({"client_id": "1", "document_name": "RT doc", "document_content": "<p>x</p>",
                   "document_folder_id": ""}, "document_description", "document_id"),
    "domains": ({"client_id": "1", "domain_name": "rt.example.org", "domain_expire": "2027/05/01",
                 "domain_registrar": ""}, "domain_notes", "domain_id"),
    "locations": ({"client_id": "1", "location_name": "RT office", "location_primary": ""}, "location_notes",
                  "location_id"),
    "networks": ({"client_id": "1", "network_name": "RT LAN", "network": "10.20.0.0/24", "network_vlan": "",
                  "network_location_id": ""}, "network_notes", "network_id"),
    "software": ({"client_id": "1", "software_name": "RT Office", "software_expire": "2026/12/31",
                  "software_seats": "", "software_vendor_id": ""}, "software_notes", "software_id"),
    "tickets": ({"client_id": "1", "ticket_subject": "RT ticket", "ticket_contact_id": "", "ticket_asset_id": "",
                 "ticket_vendor_id": ""}, "ticket_subject", "ticket_id"),
    "vendors": ({"client_id": "1", "vendor_name": "RT Vendor"}, "vendor_notes", "vendor_id"),
}


@pytest.mark.parametrize("module", list(ROUND_TRIP))
@pytest.mark.parametrize("client", list(CLIENTS))
def test_every_module_create_read_update_delete(client, module, site):
    """Each module's create, read, update (a change, then the same again), delete and the
    read after it, through the client as a script would run them: nothing raises (every
    answer 2xx), each answer says what happened, and the stored row follows."""
    send = CLIENTS[client]
    key = site.keys["all"]
    body, field, lookup = ROUND_TRIP[module]
    extra = {"api_key_decrypt_password": DECRYPT_PASSWORD} if module == "credentials" else {}
    id_param = "client_id" if module == "clients" else lookup
    table = module
    _, created = send(site, "POST", f"{module}/create", key, body={**body, **extra})
    assert created["success"] == "True" and created["count"] == "1", created
    record_id = created["data"][0]["insert_id"]
    query = {lookup: body[lookup] if lookup == "client_name" else record_id, **extra}
    _, found = send(site, "GET", f"{module}/read", key, query=query)
    assert found["success"] == "True" and found["count"] == 1, found
    assert found["data"][0][id_param] == str(record_id)
    change = {id_param: str(record_id), field: "Changed by script", **extra}
    if "client_id" in body and module != "clients":
        change["client_id"] = "1"
    if module == "clients":
        change["client_is_lead"] = "0"
    _, updated = send(site, "POST", f"{module}/update", key, body=change)
    assert updated == {"success": "True", "count": 1}, updated
    stored = fetch(site.db, table, **{id_param: record_id})
    assert stored and stored[0][field] == "Changed by script"
    _, again = send(site, "POST", f"{module}/update", key, body=change)
    if module == "documents":  # ITFlow's document update answers 1 whether or not anything changed
        assert again == {"success": "True", "count": 1}, again
    else:
        assert again["success"] == "False" and again["message"], again  # nothing changed: 200 + "False"
    _, deleted = send(site, "POST", f"{module}/delete", key,
                      body={id_param: str(record_id), **({"client_id": "1"} if "client_id" in body else {}), **extra})
    assert deleted == {"success": "True", "count": 1}, deleted
    assert fetch(site.db, table, **{id_param: record_id}) == []
    _, gone = send(site, "GET", f"{module}/read", key, query=query)
    assert gone["success"] == "False", gone


# Section 5 (*web* rows): the columns these creates write; every other column keeps its
# declared default (NULL for most), as ITFlow's own web form handlers leave them.
WEB_CREATE_COLUMNS = {
    "domains": "domain_name domain_description domain_registrar domain_webhost domain_dnshost domain_mailhost "
               "domain_expire domain_ip domain_name_servers domain_mail_servers domain_txt domain_raw_whois "
               "domain_notes domain_client_id",
    "networks": "network_name network_description network_vlan network network_subnet network_gateway "
                "network_primary_dns network_secondary_dns network_dhcp_range network_notes network_location_id "
                "network_client_id",
    "software": "software_name software_version software_description software_type software_key "
                "software_license_type software_seats software_purchase_reference software_purchase "
                "software_expire software_notes software_vendor_id software_client_id",
    "vendors": "vendor_name vendor_description vendor_contact_name vendor_phone_country_code vendor_phone "
               "vendor_extension vendor_email vendor_website vendor_hours vendor_sla vendor_code "
               "vendor_account_number vendor_notes vendor_client_id",
}


@pytest.mark.parametrize("module", list(WEB_CREATE_COLUMNS))
def test_web_creates_leave_other_columns_to_their_defaults(module, site):
    body, _, _ = ROUND_TRIP[module]
    _, created = python_requests(site, "POST", f"{module}/create", site.keys["all"], body=body)
    row = fetch(site.db, module, **{f"{module.rstrip('s') if module != 'software' else 'software'}_id":
                                    created["data"][0]["insert_id"]})[0]
    written = set(WEB_CREATE_COLUMNS[module].split())
    wrong = {}
    for column in schema.tables()[module]:
        if column.name in written or column.auto_increment or column.name.endswith(("_created_at", "_updated_at")):
            continue
        if text(row[column.name]) != (None if column.default is None else _default_text(column)):
            wrong[column.name] = (row[column.name], column.default)
    assert not wrong, wrong


def _default_text(column):
    """A declared default as the database hands it back (decimals with their scale)."""
    if column.scale is not None:
        return f"{float(column.default):.{column.scale}f}"
    return str(column.default)
