"""Record how a running ITFlow answers and what it stores, case by case.

    python tests/itflow_reference/record.py BASE_URL ALL_KEY \
        --scoped-key KEY --decrypt-password PW --master-key MK --db itflow_ref_246

BASE_URL is the site root (http://127.0.0.1:18246), ALL_KEY a clear-text all-clients key in
its api_keys table, --scoped-key one scoped to client 1; --decrypt-password and --master-key
let the credential cases run (the keys' api_key_decrypt_hash must hold that master key).
Every case starts from the same database: the tables below emptied (AUTO_INCREMENT back to 1)
and SEED written. A case is a list of steps (HTTP requests); "{0}", "{1}", ... in a step's
body or query, or in a read, stand for the insert_id of that earlier step. After the last
step the rows named in `reads` are read back with SELECT *.

Written to tests/itflow_recorded/itflow-2.4.6.json: per case the steps, every step's HTTP
status and JSON answer, the rows, and the logs rows the case wrote. Values that cannot
repeat are replaced by markers: datetimes the server set during the run -> "<now>",
ticket_url_key -> "<random:32>",
encrypted credential fields -> "<encrypted:clear text>" (decrypted with the master key).
This file records facts only; tests/test_itflow_parity.py replays them against our server.
"""
import argparse
import datetime
import json
import os
import re
import time

import pymysql
import pymysql.converters
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, os.pardir, "itflow_recorded", "itflow-2.4.6.json")

RESET_TABLES = ["clients", "contacts", "assets", "asset_interfaces", "asset_history", "certificates",
                "credentials", "documents", "document_versions", "locations", "tickets",
                "ticket_replies", "ticket_history", "logs", "vendors", "domains", "networks",
                "software", "folders"]

# The rows every case starts from (our side writes the same ones).
SEED = {
    # Both as ITFlow's own create writes a client (a NULL client_rate would make every
    # 2.4.6 client update a 500: its UPDATE writes `client_rate = ,`).
    "clients": [{"client_id": n, "client_name": name, "client_type": "", "client_website": "",
                 "client_referral": "", "client_rate": "0.00", "client_currency_code": "USD",
                 "client_net_terms": 30, "client_tax_id_number": "", "client_abbreviation": "",
                 "client_lead": 0, "client_notes": ""} for n, name in ((1, "Alpha"), (2, "Bravo"))],
}

LONG = "L" * 250          # over varchar(200)
LONG_SUBJECT = "S" * 600  # over ticket_subject varchar(500)

INT_VALUES = [("number", 12), ("numeric_string", "12"), ("empty_string", ""), ("leading_space", " 12"),
              ("true", True), ("false", False), ("abc", "abc"), ("12abc", "12abc"), ("float", 12.7),
              ("negative_string", "-5")]
DATE_VALUES = [("iso", "2024-06-12"), ("slashes", "2024/06/12"), ("dots", "2024.06.12"),
               ("compact", "20240612"), ("one_digit", "2024-6-1"), ("zero_date", "0000-00-00"),
               ("empty_string", ""), ("impossible", "2024-13-45"), ("word", "tomorrow"),
               ("feb_30", "2024-02-30")]

C1 = {"client_id": 1}  # what an all-clients key sends to write into client 1

# Per module: minimal and full create bodies (for an all-clients key), the fields the
# edge-case table is applied to, and what to read back.
MODULES = {
    "clients": {
        "table": "clients", "id": "client_id",
        "minimal": {"client_name": "Acme"},
        "full": {"client_name": "Acme Full", "client_type": "Business", "client_website": "https://acme.example",
                 "client_referral": "Friend", "client_rate": "95.50", "client_currency_code": "EUR",
                 "client_net_terms": 14, "client_tax_id_number": "DE123", "client_abbreviation": "ACMEFULL",
                 "client_is_lead": 1, "client_notes": "Notes here"},
        "int": "client_net_terms", "date": None, "text": "client_name",
    },
    "contacts": {
        "table": "contacts", "id": "contact_id",
        "minimal": {**C1, "contact_name": "Dana", "contact_email": "dana@example.com"},
        "full": {**C1, "contact_name": "Dana Full", "contact_title": "CTO", "contact_department": "IT",
                 "contact_email": "full@example.com", "contact_phone": "+1 (555) 010-2000",
                 "contact_extension": "x42", "contact_mobile": "555.010.3000", "contact_notes": "VIP",
                 "contact_primary": 1, "contact_important": 1, "contact_billing": 1, "contact_technical": 1,
                 "contact_location_id": 0},
        "int": "contact_location_id", "date": None, "text": "contact_name",
    },
    "assets": {
        "table": "assets", "id": "asset_id",
        "minimal": {**C1, "asset_name": "PC-1"},
        "full": {**C1, "asset_name": "PC-Full", "asset_description": "Desk", "asset_type": "Laptop",
                 "asset_make": "Dell", "asset_model": "7440", "asset_serial": "SN1", "asset_os": "Windows 11",
                 "asset_ip": "10.0.0.5", "asset_mac": "00:11:22:33:44:55", "asset_uri": "https://pc.example",
                 "asset_status": "Deployed", "asset_purchase_date": "2024-01-02",
                 "asset_warranty_expire": "2027-01-02", "asset_install_date": "2024-01-03",
                 "asset_notes": "Note", "asset_vendor_id": 0, "asset_location_id": 0, "asset_contact_id": 0,
                 "asset_network_id": 0},
        "int": "asset_vendor_id", "date": "asset_purchase_date", "text": "asset_name",
    },
    "certificates": {
        "table": "certificates", "id": "certificate_id",
        "minimal": {**C1, "certificate_name": "Web cert", "certificate_domain": "example.com"},
        "full": {**C1, "certificate_name": "Full cert", "certificate_description": "Wildcard",
                 "certificate_domain": "full.example.com", "certificate_issued_by": "LE",
                 "certificate_expire": "2025-03-04", "certificate_public_key": "PUBKEY",
                 "certificate_notes": "renew", "certificate_domain_id": 0},
        "int": "certificate_domain_id", "date": "certificate_expire", "text": "certificate_name",
    },
    "credentials": {
        "table": "credentials", "id": "credential_id", "decrypt": True,
        "minimal": {**C1, "credential_name": "Router", "credential_password": "s3cret"},
        "full": {**C1, "credential_name": "Router Full", "credential_description": "Edge",
                 "credential_uri": "https://router", "credential_uri_2": "ssh://router",
                 "credential_username": "admin", "credential_password": "s3cret",
                 "credential_otp_secret": "JBSWY3DP", "credential_note": "rotate", "credential_favorite": 1,
                 "credential_contact_id": 0, "credential_asset_id": 0},
        "int": "credential_contact_id", "date": None, "text": "credential_name",
    },
    "documents": {
        "table": "documents", "id": "document_id",
        "minimal": {**C1, "document_name": "Runbook", "document_content": "<p>Step 1</p>"},
        "full": {**C1, "document_name": "Runbook Full", "document_description": "How to",
                 "document_content": "<h1>Title</h1><p>Step 2</p>", "document_folder_id": 0},
        "int": "document_folder_id", "date": None, "text": "document_name",
    },
    "locations": {
        "table": "locations", "id": "location_id",
        "minimal": {**C1, "location_name": "HQ"},
        "full": {**C1, "location_name": "HQ Full", "location_description": "Main", "location_country": "DE",
                 "location_address": "Street 1", "location_city": "Berlin", "location_state": "BE",
                 "location_zip": "10115", "location_hours": "9-5", "location_notes": "door code",
                 "location_primary": 1},
        "int": "location_primary", "date": None, "text": "location_name",
    },
    "tickets": {
        "table": "tickets", "id": "ticket_id",
        "minimal": {**C1, "ticket_subject": "Printer jam"},
        "full": {**C1, "ticket_subject": "Printer full", "ticket_details": "<p>It jams</p>",
                 "ticket_priority": "High", "ticket_billable": 1, "ticket_vendor_id": 0,
                 "ticket_vendor_ticket_id": 77, "ticket_assigned_to": 0, "ticket_contact_id": 0,
                 "ticket_asset_id": 0},
        "int": "ticket_vendor_id", "date": None, "text": "ticket_subject",
    },
}


def post(path, body, key="all"):
    return {"method": "POST", "path": path, "key": key, "body": body}


def get(path, query, key="all"):
    return {"method": "GET", "path": path, "key": key, "query": query}


def record_reads(module, ref="{0}"):
    spec = MODULES[module]
    reads = [{"table": spec["table"], "where": {spec["id"]: ref}}]
    if module == "assets":
        reads.append({"table": "asset_interfaces", "where": {"interface_asset_id": ref}})
    return reads


def cases():
    out = []

    def add(name, steps, reads=(), note=""):
        out.append({"name": name, "steps": steps, "reads": list(reads), "note": note})

    for module, spec in MODULES.items():
        create = f"{module}/create"
        add(f"{module}.create.minimal", [post(create, spec["minimal"])], record_reads(module))
        add(f"{module}.create.full", [post(create, spec["full"])], record_reads(module))
        for label, value in INT_VALUES:
            add(f"{module}.create.int.{label}", [post(create, {**spec["minimal"], spec["int"]: value})],
                record_reads(module))
        if spec["date"]:
            for label, value in DATE_VALUES:
                add(f"{module}.create.date.{label}", [post(create, {**spec["minimal"], spec["date"]: value})],
                    record_reads(module))
        text = spec["text"]
        add(f"{module}.create.text.whitespace",
            [post(create, {**spec["minimal"], text: "  \t Padded <b>name</b> \n "})], record_reads(module))
        add(f"{module}.create.text.too_long",
            [post(create, {**spec["minimal"], text: LONG_SUBJECT if module == "tickets" else LONG})],
            record_reads(module))
        add(f"{module}.create.missing_required", [post(create, {**C1} if module != "clients" else {})],
            [{"table": spec["table"], "where": {}}])

    # Client and scoping rules of creates.
    add("assets.create.scoped_key_without_client_id", [post("assets/create", {"asset_name": "Scoped"}, "scoped")],
        record_reads("assets"))
    add("assets.create.scoped_key_other_client_id",
        [post("assets/create", {"asset_name": "Scoped", "client_id": 2}, "scoped")], record_reads("assets"))
    add("assets.create.all_key_without_client_id", [post("assets/create", {"asset_name": "NoClient"})],
        [{"table": "assets", "where": {}}])
    add("assets.create.client_id_string", [post("assets/create", {"asset_name": "S", "client_id": "1"})],
        record_reads("assets"))
    add("assets.create.powershell_example",
        [post("assets/create", {"client_id": "1", "asset_name": "PS-PC", "asset_type": "Desktop",
                                "asset_make": "HP", "asset_model": "800", "asset_serial": "XYZ", "asset_os": "Win",
                                "asset_ip": "", "asset_mac": "", "asset_status": "Deployed",
                                "asset_purchase_date": "0000-00-00", "asset_warranty_expire": "0000-00-00",
                                "asset_install_date": "0000-00-00", "asset_notes": "",
                                "asset_vendor_id": "", "asset_location_id": "", "asset_contact_id": "",
                                "asset_network_id": ""})],
        record_reads("assets"))
    # asset_uri_2 is not in 2.4.6's INSERT: sent on create, it is dropped.
    add("assets.create.uri_2_sent", [post("assets/create", {**MODULES["assets"]["minimal"], "asset_uri_2": "rdp://pc"})],
        record_reads("assets"))
    add("assets.create.date.warranty_slashes",
        [post("assets/create", {**MODULES["assets"]["minimal"], "asset_warranty_expire": "2027/01/31",
                                "asset_install_date": "2024/1/5"})], record_reads("assets"))
    add("clients.create.scoped_key", [post("clients/create", {"client_name": "Nope"}, "scoped")],
        [{"table": "clients", "where": {}}])
    add("clients.create.rate_values", [post("clients/create", {"client_name": "Rate", "client_rate": "abc"})],
        record_reads("clients"))
    add("clients.create.rate_empty", [post("clients/create", {"client_name": "Rate", "client_rate": ""})],
        record_reads("clients"))
    add("contacts.create.duplicate_email",
        [post("contacts/create", MODULES["contacts"]["minimal"]),
         post("contacts/create", {**MODULES["contacts"]["minimal"], "contact_name": "Dup"})],
        [{"table": "contacts", "where": {}}])
    add("tickets.create.without_client", [post("tickets/create", {"ticket_subject": "No client"})],
        record_reads("tickets"))
    add("tickets.create.primary_contact",
        [post("contacts/create", {**MODULES["contacts"]["minimal"], "contact_primary": 1}),
         post("tickets/create", MODULES["tickets"]["minimal"])], record_reads("tickets", "{1}"))
    add("documents.create.without_client", [post("documents/create", {"document_name": "D", "document_content": "x"})],
        record_reads("documents"))
    add("credentials.create.without_decrypt_password",
        [post("credentials/create", {**MODULES["credentials"]["minimal"], "__no_decrypt__": True})],
        [{"table": "credentials", "where": {}}])
    add("credentials.create.wrong_decrypt_password",
        [post("credentials/create", {**MODULES["credentials"]["full"], "api_key_decrypt_password": "wrong-one"})],
        [{"table": "credentials", "where": {}}])

    # Updates: each starts from the module's full create.
    def upd(name, module, body, key="all", reads=None, extra_setup=(), base="full", repeat=1):
        spec = MODULES[module]
        steps = [post(f"{module}/create", spec[base]), *extra_setup,
                 post(f"{module}/update", {spec["id"]: "{0}", **body}, key)]
        if module == "clients":
            steps[-1]["body"] = {"client_id": "{0}", **body}
        steps += [dict(steps[-1]) for _ in range(repeat - 1)]
        add(f"{module}.update.{name}", steps, reads or record_reads(module))

    for module, changed in [("assets", {"asset_name": "Renamed", **C1}),
                            ("clients", {"client_name": "Renamed", "client_is_lead": 1}),
                            ("contacts", {"contact_name": "Renamed", **C1}),
                            ("credentials", {"credential_name": "Renamed", **C1}),
                            ("documents", {"document_name": "Renamed", **C1})]:
        upd("change_one", module, changed)
        same = {k: MODULES[module]["full"][k] for k in changed if k in MODULES[module]["full"]}
        if module == "clients":
            same["client_is_lead"] = 1
        upd("change_nothing", module, {**C1, **same} if module != "clients" else same)
        minimal_same = {k: v for k, v in MODULES[module]["minimal"].items() if k in changed or k == "client_id"}
        if module == "clients":
            minimal_same["client_is_lead"] = 0
        upd("change_nothing_after_minimal_create", module, minimal_same, base="minimal")
        upd("change_nothing_twice", module, {**C1, **same} if module != "clients" else same, repeat=2)
        upd("no_fields", module, {**C1} if module != "clients" else {})
        add(f"{module}.update.no_such_record",
            [post(f"{module}/update", {**C1, **changed, MODULES[module]["id"]: 9999})],
            [{"table": MODULES[module]["table"], "where": {}}])
    upd("only_ip", "assets", {**C1, "asset_ip": "10.9.9.9"},
        reads=record_reads("assets") + [{"table": "asset_history", "where": {"asset_history_asset_id": "{0}"}}])
    # After a first update (which turns NULL columns into ''), an IP-only change counts 0.
    upd("only_ip_after_update", "assets", {**C1, "asset_ip": "10.9.9.9"},
        extra_setup=[post("assets/update", {"asset_id": "{0}", **C1, "asset_ip": "10.0.0.5",
                                            "asset_mac": "00:11:22:33:44:55"})],
        reads=record_reads("assets") + [{"table": "asset_history", "where": {"asset_history_asset_id": "{0}"}}])
    upd("ip_and_name", "assets", {**C1, "asset_ip": "10.9.9.9", "asset_name": "New name"},
        reads=record_reads("assets") + [{"table": "asset_history", "where": {"asset_history_asset_id": "{0}"}}])
    upd("same_date_other_shape", "assets", {**C1, "asset_purchase_date": "2024/01/02"})
    upd("date_zero", "assets", {**C1, "asset_purchase_date": "0000-00-00"})
    upd("date_empty", "assets", {**C1, "asset_purchase_date": ""})
    upd("int_empty_string", "assets", {**C1, "asset_vendor_id": "", "asset_location_id": ""})
    upd("powershell_rmm_unchanged", "assets",
        {"client_id": "1", "asset_name": "PC-Full", "asset_serial": "SN1", "asset_os": "Windows 11",
         "asset_make": "Dell", "asset_model": "7440", "asset_type": "Laptop", "asset_vendor_id": "",
         "asset_purchase_date": "2024/01/02", "asset_warranty_expire": "2027/01/02",
         "asset_install_date": "2024/01/03", "asset_ip": "10.0.0.5"})
    upd("powershell_rmm_unchanged_twice", "assets",
        {"client_id": "1", "asset_name": "PC-Full", "asset_serial": "SN1", "asset_os": "Windows 11",
         "asset_make": "Dell", "asset_model": "7440", "asset_type": "Laptop", "asset_vendor_id": "",
         "asset_purchase_date": "2024/01/02", "asset_warranty_expire": "2027/01/02",
         "asset_install_date": "2024/01/03", "asset_ip": "10.0.0.5"}, repeat=2)
    upd("scoped_key_own_record", "assets", {"asset_name": "By scoped key"}, key="scoped")
    upd("other_client", "assets", {"asset_name": "Wrong client", "client_id": 2})
    upd("without_client_id", "assets", {"asset_name": "No client id"})
    upd("duplicate_email", "contacts", {**C1, "contact_email": "dana@example.com"},
        extra_setup=[post("contacts/create", MODULES["contacts"]["minimal"])])
    upd("phone_digits", "contacts", {**C1, "contact_phone": "(555) 123-4567"})
    upd("without_is_lead", "clients", {"client_name": "No lead flag"})
    upd("password", "credentials", {**C1, "credential_password": "n3w"})
    upd("wrong_decrypt_password", "credentials",
        {**C1, "credential_name": "Wrong pw", "api_key_decrypt_password": "wrong-one"})
    upd("without_decrypt_password", "credentials", {**C1, "credential_name": "No pw", "__no_decrypt__": True})
    upd("content", "documents", {**C1, "document_content": "<p>Step 3</p>"},
        reads=record_reads("documents") + [{"table": "document_versions", "where": {"document_version_document_id": "{0}"}}])

    # A key scoped to client 1 updating its own client, no client_id sent.
    add("clients.update.scoped_key_own_client",
        [post("clients/update", {"client_name": "Alpha Renamed", "client_is_lead": 0}, "scoped")],
        [{"table": "clients", "where": {"client_id": 1}}])
    add("clients.update.scoped_key_own_client_without_is_lead",
        [post("clients/update", {"client_name": "Alpha Renamed"}, "scoped")],
        [{"table": "clients", "where": {"client_id": 1}}])
    add("clients.update.scoped_key_other_client",
        [post("clients/update", {"client_id": 2, "client_name": "Bravo Renamed", "client_is_lead": 0}, "scoped")],
        [{"table": "clients", "where": {"client_id": 2}}, {"table": "clients", "where": {"client_id": 1}}])

    # Deletes.
    for module in ("assets", "contacts"):
        spec = MODULES[module]
        add(f"{module}.delete.ok", [post(f"{module}/create", spec["full"]),
                                   post(f"{module}/delete", {spec["id"]: "{0}", **C1})], record_reads(module))
        add(f"{module}.delete.no_such_record", [post(f"{module}/delete", {spec["id"]: 9999, **C1})], [])
        add(f"{module}.delete.other_client", [post(f"{module}/create", spec["full"]),
                                             post(f"{module}/delete", {spec["id"]: "{0}", "client_id": 2})],
            record_reads(module))
        add(f"{module}.delete.scoped_key", [post(f"{module}/create", spec["full"]),
                                           post(f"{module}/delete", {spec["id"]: "{0}"}, "scoped")],
            record_reads(module))

    # Archive, unarchive, resolve (what 2.4.6 has of them).
    client1 = [{"table": "clients", "where": {"client_id": 1}}]
    add("clients.archive.ok", [post("clients/archive", C1)], client1)
    add("clients.archive.twice", [post("clients/archive", C1), post("clients/archive", C1)], client1)
    add("clients.archive.scoped_key_own_client", [post("clients/archive", {}, "scoped")], client1)
    add("clients.unarchive.ok", [post("clients/archive", C1), post("clients/unarchive", C1)], client1)
    add("clients.unarchive.not_archived", [post("clients/unarchive", C1)], client1)
    contact = MODULES["contacts"]["full"]
    add("contacts.archive.ok", [post("contacts/create", contact), post("contacts/archive", {**C1, "contact_id": "{0}"})],
        record_reads("contacts"))
    add("contacts.archive.twice", [post("contacts/create", contact), post("contacts/archive", {**C1, "contact_id": "{0}"}),
                                   post("contacts/archive", {**C1, "contact_id": "{0}"})], record_reads("contacts"))
    add("contacts.unarchive.ok", [post("contacts/create", contact), post("contacts/archive", {**C1, "contact_id": "{0}"}),
                                  post("contacts/unarchive", {**C1, "contact_id": "{0}"})], record_reads("contacts"))
    add("contacts.archive.no_such_record", [post("contacts/archive", {**C1, "contact_id": 9999})], [])
    ticket = MODULES["tickets"]["full"]
    add("tickets.resolve.ok", [post("tickets/create", ticket), post("tickets/resolve", {**C1, "ticket_id": "{0}"})],
        record_reads("tickets"))
    add("tickets.resolve.twice", [post("tickets/create", ticket), post("tickets/resolve", {**C1, "ticket_id": "{0}"}),
                                  post("tickets/resolve", {**C1, "ticket_id": "{0}"})], record_reads("tickets"))
    add("tickets.resolve.scoped_key", [post("tickets/create", ticket),
                                       post("tickets/resolve", {"ticket_id": "{0}"}, "scoped")], record_reads("tickets"))
    add("tickets.resolve.no_such_record", [post("tickets/resolve", {**C1, "ticket_id": 9999})], [])

    # Reads by id, and by name where that is the look-up.
    for module, spec in MODULES.items():
        if module == "clients":
            add("clients.read.by_name", [post("clients/create", spec["full"]),
                                         get("clients/read", {"client_name": "Acme Full"})])
            continue
        add(f"{module}.read.by_id", [post(f"{module}/create", spec["full"]),
                                     get(f"{module}/read", {spec["id"]: "{0}"})])
        add(f"{module}.read.by_id.scoped_key", [post(f"{module}/create", spec["full"]),
                                                get(f"{module}/read", {spec["id"]: "{0}"}, "scoped")])
        add(f"{module}.read.no_such_record", [get(f"{module}/read", {spec["id"]: 9999})])
    add("credentials.read.wrong_decrypt_password",
        [post("credentials/create", MODULES["credentials"]["full"]),
         get("credentials/read", {"credential_id": "{0}", "__decrypt__": "wrong-one"})])
    add("credentials.read.without_decrypt_password",
        [post("credentials/create", MODULES["credentials"]["full"]),
         get("credentials/read", {"credential_id": "{0}", "__decrypt__": None})])
    add("assets.read.list", [post("assets/create", MODULES["assets"]["full"]), get("assets/read", {})])

    no_record_lost_cases(add, upd)
    return out


def no_record_lost_cases(add, upd):
    """"No real client loses a record" (cases added 2026-12): paging read with intval, lists
    where one value belongs, reference ids across clients, update models."""
    # limit / offset as intval reads them (validate_api_key.php:99-114): seed has 2 clients.
    for label, value in (("empty", ""), ("abc", "abc"), ("zero", "0"), ("one_x", "1x"), ("float", "1.9")):
        add(f"clients.read.limit.{label}", [get("clients/read", {"limit": value})])
    add("clients.read.offset.abc", [get("clients/read", {"offset": "abc"})])
    # A JSON list where one value belongs.
    assets_min = MODULES["assets"]["minimal"]
    add("assets.create.list.ip", [post("assets/create", {**assets_min, "asset_ip": ["10.0.0.1", "10.0.0.2"]})],
        record_reads("assets"))
    add("assets.create.list.empty_ip", [post("assets/create", {**assets_min, "asset_ip": []})], record_reads("assets"))
    add("assets.create.list.name", [post("assets/create", {**assets_min, "asset_name": ["PC-A", "PC-B"]})],
        record_reads("assets"))
    add("clients.create.list.net_terms", [post("clients/create", {"client_name": "Listy", "client_net_terms": [30]})],
        record_reads("clients"))
    add("contacts.create.list.phone",
        [post("contacts/create", {**MODULES["contacts"]["minimal"], "contact_phone": ["555 1234", "555 9999"]})],
        record_reads("contacts"))
    upd("list_serial", "assets", {**C1, "asset_serial": ["S-1", "S-2"]})
    # Reference ids: hard-coded "1"s that name nothing, and records of another client.
    add("assets.create.ref.hardcoded_ones",
        [post("assets/create", {**assets_min, "asset_location_id": "1", "asset_vendor_id": "1",
                                "asset_contact_id": "1", "asset_network_id": "1"})], record_reads("assets"))
    add("assets.create.ref.location_of_other_client",
        [post("locations/create", {"client_id": 2, "location_name": "Bravo HQ"}),
         post("assets/create", {**assets_min, "asset_location_id": "{0}"})], record_reads("assets", "{1}"))
    add("contacts.create.ref.location_of_other_client",
        [post("locations/create", {"client_id": 2, "location_name": "Bravo HQ"}),
         post("contacts/create", {**MODULES["contacts"]["minimal"], "contact_location_id": "{0}"})],
        record_reads("contacts", "{1}"))
    add("assets.update.ref.contact_of_other_client",
        [post("contacts/create", {**MODULES["contacts"]["minimal"], "client_id": 2}),
         post("assets/create", MODULES["assets"]["full"]),
         post("assets/update", {**C1, "asset_id": "{1}", "asset_contact_id": "{0}"})],
        record_reads("assets", "{1}"))
    # A self-registration script with the same ids for three clients, two addresses (the
    # location is client 1's; "{1}" is 1 on a fresh ITFlow, and stays right on a replay
    # whose ids do not start at 1). No vendor exists.
    add("assets.create.ref.self_registration_three_clients",
        [post("clients/create", {"client_name": "Charlie"}),
         post("locations/create", {"client_id": 1, "location_name": "Alpha HQ"}),
         post("assets/create", {"client_id": "1", "asset_name": "REG-1", "asset_location_id": "{1}",
                                "asset_vendor_id": "1", "asset_ip": "10.1.0.10"}),
         post("assets/create", {"client_id": "2", "asset_name": "REG-2", "asset_location_id": "{1}",
                                "asset_vendor_id": "1", "asset_ip": "10.1.0.10"}),
         post("assets/create", {"client_id": "{0}", "asset_name": "REG-3", "asset_location_id": "{1}",
                                "asset_vendor_id": "1", "asset_ip": "10.2.0.10"})],
        [{"table": "assets", "where": {}}, {"table": "asset_interfaces", "where": {}}])
    # Create, then the same update three times (an agent's re-check-in): True, False, False.
    for module in ("assets", "contacts", "credentials", "documents"):
        same = {k: v for k, v in MODULES[module]["minimal"].items() if k != "credential_password"}
        upd("identical_three_times_after_minimal_create", module, same, base="minimal", repeat=3)
    upd("identical_three_times_after_minimal_create", "clients", {"client_name": "Acme", "client_is_lead": 0},
        base="minimal", repeat=3)
    # Each update module: one field changed, then every column read back through the API.
    for module, changed in (("assets", {"asset_notes": "changed"}), ("contacts", {"contact_title": "changed"}),
                            ("credentials", {"credential_note": "changed"}),
                            ("documents", {"document_description": "changed"}),
                            ("clients", {"client_notes": "changed", "client_is_lead": 0})):
        spec = MODULES[module]
        update = {spec["id"]: "{0}", **C1, **changed} if module != "clients" else {"client_id": "{0}", **changed}
        lookup = {spec["id"]: "{0}"} if module != "clients" else {"client_name": spec["minimal"]["client_name"]}
        add(f"{module}.update.one_field_then_read",
            [post(f"{module}/create", spec["minimal"]), post(f"{module}/update", update),
             get(f"{module}/read", lookup)], record_reads(module))


# --------------------------------------------------------------------------------------------

def fill(value, ids):
    """Replace "{n}" by the insert_id of step n (as a number, like a client would send it)."""
    if isinstance(value, str):
        match = re.fullmatch(r"\{(\d+)\}", value)
        if match:
            return ids[int(match.group(1))]
        return value
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    return value


class Recorder:
    def __init__(self, args):
        self.base = args.base_url.rstrip("/")
        self.keys = {"all": args.all_key, "scoped": args.scoped_key}
        self.decrypt_password = args.decrypt_password
        self.master_key = args.master_key
        self.conn = pymysql.connect(host=args.db_host, port=args.db_port, user=args.db_user,
                                    password=args.db_password, database=args.db, autocommit=True,
                                    conv=dict(pymysql.converters.encoders))  # no decoders: text as stored
        self.http = requests.Session()

    def sql(self, statement, params=None):
        with self.conn.cursor(pymysql.cursors.DictCursor) as cur:
            cur.execute(statement, params)
            return cur.fetchall()

    def reset(self):
        self.sql("SET FOREIGN_KEY_CHECKS = 0")
        for table in RESET_TABLES:
            self.sql(f"TRUNCATE TABLE `{table}`")
        self.sql("SET FOREIGN_KEY_CHECKS = 1")
        self.sql("UPDATE settings SET config_ticket_next_number = 1, config_ticket_prefix = 'TCK-' WHERE company_id = 1")
        for table, rows in SEED.items():
            for row in rows:
                cols = ", ".join(f"`{c}`" for c in row)
                self.sql(f"INSERT INTO `{table}` ({cols}) VALUES ({', '.join(['%s'] * len(row))})", list(row.values()))

    def send(self, step, ids):
        body = fill(step.get("body"), ids)
        query = fill(step.get("query"), ids)
        url = f"{self.base}/api/v1/{step['path']}.php"
        key = self.keys[step["key"]]
        if step["method"] == "GET":
            params = {**(query or {}), "api_key": key}
            decrypt = params.pop("__decrypt__", self.decrypt_password)  # a case may send another, or none
            if step["path"].startswith("credentials/") and decrypt is not None:
                params["api_key_decrypt_password"] = decrypt
            answer = self.http.get(url, params=params, timeout=30)
        else:
            body = dict(body)
            no_decrypt = body.pop("__no_decrypt__", False)
            body["api_key"] = key
            if step["path"].startswith("credentials/") and not no_decrypt:
                body.setdefault("api_key_decrypt_password", self.decrypt_password)
            answer = self.http.post(url, data=json.dumps(body), headers={"Content-Type": "application/json"},
                                    timeout=30)
        try:
            parsed = answer.json()
        except ValueError:
            parsed = None
        return {"status": answer.status_code, "json": parsed, "text": None if parsed is not None else answer.text}

    def read(self, spec, ids, started):
        where = fill(spec["where"], ids)
        conds = " AND ".join(f"`{c}` = %s" for c in where) or "1 = 1"
        rows = self.sql(f"SELECT * FROM `{spec['table']}` WHERE {conds} ORDER BY 1", list(where.values()))
        return [self.mark(row, started) for row in rows]

    def mark(self, row, started):
        """Markers for values that cannot repeat (see the module docstring)."""
        out = {}
        for column, value in row.items():
            if isinstance(value, bytes):
                value = value.decode("utf-8")
            if value is not None and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", value) and value != "0000-00-00 00:00:00":
                stamp = datetime.datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
                if abs((stamp - started).total_seconds()) < 600:
                    value = "<now>"
            if column == "ticket_url_key" and value:
                value = f"<random:{len(value)}>"
            if column in ("credential_username", "credential_password") and value:
                value = f"<encrypted:{self.decrypt(value)}>"
            out[column] = value
        return out

    def decrypt(self, stored):
        from itflow_api.lib.itflow import crypto
        clear = crypto.decrypt_field(stored, self.master_key)
        return "<undecryptable>" if clear is None else clear

    def run(self, only=None):
        results = []
        for case in cases():
            if only and not re.search(only, case["name"]):
                continue
            self.reset()
            started = datetime.datetime.now()
            ids, answers = [], []
            for step in case["steps"]:
                answer = self.send(step, ids)
                answers.append(answer)
                data = (answer["json"] or {}).get("data") if isinstance(answer["json"], dict) else None
                ids.append(data[0]["insert_id"] if data and isinstance(data, list) and "insert_id" in data[0] else None)
            rows = [{"table": r["table"], "where": r["where"], "rows": self.read(r, ids, started)}
                    for r in case["reads"]]
            logs = self.sql("SELECT log_type, log_action, log_description, log_client_id, log_entity_id "
                            "FROM logs ORDER BY log_id")
            results.append({**case, "answers": answers, "insert_ids": ids, "stored": rows,
                            "logs": [{k: v.decode() if isinstance(v, bytes) else v for k, v in log.items()}
                                     for log in logs]})
            last = answers[-1]
            outcome = (last['json'] or {}).get('success') if isinstance(last['json'], dict) else last['text'][:40]
            print(f"{case['name']:60} {last['status']} {outcome!r}")
        return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base_url")
    parser.add_argument("all_key")
    parser.add_argument("--scoped-key", required=True)
    parser.add_argument("--decrypt-password", required=True)
    parser.add_argument("--master-key", required=True)
    parser.add_argument("--db", default="itflow_ref_246")
    parser.add_argument("--db-host", default="127.0.0.1")
    parser.add_argument("--db-port", type=int, default=3306)
    parser.add_argument("--db-user", default="root")
    parser.add_argument("--db-password", default="")
    parser.add_argument("--only", help="regular expression: record only matching cases (printed, not saved)")
    parser.add_argument("--version-label", default="ITFlow 2.4.6")
    args = parser.parse_args()
    recorder = Recorder(args)
    server = recorder.sql("SELECT VERSION() AS v, @@sql_mode AS m")[0]
    results = recorder.run(args.only)
    if args.only:
        return
    document = {
        "about": "Facts recorded from a running ITFlow by tests/itflow_reference/record.py; replayed by "
                 "tests/test_itflow_parity.py. Markers: <now> (set by the server during the case), "
                 "<random:N>, <encrypted:clear text>.",
        "itflow": args.version_label, "mariadb": server["v"], "sql_mode": server["m"],
        "recorded_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "seed": SEED, "keys": {"all": {"client_id": 0}, "scoped": {"client_id": 1}, "name": "test key"},
        "cases": results,
    }
    with open(OUT, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1, ensure_ascii=False)
        handle.write("\n")
    print(f"{len(results)} cases written to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
