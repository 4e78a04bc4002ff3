"""Keys that act as a user (ITFlow 2.4.7+ layout: api_keys.api_key_user_id), on a database of
their own: role levels per module, admin roles, allow/deny client lists and the 403s."""
from datetime import date, timedelta

import pytest
from helpers import Api, insert_role, insert_user, log_rows, user_keys_database

from itflow_api.lib.access import permissions
from itflow_api.lib.access.keys import LAYOUT_USER, KeyStore
from itflow_api.lib.itflow import schema
from itflow_api.lib.web.app import create_app

SECRET = b"user-key-tests"


@pytest.fixture(scope="module")
def user_database(tmp_path_factory):
    with user_keys_database(tmp_path_factory.mktemp("userdb")) as found:
        yield found


@pytest.fixture
def world(user_database):
    """Clients A and B, roles, users and their keys, on an emptied user-layout database."""
    cfg, db = user_database
    with db.transaction(write=True):
        for table in schema.tables():
            db.execute(f"DELETE FROM {table}")
    db.create_schema(schema.LAYOUT_USER_KEYS)
    keys = KeyStore(db, SECRET)
    assert keys.layout == LAYOUT_USER
    w = {"db": db, "api": Api(create_app(cfg, db, keys))}
    with db.transaction(write=True):
        w["a"] = db.insert("clients", {"client_name": "Alpha"})
        w["b"] = db.insert("clients", {"client_name": "Bravo"})

        def role(name, admin=0, levels=None):
            return insert_role(db, name, admin, levels)

        admin = role("Admin", admin=1)
        reader = role("Reader", levels={"module_support": 1, "module_client": 1})
        tech = role("Tech", levels={"module_support": 2, "module_client": 3})

        def user(name, role_id, **columns):
            return insert_user(db, name, role_id, **columns)

        w["users"] = {
            "admin": user("admin", admin), "reader": user("reader", reader), "tech": user("tech", tech),
            "allow_a": user("allow_a", tech), "deny_b": user("deny_b", tech),
            "archived": user("archived", tech, user_archived_at="2024-01-01 00:00:00"),
            "contact_user": user("portal", tech, user_type=2), "disabled": user("disabled", tech, user_status=0),
        }
        db.insert("user_client_permissions", {"user_id": w["users"]["allow_a"], "client_id": w["a"],
                                              "permission_type": "allow"})
        db.insert("user_client_permissions", {"user_id": w["users"]["deny_b"], "client_id": w["b"],
                                              "permission_type": "deny"})
        for client in (w["a"], w["b"], 0):
            db.insert("assets", {"asset_name": f"asset of {client}", "asset_client_id": client})
    expire = (date.today() + timedelta(days=10)).isoformat()
    w["keys"] = {name: keys.create(f"key of {name}", expire, user_id)[0] for name, user_id in w["users"].items()}
    w["keys"]["untied"] = keys.create("untied", expire, 0)[0]
    return w


def visible_assets(w, key, **params):
    status, body = w["api"].get("assets/read", key=key, **params)
    assert status == 200, body
    return sorted(row["asset_name"] for row in body["data"])


def test_admin_sees_everything_and_writes_anywhere(world):
    assert visible_assets(world, world["keys"]["admin"]) == sorted([
        f"asset of {world['a']}", f"asset of {world['b']}", "asset of 0"])
    status, body = world["api"].post("assets/create", {"asset_name": "new", "client_id": world["b"]},
                                     key=world["keys"]["admin"])
    assert body["success"] == "True"
    assert world["api"].post("assets/delete", {"asset_id": body["data"][0]["insert_id"]},
                             key=world["keys"]["admin"])[1]["success"] == "True"


def test_read_only_role_reads_but_cannot_write(world):
    key = world["keys"]["reader"]
    assert len(visible_assets(world, key)) == 3
    for function, body in (("create", {"asset_name": "x", "client_id": world["a"]}), ("delete", {"asset_id": 1})):
        status, answer = world["api"].post(f"assets/{function}", body, key=key)
        assert status == 403
        assert answer == {"success": "False", "message": permissions.NO_PERMISSION, "count": 0, "data": []}
    # no permission at all on the credential module, not even to read
    assert world["api"].get("credentials/read", key=key)[0] == 403


def test_delete_needs_the_full_level(world):
    key = world["keys"]["tech"]  # module_support at 2: modify yes, delete no
    status, body = world["api"].post("assets/create", {"asset_name": "x", "client_id": world["a"]}, key=key)
    assert body["success"] == "True"
    asset_id = body["data"][0]["insert_id"]
    assert world["api"].post("assets/delete", {"asset_id": asset_id}, key=key)[0] == 403
    # module_client at 3: contacts may be deleted
    status, body = world["api"].post("contacts/create", {"contact_name": "P", "contact_email": "p@x",
                                                         "client_id": world["a"]}, key=key)
    assert world["api"].post("contacts/delete", {"contact_id": body["data"][0]["insert_id"]},
                             key=key)[1] == {"success": "True", "count": 1}


def test_allow_list_limits_reads_to_allowed_clients_plus_client_zero(world):
    key = world["keys"]["allow_a"]
    assert visible_assets(world, key) == sorted([f"asset of {world['a']}", "asset of 0"])
    status, body = world["api"].post("assets/create", {"asset_name": "x", "client_id": world["b"]}, key=key)
    assert status == 403 and body["message"] == permissions.NO_CLIENT_ACCESS
    status, body = world["api"].post("assets/create", {"asset_name": "x", "client_id": world["a"]}, key=key)
    assert body["success"] == "True"


def test_denied_client_is_invisible_and_unwritable(world):
    key = world["keys"]["deny_b"]
    assert visible_assets(world, key) == sorted([f"asset of {world['a']}", "asset of 0"])
    assert visible_assets(world, key, client_id=world["b"]) == []
    with world["db"].transaction():
        b_asset = world["db"].scalar("SELECT asset_id FROM assets WHERE asset_client_id = :c", {"c": world["b"]})
    status, body = world["api"].post("assets/update", {"asset_id": b_asset, "asset_notes": "x"}, key=key)
    assert (status, body["message"]) == (403, permissions.NO_CLIENT_ACCESS)
    assert world["api"].post("assets/create", {"asset_name": "x", "client_id": world["b"]}, key=key)[0] == 403


def _b_records(w):
    """An asset, a contact and a ticket of client B (made with the admin key)."""
    admin, api, b = w["keys"]["admin"], w["api"], w["b"]
    made = {}
    for module, body in (("assets", {"asset_name": "B box"}), ("contacts", {"contact_name": "Bo", "contact_email": "bo@b"}),
                         ("tickets", {"ticket_subject": "B issue"})):
        status, answer = api.post(f"{module}/create", {**body, "client_id": b}, key=admin)
        assert answer["success"] == "True", answer
        made[module] = answer["data"][0]["insert_id"]
    return made


@pytest.mark.parametrize("user", ["allow_a", "deny_b"])
@pytest.mark.parametrize("named", [False, True], ids=["without_client_id", "with_client_id"])
def test_every_write_to_a_forbidden_clients_record_is_403(world, user, named):
    # new: api/v1/enforce_api_rbac.php:153-159 answers 403 with this message for a write to a
    # client the user may not reach. Ours checks every write, archive/unarchive/resolve/replies
    # included, whether or not the request names the client; nothing is written.
    b_ids, key, api = _b_records(world), world["keys"][user], world["api"]
    client = {"client_id": world["b"]} if named else {}
    writes = [("assets/update", {"asset_id": b_ids["assets"], "asset_notes": "x"}),
              ("assets/archive", {"asset_id": b_ids["assets"]}), ("assets/unarchive", {"asset_id": b_ids["assets"]}),
              ("contacts/update", {"contact_id": b_ids["contacts"], "contact_title": "x"}),
              ("contacts/archive", {"contact_id": b_ids["contacts"]}),
              ("contacts/delete", {"contact_id": b_ids["contacts"]}),
              ("tickets/resolve", {"ticket_id": b_ids["tickets"]}),
              ("ticket_replies/create", {"ticket_id": b_ids["tickets"], "ticket_reply": "hi"}),
              ("clients/update", {"client_id": world["b"], "client_name": "Taken"}),
              ("clients/archive", {"client_id": world["b"]})]
    logs = len(log_rows(world["db"]))
    for path, body in writes:
        status, answer = api.post(path, {**body, **client}, key=key)
        assert (status, answer) == (403, {"success": "False", "message": permissions.NO_CLIENT_ACCESS,
                                          "count": 0, "data": []}), (path, answer)
    assert len(log_rows(world["db"])) == logs
    with world["db"].transaction():
        assert world["db"].row("SELECT asset_notes, asset_archived_at FROM assets WHERE asset_id = :i",
                               {"i": b_ids["assets"]}) == {"asset_notes": "", "asset_archived_at": None}
        assert world["db"].scalar("SELECT client_name FROM clients WHERE client_id = :i", {"i": world["b"]}) == "Bravo"


def test_a_write_to_an_allowed_clients_record_still_works(world):
    key, api = world["keys"]["allow_a"], world["api"]
    status, body = api.post("assets/create", {"asset_name": "mine", "client_id": world["a"]}, key=key)
    asset_id = body["data"][0]["insert_id"]
    for client in ({}, {"client_id": world["a"]}):
        status, answer = api.post("assets/update", {"asset_id": asset_id, "asset_notes": f"n{len(client)}", **client},
                                  key=key)
        assert answer == {"success": "True", "count": 1}
    # naming the allowed client while the record is B's: not found within that client (200)
    b_asset = _b_records(world)["assets"]
    status, answer = api.post("assets/update", {"asset_id": b_asset, "asset_notes": "x", "client_id": world["a"]},
                              key=key)
    assert (status, answer["success"]) == (200, "False")


@pytest.mark.parametrize("user", ["archived", "contact_user", "disabled"])
def test_keys_of_archived_inactive_or_non_agent_users_are_refused(world, user):
    status, body = world["api"].get("assets/read", key=world["keys"][user])
    assert status == 403
    assert body["message"] == permissions.BAD_USER


def test_key_not_tied_to_a_user_is_refused(world):
    status, body = world["api"].get("assets/read", key=world["keys"]["untied"])
    assert status == 403 and body["message"] == permissions.NOT_TIED


def test_refused_user_writes_change_nothing(world):
    before = visible_assets(world, world["keys"]["admin"])
    world["api"].post("assets/create", {"asset_name": "nope", "client_id": world["a"]},
                      key=world["keys"]["reader"])
    world["api"].post("assets/create", {"asset_name": "nope", "client_id": world["b"]},
                      key=world["keys"]["allow_a"])
    assert visible_assets(world, world["keys"]["admin"]) == before
    assert log_rows(world["db"], log_type="Asset") == []


def test_writes_are_logged_as_the_user(world):
    world["api"].post("assets/create", {"asset_name": "mine", "client_id": world["a"]}, key=world["keys"]["tech"])
    rows = log_rows(world["db"], log_type="Asset", log_action="Create")
    assert [r["log_user_id"] for r in rows] == [str(world["users"]["tech"])]


def test_user_layout_schema_has_user_column(world):
    assert "api_key_user_id" in world["db"].columns_of("api_keys")
    assert "api_key_client_id" not in world["db"].columns_of("api_keys")


def test_cli_detects_the_user_layout_and_needs_a_user_id(world, user_database, monkeypatch, capsys):
    from itflow_api.lib import cli
    cfg, _ = user_database
    d = cfg.database
    for name, value in {"BACKEND": d.backend, "PATH": d.path, "HOST": d.host, "PORT": str(d.port),
                        "USER": d.user, "PASSWORD": d.password, "NAME": d.name}.items():
        monkeypatch.setenv(f"ITFLOW_API_DATABASE_{name}", value)
    monkeypatch.setenv("ITFLOW_API_SECURITY_KEY_HASH_SECRET", SECRET.decode())
    assert cli.main(["version"]) == 0
    assert "keys act as users" in capsys.readouterr().out
    assert cli.main(["keys", "create", "--name", "no user"]) == 2
    assert "--user-id" in capsys.readouterr().err
    assert cli.main(["keys", "create", "--name", "tech key", "--user-id", str(world["users"]["tech"])]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert world["api"].get("assets/read", key=key)[0] == 200
