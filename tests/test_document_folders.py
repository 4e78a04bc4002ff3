"""document_folders/read and document_folders/create: ITFlow's `folders`, per client, written as
its folder page writes them (agent/post/folder.php create_folder)."""
from datetime import date, timedelta

import pytest
from helpers import Api, fetch, insert_role, insert_user, log_rows, make_key, refused, succeeded, user_keys_database

from itflow_api.lib.access.keys import KeyStore
from itflow_api.lib.web.app import create_app


def _create(api, key, **body):
    return int(succeeded(api.post("document_folders/create", body, key=key))["data"][0]["insert_id"])


def test_create_and_read_a_folder_tree(api, db, all_key, make_client):
    client = make_client("Acme")
    top = _create(api, all_key, client_id=client, folder_name="Network")
    inner = _create(api, all_key, client_id=client, folder_name="Firewalls", parent_folder=top)
    rows = fetch(db, "folders")
    assert [(r["folder_name"], r["parent_folder"], r["folder_location"], r["folder_client_id"]) for r in rows] == [
        ("Network", "0", "0", str(client)), ("Firewalls", str(top), "0", str(client))]
    body = succeeded(api.get("document_folders/read", key=all_key, client_id=client))
    assert [r["folder_name"] for r in body["data"]] == ["Firewalls", "Network"]  # by name, as ITFlow lists them
    assert succeeded(api.get("document_folders/read", key=all_key, folder_id=inner))["data"][0]["parent_folder"] \
        == str(top)
    assert [r["folder_name"] for r in succeeded(api.get("document_folders/read", key=all_key,
                                                        parent_folder=top))["data"]] == ["Firewalls"]
    assert [(r["log_type"], r["log_action"]) for r in log_rows(db)][:2] == [("Folder", "Create"), ("API", "Success")]


def test_a_name_is_required_and_a_client_too(api, all_key, make_client):
    client = make_client("Acme")
    assert refused(api.post("document_folders/create", {"client_id": client}, key=all_key))["message"] \
        == "Missing required field(s): folder_name."
    assert "client_id" in refused(api.post("document_folders/create", {"folder_name": "X"}, key=all_key))["message"]


def test_a_parent_of_another_client_is_left_empty(api, db, all_key, make_client):
    acme, other = make_client("Acme"), make_client("Other")
    theirs = _create(api, all_key, client_id=other, folder_name="Theirs")
    status, body = api.post("document_folders/create", {"client_id": acme, "folder_name": "Mine",
                                                        "parent_folder": theirs}, key=all_key)
    assert status == 200 and body["success"] == "True" and "parent_folder" in body["message"]
    assert fetch(db, "folders", folder_name="Mine")[0]["parent_folder"] == "0"


def test_a_scoped_key_sees_and_writes_only_its_client(api, db, keys, all_key, make_client):
    acme, other = make_client("Acme"), make_client("Other")
    _create(api, all_key, client_id=other, folder_name="Theirs")
    scoped = make_key(keys, acme)
    mine = _create(api, scoped, client_id=other, folder_name="Mine")  # a scoped key writes its own client
    assert fetch(db, "folders", folder_id=mine)[0]["folder_client_id"] == str(acme)
    assert [r["folder_name"] for r in succeeded(api.get("document_folders/read", key=scoped))["data"]] == ["Mine"]


@pytest.fixture(scope="module")
def user_database(tmp_path_factory):
    with user_keys_database(tmp_path_factory.mktemp("folderusers")) as found:
        yield found


def test_user_keys_need_support_access_as_for_documents(user_database):
    """document_folders is guarded by module_support, as ITFlow's folder page is."""
    cfg, db = user_database
    keys = KeyStore(db, b"document-folders")
    with db.transaction(write=True):
        client = db.insert("clients", {"client_name": "Alpha"})
        reader = insert_role(db, "Reader", 0, {"module_support": 1})
        tech = insert_role(db, "Tech", 0, {"module_support": 2})
        users = {"reader": insert_user(db, "reader", reader), "tech": insert_user(db, "tech", tech)}
    expire = (date.today() + timedelta(days=10)).isoformat()
    key = {name: keys.create(name, expire, user)[0] for name, user in users.items()}
    api = Api(create_app(cfg, db, keys))
    folder = _create(api, key["tech"], client_id=client, folder_name="Docs")
    status, body = api.post("document_folders/create", {"client_id": client, "folder_name": "No"}, key=key["reader"])
    assert status == 403 and body["success"] == "False"
    assert [r["folder_id"] for r in succeeded(api.get("document_folders/read", key=key["reader"]))["data"]] \
        == [str(folder)]
