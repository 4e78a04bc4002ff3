"""Run the client and contact edits of ITFlow's own agent pages with their tags and record what they store.

    python tests/itflow_recorded/record_tags.py /path/to/itflow-newest DBNAME > itflow-newest-tags.json

DBNAME is a MariaDB database created from that release's db.sql (the tables below are emptied
and the seed written). Each step runs the page's edit_client or edit_contact with php-cli (page_action_tags.php:
an agent's session and CSRF token, the database clock held on one second), the form as the
edit modal posts it with its tags multi-select; the clients and contacts rows, every
client_tags and contact_tags row and the logs are read back after each step. tests/test_tags.py
sends each step's `body` to our clients/update or contacts/update and compares.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import recording  # noqa: E402

SEEDED = ("user_roles", "users", "clients", "categories", "tags", "client_tags", "contacts", "contact_tags", "assets",
          "asset_interfaces", "asset_tags")
RESET = [*recording.BASE_RESET, *SEEDED, "logs"]
DUMPED = {"clients": "client_id", "client_tags": "client_id, tag_id", "contacts": "contact_id",
          "contact_tags": "contact_id, tag_id", "assets": "asset_id",
          "asset_tags": "asset_tag_asset_id, asset_tag_tag_id", "logs": "log_id"}

# The edit form's other fields, as the modal posts them for the seeded client (its referral
# a Referral category that exists, so that the page creates none).
FORM = {"client_id": 1, "name": "Acme", "type": "Company", "website": "acme.example", "referral": "Web",
        "rate": "90", "net_terms": "30", "tax_id_number": "", "abbreviation": "ACM", "notes": "", "lead": 0}
BODY = {"client_id": 1, "client_name": "Acme", "client_type": "Company", "client_website": "acme.example",
        "client_referral": "Web", "client_rate": "90", "client_net_terms": "30", "client_tax_id_number": "",
        "client_abbreviation": "ACM", "client_notes": "", "client_is_lead": 0}

# The contact edit form's fields, as the modal posts them for the seeded contact (no portal
# login: no auth method).
CONTACT_FORM = {"contact_id": 1, "name": "Ann Lee", "title": "IT", "department": "Ops", "phone_country_code": "1",
                "phone": "5551234", "extension": "", "mobile_country_code": "1", "mobile": "", "email": "ann@acme.example",
                "notes": "", "pin": "", "auth_method": "", "location": 0, "contact_important": 0, "contact_billing": 0,
                "contact_technical": 0}
CONTACT_BODY = {"contact_id": 1, "contact_name": "Ann Lee", "contact_title": "IT", "contact_department": "Ops",
                "contact_phone": "5551234", "contact_extension": "", "contact_mobile": "",
                "contact_email": "ann@acme.example", "contact_notes": "", "contact_pin": "", "contact_important": 0,
                "contact_billing": 0, "contact_technical": 0, "contact_location_id": 0}

# The asset edit form's fields, as the modal posts them for the seeded asset.
ASSET_FORM = {"asset_id": 1, "name": "PC-01", "description": "", "type": "Desktop", "make": "Dell", "model": "",
              "serial": "", "os": "", "ip": "", "ipv6": "", "nat_ip": "", "mac": "", "uri": "", "uri_2": "",
              "uri_client": "", "status": "Deployed", "location": 0, "physical_location": "", "vendor": 0,
              "contact": 0, "network": 0, "purchase_reference": "", "purchase_date": "", "warranty_expire": "",
              "install_date": "", "notes": "", "favorite": 0}
ASSET_BODY = {"asset_id": 1, "asset_name": "PC-01", "asset_description": "", "asset_type": "Desktop",
              "asset_make": "Dell", "asset_model": "", "asset_serial": "", "asset_os": "", "asset_uri": "",
              "asset_uri_2": "", "asset_status": "Deployed", "asset_notes": ""}

# (label, the page's action, what it is posted, our function, what our endpoint is sent)
STEPS = [
    ("two tags on a client with none", "edit_client", {**FORM, "tags": [2, 1]}, {**BODY, "tags": "VIP,Managed"}),
    ("one replaced, one kept, the name changed", "edit_client", {**FORM, "name": "Acme Ltd", "tags": [1, 3]},
     {**BODY, "client_name": "Acme Ltd", "tags": [1, "monthly"]}),
    ("the same tags again", "edit_client", {**FORM, "name": "Acme Ltd", "tags": [1, 3]},
     {**BODY, "client_name": "Acme Ltd", "tags": "3,1"}),
    ("none selected: the form posts no tags", "edit_client", {**FORM, "name": "Acme Ltd"},
     {**BODY, "client_name": "Acme Ltd", "tags": []}),
    ("the other client's tags stay", "edit_client",
     {**FORM, "client_id": 2, "name": "Beta", "abbreviation": "BET", "tags": [3]},
     {**BODY, "client_id": 2, "client_name": "Beta", "client_abbreviation": "BET", "tags": ["Monthly"]}),
    ("a contact's two tags, by name and id", "edit_contact", {**CONTACT_FORM, "tags": [4, 5]},
     {**CONTACT_BODY, "tags": ["vip", 5]}),
    ("a contact's tags replaced, the title changed", "edit_contact", {**CONTACT_FORM, "title": "CTO", "tags": [5]},
     {**CONTACT_BODY, "contact_title": "CTO", "tags": "Billing"}),
    ("a contact's tags all removed", "edit_contact", {**CONTACT_FORM, "title": "CTO"},
     {**CONTACT_BODY, "contact_title": "CTO", "tags": ""}),
    ("an asset's two tags", "edit_asset", {**ASSET_FORM, "tags": [6, 7]}, {**ASSET_BODY, "tags": "Server, 7"}),
    ("an asset's tags all removed", "edit_asset", ASSET_FORM, {**ASSET_BODY, "tags": []}),
]


def seed():
    return {
        "user_roles": [{"role_id": 1, "role_name": "Administrator", "role_is_admin": 1}],
        "users": [{"user_id": 1, "user_name": "Agent Smith", "user_email": "smith@example.com", "user_password": "x",
                   "user_role_id": 1}],
        "clients": [{"client_id": 1, "client_name": "Acme", "client_type": "Company", "client_website": "acme.example",
                     "client_referral": "Web", "client_rate": 90, "client_net_terms": 30, "client_abbreviation": "ACM"},
                    {"client_id": 2, "client_name": "Beta", "client_abbreviation": "BET", "client_net_terms": 30}],
        "categories": [{"category_id": 1, "category_name": "Web", "category_type": "Referral"}],
        "tags": [{"tag_id": 1, "tag_name": "Managed", "tag_type": 1},
                 {"tag_id": 2, "tag_name": "VIP", "tag_type": 1},
                 {"tag_id": 3, "tag_name": "Monthly", "tag_type": 1},
                 {"tag_id": 4, "tag_name": "VIP", "tag_type": 3},  # a contact tag of the same name
                 {"tag_id": 5, "tag_name": "Billing", "tag_type": 3},
                 {"tag_id": 6, "tag_name": "Server", "tag_type": 5},
                 {"tag_id": 7, "tag_name": "Leased", "tag_type": 5}],
        "client_tags": [{"client_id": 2, "tag_id": 2}],
        "contacts": [{"contact_id": 1, "contact_name": "Ann Lee", "contact_title": "IT", "contact_department": "Ops",
                      "contact_phone_country_code": "1", "contact_phone": "5551234", "contact_mobile_country_code": "1",
                      "contact_email": "ann@acme.example", "contact_client_id": 1},
                     {"contact_id": 2, "contact_name": "Bob Ray", "contact_email": "bob@beta.example",
                      "contact_client_id": 2}],
        "contact_tags": [{"contact_id": 2, "tag_id": 4}],
        "assets": [{"asset_id": 1, "asset_name": "PC-01", "asset_type": "Desktop", "asset_make": "Dell",
                    "asset_description": "", "asset_model": "", "asset_serial": "", "asset_os": "", "asset_uri": "",
                    "asset_uri_2": "", "asset_uri_client": "", "asset_status": "Deployed",
                    "asset_purchase_reference": "", "asset_physical_location": "", "asset_notes": "",
                    "asset_client_id": 1}],
        "asset_interfaces": [{"interface_id": 1, "interface_name": "01", "interface_primary": 1, "interface_ip": "",
                              "interface_mac": "", "interface_nat_ip": "", "interface_ipv6": "",
                              "interface_asset_id": 1}],
        "asset_tags": [],
    }


def main(itflow_root, database):
    plan = seed()
    connection = recording.prepare(database, plan, RESET, SEEDED)
    env = recording.page_env(itflow_root, database)
    steps = []
    for label, action, form, body in STEPS:
        instant, _ = recording.run_page("page_action_tags.php", [action, json.dumps(form)], env, label)
        module = {"edit_client": "clients", "edit_contact": "contacts", "edit_asset": "assets"}[action]
        steps.append({"step": label, "action": action, "form": form, "function": f"{module}/update", "body": body,
                      "instant": instant, "after": recording.dump(connection, DUMPED)})
    return {"about": "ITFlow 26.08 (database 2.6.7), agent/post/client.php edit_client, "
                     "agent/post/contact.php edit_contact and agent/post/asset.php edit_asset with the tags "
                     "multi-select, run with php-cli by record_tags.py as agent user 1",
            "seed": plan, "steps": steps, "rows": recording.dump(connection, DUMPED)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2]), indent=1))
