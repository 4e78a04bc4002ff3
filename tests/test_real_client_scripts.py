"""Scripts shaped like the clients that talk to ITFlow's API in the field, run against ours:
no record a real client sends may be lost (docs/contract.md sections 2, 4 and 5).

- An inventory agent: looks its machine up by serial, enrols it when missing, checks in the
  same facts again and again, and later moves to another client.
- A self-registration script: the same hard-coded ids for every client it is rolled out to
  (a location id that only exists at one of them, a vendor id "1" that exists nowhere), and
  two network cards sent as a list.

What ITFlow 2.4.6 answers to the same requests is recorded (tests/itflow_recorded, cases
assets.update.identical_three_times_after_minimal_create, assets.create.ref.*,
assets.create.list.*) and replayed by test_itflow_parity.py; these tests follow the scripts
end to end.
"""
import pytest
from helpers import fetch, log_rows


def _ids(body):
    return body["data"][0]["insert_id"]


class InventoryAgent:
    """The loop of a typical agent: GET by serial, create when missing, else update with every
    fact it knows, as strings (PowerShell's ConvertTo-Json of a hashtable), "" for unknown ids."""

    def __init__(self, api, key, client_id, serial):
        self.api, self.key, self.client_id = api, key, str(client_id)
        self.facts = {"asset_name": "WS-042", "asset_serial": serial, "asset_type": "Desktop",
                      "asset_make": "HP", "asset_model": "EliteDesk 800", "asset_os": "Windows 11 Pro",
                      "asset_ip": "10.1.2.42", "asset_mac": "AA-BB-CC-DD-EE-42", "asset_vendor_id": "",
                      "asset_location_id": "", "asset_install_date": "0000-00-00"}
        self.said = []

    def check_in(self):
        status, found = self.api.get("assets/read", key=self.key, asset_serial=self.facts["asset_serial"],
                                     client_id=self.client_id)
        assert status == 200
        mine = [row for row in found.get("data", []) if row["asset_client_id"] == self.client_id]
        if not mine:
            status, answer = self.api.post("assets/create", {"client_id": self.client_id, **self.facts}, key=self.key)
            self.said.append("enrolled" if answer["success"] == "True" else f"enrol failed: {answer['message']}")
            return answer
        status, answer = self.api.post("assets/update", {"client_id": self.client_id, "asset_id": mine[0]["asset_id"],
                                                         **self.facts}, key=self.key)
        assert status == 200  # a "False" is a handled answer, never an exception in the script
        self.said.append("updated" if answer["success"] == "True" else "no changes")
        return answer


def test_inventory_agent_enrols_checks_in_and_moves_to_another_client(api, db, all_key, make_client):
    first, second = make_client("Alpha"), make_client("Bravo")
    agent = InventoryAgent(api, all_key, first, "5CG1234XYZ")
    created = agent.check_in()
    assert list(created) == ["success", "count", "data"]  # nothing to report: ITFlow's envelope exactly
    asset_id = _ids(created)
    # As in ITFlow: the first identical check-in after the create rewrites the NULL columns
    # of the update model (asset_uri_2) as '' and answers "True"; the next ones "False".
    agent.check_in()
    agent.check_in()
    agent.check_in()
    assert agent.said == ["enrolled", "updated", "no changes", "no changes"]
    assert fetch(db, "assets", asset_id=asset_id)[0]["asset_uri_2"] == ""
    # A real change is one "True".
    agent.facts["asset_os"] = "Windows 11 Pro 24H2"
    agent.check_in()
    assert agent.said[-1] == "updated"

    # Re-imaged for another customer: the agent is configured with the new client. The serial
    # is not that client's yet, so it enrols a new record there; the first client's record is
    # kept as it was (its history is that client's).
    agent.client_id = str(second)
    moved = agent.check_in()
    assert agent.said[-1] == "enrolled"
    rows = sorted(fetch(db, "assets", asset_serial="5CG1234XYZ"), key=lambda r: r["asset_id"])
    assert [(r["asset_client_id"], r["asset_os"]) for r in rows] == \
        [(str(first), "Windows 11 Pro 24H2"), (str(second), "Windows 11 Pro 24H2")]
    assert _ids(moved) != asset_id
    # The old record is archived once; a second archive is a handled "False" that writes nothing.
    logs = len(log_rows(db))
    assert api.post("assets/archive", {"client_id": str(first), "asset_id": str(asset_id)},
                    key=all_key)[1] == {"success": "True", "count": 1}
    assert len(log_rows(db)) == logs + 2
    status, again = api.post("assets/archive", {"client_id": str(first), "asset_id": str(asset_id)}, key=all_key)
    assert (status, again["success"]) == (200, "False") and len(log_rows(db)) == logs + 2


def test_inventory_agent_with_a_location_id_of_another_client_still_enrols(api, db, all_key, make_client):
    first, second = make_client("Alpha"), make_client("Bravo")
    status, location = api.post("locations/create", {"client_id": second, "location_name": "Bravo HQ"}, key=all_key)
    agent = InventoryAgent(api, all_key, first, "SN-LOC")
    agent.facts["asset_location_id"] = str(_ids(location))  # copied from the other customer's config
    answer = agent.check_in()
    assert answer["success"] == "True", answer
    assert answer["message"] == (f"Created; asset_location_id {_ids(location)} is not a location of client "
                                 f"{first} and was left empty.")
    row = fetch(db, "assets", asset_id=_ids(answer))[0]
    assert (row["asset_client_id"], row["asset_location_id"], row["asset_serial"]) == (str(first), "0", "SN-LOC")


@pytest.fixture
def three_clients(make_client):
    return [make_client(name) for name in ("Alpha", "Bravo", "Charlie")]


def test_self_registration_with_fixed_ids_across_three_clients_and_two_addresses(api, db, all_key, three_clients):
    # The script was written at the first client, where location LOCATION is its head office,
    # and then rolled out unchanged. It also sends vendor "1", which exists nowhere, and both
    # network cards' addresses.
    status, hq = api.post("locations/create", {"client_id": three_clients[0], "location_name": "Alpha HQ"},
                          key=all_key)
    location = str(_ids(hq))
    answers = []
    for n, client in enumerate(three_clients, start=1):
        body = {"client_id": str(client), "asset_name": f"REG-{n}", "asset_serial": f"SER-{n}",
                "asset_location_id": location, "asset_vendor_id": "1", "asset_contact_id": "",
                "asset_ip": ["10.0.0.5", "192.168.1.5"]}
        status, answer = api.post("assets/create", body, key=all_key)
        assert (status, answer["success"], answer["count"]) == (200, "True", "1"), answer
        answers.append(answer)
    # Every record is there, each in its own client.
    rows = {r["asset_name"]: r for r in fetch(db, "assets")}
    assert sorted(rows) == ["REG-1", "REG-2", "REG-3"]
    assert [rows[f"REG-{n}"]["asset_client_id"] for n in (1, 2, 3)] == [str(c) for c in three_clients]
    # The location is kept where it is the client's own, left empty elsewhere; the vendor nowhere.
    assert [rows[f"REG-{n}"]["asset_location_id"] for n in (1, 2, 3)] == [location, "0", "0"]
    assert {rows[f"REG-{n}"]["asset_vendor_id"] for n in (1, 2, 3)} == {"0"}
    # The first address of the list is the primary interface's.
    interfaces = fetch(db, "asset_interfaces")
    assert sorted(i["interface_ip"] for i in interfaces) == ["10.0.0.5"] * 3
    # Each answer says what was stored other than as sent.
    for n, (client, answer) in enumerate(zip(three_clients, answers, strict=True), start=1):
        message = answer["message"]
        assert message.startswith("Created; ") and "asset_ip was sent as a list of 2" in message
        assert f"asset_vendor_id 1 is not a vendor of client {client}" in message
        assert (f"asset_location_id {location} is not a location" in message) == (n != 1), message


def test_self_registration_run_twice_does_not_duplicate_or_fail(api, db, all_key, three_clients):
    """The same script run again (a scheduled task): look up by serial, update, "False" once
    nothing changes; with references it cannot keep, the update still goes through."""
    client = three_clients[1]
    body = {"client_id": str(client), "asset_name": "REG-2", "asset_serial": "SER-2", "asset_vendor_id": "1",
            "asset_ip": ["10.0.0.5", "192.168.1.5"]}
    created = api.post("assets/create", body, key=all_key)[1]
    outcomes = []
    for _ in range(3):
        status, found = api.get("assets/read", key=all_key, asset_serial="SER-2", client_id=client)
        asset_id = found["data"][0]["asset_id"]
        status, answer = api.post("assets/update", {"asset_id": asset_id, **body}, key=all_key)
        assert status == 200 and "asset_vendor_id 1 is not a vendor" in answer["message"]
        outcomes.append(answer["success"])
    assert outcomes == ["True", "False", "False"]
    assert [r["asset_id"] for r in fetch(db, "assets")] == [str(_ids(created))]
