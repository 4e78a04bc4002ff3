"""domains/create and domains/update: the registrar (and web host) by vendor name.

ITFlow's domain page offers the client's own unarchived vendors by name
(agent/modals/domain/domain_add.php); a script can now send that name instead of the id.
"""
import pytest
from helpers import fetch, insert, refused, succeeded


@pytest.fixture
def vendors(db, make_client):
    acme, other = make_client("Acme"), make_client("Other")
    return {
        "acme": acme, "other": other,
        "namecheap": insert(db, "vendors", vendor_name="Namecheap", vendor_client_id=acme),
        "host": insert(db, "vendors", vendor_name="Host Co", vendor_client_id=acme),
        "archived": insert(db, "vendors", vendor_name="Old Registrar", vendor_client_id=acme,
                           vendor_archived_at="2024-01-01 00:00:00"),
        "theirs": insert(db, "vendors", vendor_name="GoDaddy", vendor_client_id=other),
    }


def test_create_takes_the_registrar_by_name_in_any_case(api, db, all_key, vendors):
    succeeded(api.post("domains/create", {"client_id": vendors["acme"], "domain_name": "a.example",
                                          "domain_registrar": " namecheap", "domain_webhost": "HOST CO"}, key=all_key))
    row = fetch(db, "domains")[0]
    assert (row["domain_registrar"], row["domain_webhost"]) == (str(vendors["namecheap"]), str(vendors["host"]))


def test_ids_work_as_before(api, db, all_key, vendors):
    succeeded(api.post("domains/create", {"client_id": vendors["acme"], "domain_name": "b.example",
                                          "domain_registrar": str(vendors["namecheap"])}, key=all_key))
    assert fetch(db, "domains")[0]["domain_registrar"] == str(vendors["namecheap"])


@pytest.mark.parametrize("name", ["GoDaddy", "Old Registrar", "Nobody"])  # another client's, archived, unknown
def test_an_unknown_name_is_refused_with_the_clients_vendors(api, db, all_key, vendors, name):
    body = refused(api.post("domains/create", {"client_id": vendors["acme"], "domain_name": "c.example",
                                               "domain_registrar": name}, key=all_key))
    assert body["message"] == (f"No vendor named {name!r} for client {vendors['acme']}: domain_registrar takes a vendor "
                               "id or the name of one of the client's vendors (Host Co, Namecheap).")
    assert not fetch(db, "domains")


def test_update_looks_names_up_among_the_domains_client(api, db, all_key, vendors):
    domain = int(succeeded(api.post("domains/create", {"client_id": vendors["other"], "domain_name": "d.example"},
                                    key=all_key))["data"][0]["insert_id"])
    succeeded(api.post("domains/update", {"domain_id": domain, "domain_registrar": "godaddy"}, key=all_key))
    assert fetch(db, "domains")[0]["domain_registrar"] == str(vendors["theirs"])
    body = refused(api.post("domains/update", {"domain_id": domain, "domain_registrar": "Namecheap"}, key=all_key))
    assert body["message"].startswith("No vendor named 'Namecheap' for client")


def test_two_vendors_of_one_name_ask_for_the_id(api, db, all_key, vendors):
    twin = insert(db, "vendors", vendor_name="namecheap", vendor_client_id=vendors["acme"])
    body = refused(api.post("domains/create", {"client_id": vendors["acme"], "domain_name": "e.example",
                                               "domain_registrar": "Namecheap"}, key=all_key))
    assert body["message"] == (f"Client {vendors['acme']} has 2 vendors named 'Namecheap' (vendor_id "
                               f"{vendors['namecheap']}, {twin}): send domain_registrar as the vendor id.")
