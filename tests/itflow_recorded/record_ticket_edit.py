"""Run the ticket edit handlers of ITFlow's own agent ticket page and record what they store.

    python tests/itflow_recorded/record_ticket_edit.py /path/to/itflow-newest DBNAME > itflow-newest-ticket-edit.json

As record_ticket_actions.py (whose seed and tables it uses, with contacts, a vendor, assets,
a second SLA and SLA assignments added): DBNAME is a MariaDB database created from that
release's db.sql; its tables are emptied and the seed written; each step posts one of the
page's edit forms with php-cli (page_action_edit.php, the database clock held on one second);
the rows are read back at the end. tests/test_ticket_edit.py sends each step's `body` to our
tickets/update and compares.
"""
import json
import os
import sys
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import record_ticket_actions as base  # noqa: E402
import recording  # noqa: E402

TABLES = {"tickets": "ticket_id", "ticket_history": "ticket_history_id", "sla_history": "sla_history_id",
          "ticket_assets": "ticket_id, asset_id", "ticket_replies": "ticket_reply_id", "logs": "log_id"}
EXTRA_TABLES = ("contacts", "vendors", "assets", "sla_assignments")

# (label, the page's handler, the form it posts, what our tickets/update is sent)
STEPS = [
    ("the full edit form on an Open SLA ticket: priority High -> Low (another SLA applies), assignee, billable, "
     "vendor, asset, additional assets, due date",
     "edit_ticket",
     {"ticket_id": 3, "contact_id": 0, "assigned_to": 2, "category_id": 0, "subject": "Case 3 (edited)",
      "billable": 1, "priority": "Low", "details": "<p>New details</p>", "vendor_ticket_number": "V-77",
      "vendor_id": 1, "asset_id": 1, "location_id": 0, "project_id": 0, "due": "2030-01-02T09:30",
      "additional_assets": [2, 3]},
     {"ticket_id": 3, "ticket_contact_id": 0, "ticket_assigned_to": 2, "ticket_category": 0,
      "ticket_subject": "Case 3 (edited)", "ticket_billable": 1, "ticket_priority": "Low",
      "ticket_details": "<p>New details</p>", "ticket_vendor_ticket_id": "V-77", "ticket_vendor_id": 1,
      "ticket_asset_id": 1, "ticket_location_id": 0, "ticket_due_at": "2030-01-02 09:30:00",
      "ticket_assets": [2, 3]}),
    ("priority of a New SLA ticket, High -> Low", "edit_ticket_priority",
     {"ticket_id": 1, "priority": "Low"}, {"ticket_id": 1, "ticket_priority": "Low"}),
    ("priority to one no SLA covers (the SLA cleared)", "edit_ticket_priority",
     {"ticket_id": 1, "priority": "Critical"}, {"ticket_id": 1, "ticket_priority": "Critical"}),
    ("priority of a resolved ticket whose clock was paused (the budget left counts from now)",
     "edit_ticket_priority", {"ticket_id": 2, "priority": "Low"}, {"ticket_id": 2, "ticket_priority": "Low"}),
    ("contact, none -> one", "edit_ticket_contact", {"ticket_id": 1, "contact": 1, "contact_notify": 0},
     {"ticket_id": 1, "ticket_contact_id": 1}),
    ("contact, one -> another", "edit_ticket_contact", {"ticket_id": 1, "contact": 2, "contact_notify": 0},
     {"ticket_id": 1, "ticket_contact_id": 2}),
    ("vendor", "edit_ticket_vendor", {"ticket_id": 1, "vendor": 1}, {"ticket_id": 1, "ticket_vendor_id": 1}),
    ("asset and additional assets", "edit_ticket_asset", {"ticket_id": 1, "asset": 2, "additional_assets": [1, 3]},
     {"ticket_id": 1, "ticket_asset_id": 2, "ticket_assets": [1, 3]}),
    ("the additional assets replaced", "edit_ticket_asset", {"ticket_id": 1, "asset": 2, "additional_assets": [3]},
     {"ticket_id": 1, "ticket_asset_id": 2, "ticket_assets": [3]}),
    ("billable", "edit_ticket_billable_status", {"ticket_id": 1, "billable_status": 1},
     {"ticket_id": 1, "ticket_billable": 1}),
]


def seed(start):
    plan = base.seed(start)
    plan["slas"].append({"sla_id": 2, "sla_name": "Bronze", "sla_response_minutes": 120,
                         "sla_resolution_minutes": 1440})
    plan["sla_assignments"] = [
        {"sla_assignment_id": 1, "sla_assignment_client_id": 1, "sla_assignment_priority": "High",
         "sla_assignment_sla_id": 1},
        {"sla_assignment_id": 2, "sla_assignment_client_id": 1, "sla_assignment_priority": "Low",
         "sla_assignment_sla_id": 2}]
    plan["contacts"] = [{"contact_id": 1, "contact_name": "Carl Contact", "contact_client_id": 1},
                        {"contact_id": 2, "contact_name": "Dana Desk", "contact_client_id": 1}]
    plan["vendors"] = [{"vendor_id": 1, "vendor_name": "Vendo", "vendor_client_id": 1}]
    plan["assets"] = [{"asset_id": n, "asset_type": "Desktop", "asset_name": name, "asset_make": "", "asset_client_id": 1}
                      for n, name in ((1, "PC-01"), (2, "PC-02"), (3, "Printer"))]
    return plan


def main(itflow_root, database):
    plan = seed(datetime.utcnow().replace(microsecond=0))
    connection = recording.prepare(database, plan, ["ticket_assets", *EXTRA_TABLES, *base.RESET],
                                   (*base.SEEDED, *EXTRA_TABLES), settings=plan["settings"])
    steps = []
    env = recording.page_env(itflow_root, database)
    for label, handler, form, body in STEPS:
        instant, _ = recording.run_page("page_action_edit.php", [handler, json.dumps(form)], env, label)
        steps.append({"step": label, "handler": handler, "form": form, "body": body, "instant": instant})
    return {"about": "ITFlow 26.08 (database 2.6.7): agent/post/ticket.php edit_ticket, edit_ticket_priority, "
                     "edit_ticket_contact, edit_ticket_vendor, edit_ticket_asset and edit_ticket_billable_status, "
                     "run with php-cli by record_ticket_edit.py as agent user 1",
            "seed": plan, "steps": steps, "rows": recording.dump(connection, TABLES)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2]), indent=1))
