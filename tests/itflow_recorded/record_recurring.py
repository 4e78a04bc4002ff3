"""Create, edit and delete recurring tickets (and recurring invoices) through ITFlow's own agent
pages and record what they store.

    python tests/itflow_recorded/record_recurring.py /path/to/itflow-newest DBNAME > itflow-newest-recurring.json

DBNAME is a MariaDB database created from that release's db.sql (nothing else in it: the
tables below are emptied and the seed written). Each step runs the page's handler with php-cli
(page_action_recurring.php: an agent's session and CSRF token set, the form posted as the
page's modal posts it, the database clock held on one second) and the rows are read back after
each step. tests/test_recurring.py writes the same seed into a newest-layout database of our
own, sends the same changes to our endpoints (`api`: only what is set, as an API caller sends
it) and compares.
"""
import json
import sys

import recording

# Children first: recurring_ticket_assets and recurring_ticket_tasks have foreign keys.
RESET = ["recurring_ticket_assets", "recurring_ticket_tasks", "recurring_tickets", "recurring_invoice_items",
         "recurring_invoices", "history", "invoice_items", "invoices", "taxes", "assets", "contacts", "clients",
         "companies", "settings", "modules", "ticket_statuses", "users", "user_roles", "logs"]
SEEDED = ("user_roles", "users", "clients", "contacts", "assets", "taxes")
# What is compared after each step: {table: ORDER BY}
TABLES = {"recurring_tickets": "recurring_ticket_id", "recurring_ticket_assets": "recurring_ticket_id, asset_id",
          "recurring_ticket_tasks": "recurring_ticket_task_id", "recurring_invoices": "recurring_invoice_id",
          "recurring_invoice_items": "item_id", "history": "history_id"}

FULL_TICKET = {"subject": "Patch the <b>servers</b> ", "details": "<p>Run the updates, then reboot.</p>",
               "priority": "High", "frequency": "Monthly", "billable": "1", "start_date": "2027-01-05",
               "assigned_to": "2", "contact_id": "1", "asset_id": "1", "category_id": "3", "ticket_template_id": "0",
               "additional_assets": ["2", "3"], "tasks_submitted": "1",
               "tasks": ["Snapshot", "", " Reboot <i>all</i> "], "task_estimates": ["15", "", "30"]}

# `form`: what the page's modal posts (the edit modal: the stored values, the edited ones
# changed); `api`: the same change as an API request, only what is set.
STEPS = [
    {"step": "create a recurring ticket with every field, two more assets and three tasks (one empty)",
     "action": "add_recurring_ticket", "form": {"client_id": "1", "billable": "0", **FULL_TICKET},
     "api": {"client_id": 1, "recurring_ticket_subject": "Patch the <b>servers</b> ",
             "recurring_ticket_details": "<p>Run the updates, then reboot.</p>", "recurring_ticket_priority": "High",
             "recurring_ticket_frequency": "Monthly", "recurring_ticket_billable": 1,
             "recurring_ticket_start_date": "2027-01-05", "recurring_ticket_assigned_to": 2,
             "recurring_ticket_contact_id": 1, "recurring_ticket_asset_id": 1, "recurring_ticket_category": 3,
             "recurring_ticket_assets": [2, 3], "recurring_ticket_tasks": ["Snapshot", "", " Reboot <i>all</i> "],
             "recurring_ticket_task_estimates": [15, 0, 30]}},
    {"step": "create one with only what the form requires",
     "action": "add_recurring_ticket",
     "form": {"client_id": "1", "billable": "0", "subject": "Check the backups", "details": "", "priority": "Low",
              "frequency": "Weekly", "start_date": "2027-01-04", "assigned_to": "0", "contact_id": "0",
              "asset_id": "0", "category_id": "0", "ticket_template_id": "0"},
     "api": {"client_id": 1, "recurring_ticket_subject": "Check the backups", "recurring_ticket_frequency": "weekly",
             "recurring_ticket_start_date": "2027-01-04"}},
    {"step": "edit the first: subject, priority, frequency, not billable, next run, unassigned, one asset, "
             "the tasks replaced", "action": "edit_recurring_ticket",
     "form": {"recurring_ticket_id": "1", "client_id": "1", "subject": "Patch the servers", "details":
              "<p>Run the updates, then reboot.</p>", "priority": "Urgent", "frequency": "Quarterly",
              "next_date": "2027-02-05", "assigned_to": "0", "contact_id": "1", "asset_id": "1", "category_id": "3",
              "ticket_template_id": "0", "additional_assets": ["3"], "tasks_submitted": "1",
              "tasks": ["Snapshot", "Verify"], "task_estimates": ["10", "5"]},
     "api": {"recurring_ticket_id": 1, "recurring_ticket_subject": "Patch the servers",
             "recurring_ticket_priority": "Urgent", "recurring_ticket_frequency": "Quarterly",
             "recurring_ticket_billable": 0, "recurring_ticket_next_run": "2027-02-05",
             "recurring_ticket_assigned_to": 0, "recurring_ticket_assets": "3",
             "recurring_ticket_tasks": "Snapshot\nVerify", "recurring_ticket_task_estimates": "10,5"}},
    {"step": "edit the second: details and the frequency, no assets and no task list sent",
     "action": "edit_recurring_ticket",
     "form": {"recurring_ticket_id": "2", "client_id": "1", "subject": "Check the backups",
              "details": "Restore one file.", "priority": "Low", "frequency": "Biweekly",
              "next_date": "2027-01-04", "assigned_to": "0", "contact_id": "0", "asset_id": "0", "category_id": "0",
              "ticket_template_id": "0"},
     "api": {"recurring_ticket_id": 2, "recurring_ticket_details": "Restore one file.",
             "recurring_ticket_frequency": "Biweekly"}},
    {"step": "delete the first (its assets and tasks go with it)", "action": "delete_recurring_ticket",
     "form": {"id": 1}, "api": {"recurring_ticket_id": 1}},
    # Recurring invoices. The edit modal of 26.08 posts no discount field (the handler reads
    # recurring_invoice_discount, and a page edit without it writes 0); the steps here post the
    # stored discount with every edit, as a form that carried it would (docs/recurring.md).
    {"step": "create a monthly recurring invoice", "action": "add_recurring_invoice",
     "form": {"client_id": "1", "frequency": "month", "start_date": "2027-01-01", "category": "0",
              "scope": " Managed <b>services</b>"},
     "api": {"client_id": 1, "recurring_invoice_frequency": "Month", "recurring_invoice_next_date": "2027-01-01",
             "recurring_invoice_scope": " Managed <b>services</b>"}},
    {"step": "create a yearly one for the other client", "action": "add_recurring_invoice",
     "form": {"client_id": "2", "frequency": "year", "start_date": "2027-06-30", "category": "0", "scope": "Hosting"},
     "api": {"client_id": 2, "recurring_invoice_frequency": "year", "recurring_invoice_next_date": "2027-06-30",
             "recurring_invoice_scope": "Hosting"}},
    {"step": "add a taxed line, a price with three decimals", "action": "add_recurring_invoice_item",
     "form": {"recurring_invoice_id": "1", "name": "Support", "description": "Monthly", "qty": "3", "price": "19.999",
              "tax_id": "1", "item_order": "1"},
     "api": {"recurring_invoice_id": 1, "item_name": "Support", "item_description": "Monthly", "item_quantity": 3,
             "item_price": "19.999", "item_tax_id": 1, "item_order": 1}},
    {"step": "add an untaxed line whose subtotal rounds up", "action": "add_recurring_invoice_item",
     "form": {"recurring_invoice_id": "1", "name": "Backup", "description": "", "qty": "1.5", "price": "0.333",
              "tax_id": "0", "item_order": "2"},
     "api": {"recurring_invoice_id": 1, "item_name": "Backup", "item_quantity": "1.5", "item_price": "0.333",
             "item_order": 2}},
    {"step": "edit the first: next date, scope, a discount", "action": "edit_recurring_invoice",
     "form": {"recurring_invoice_id": "1", "frequency": "month", "next_date": "2027-02-01", "category": "0",
              "scope": "Managed services 2027", "status": "1", "recurring_invoice_discount": "2.5"},
     "api": {"recurring_invoice_id": 1, "recurring_invoice_next_date": "2027-02-01",
             "recurring_invoice_scope": "Managed services 2027", "recurring_invoice_discount_amount": "2.5"}},
    {"step": "edit the second line: name, quantity, a tax", "action": "edit_recurring_invoice_item",
     "form": {"item_id": "2", "name": "Backup 1 TB", "description": "", "qty": "2", "price": "0.33", "tax_id": "1",
              "product_id": "0"},
     "api": {"item_id": 2, "item_name": "Backup 1 TB", "item_quantity": 2, "item_tax_id": 1}},
    {"step": "pause the first (the edit form's status 0)", "action": "edit_recurring_invoice", "endpoint": "pause",
     "form": {"recurring_invoice_id": "1", "frequency": "month", "next_date": "2027-02-01", "category": "0",
              "scope": "Managed services 2027", "status": "0", "recurring_invoice_discount": "2.5"},
     "api": {"recurring_invoice_id": 1}},
    {"step": "resume it (status 1)", "action": "edit_recurring_invoice", "endpoint": "resume",
     "form": {"recurring_invoice_id": "1", "frequency": "month", "next_date": "2027-02-01", "category": "0",
              "scope": "Managed services 2027", "status": "1", "recurring_invoice_discount": "2.5"},
     "api": {"recurring_invoice_id": 1}},
    {"step": "delete the first line (its total taken off the amount)", "action": "delete_recurring_invoice_item",
     "form": {"id": 1}, "api": {"item_id": 1}},
    {"step": "delete the second recurring invoice (its history goes too)", "action": "delete_recurring_invoice",
     "form": {"id": 2}, "api": {"recurring_invoice_id": 2}},
]


def seed():
    return {
        "settings": {"config_timezone": "UTC", "config_recurring_invoice_prefix": "REC-",
                     "config_recurring_invoice_next_number": 1},
        "taxes": [{"tax_id": 1, "tax_name": "VAT", "tax_percent": 20}],
        "user_roles": [{"role_id": 1, "role_name": "Administrator", "role_is_admin": 1}],
        "users": [{"user_id": 1, "user_name": "Agent Smith", "user_email": "smith@example.com", "user_password": "x",
                   "user_role_id": 1},
                  {"user_id": 2, "user_name": "Bea Tech", "user_email": "bea@example.com", "user_password": "x",
                   "user_role_id": 1}],
        "clients": [{"client_id": 1, "client_name": "Acme"}, {"client_id": 2, "client_name": "Beta"}],
        "contacts": [{"contact_id": 1, "contact_name": "Ann", "contact_client_id": 1}],
        "assets": [{"asset_id": n, "asset_name": f"SRV-0{n}", "asset_type": "Server", "asset_client_id": c}
                   for n, c in ((1, 1), (2, 1), (3, 1), (4, 2))],
    }


def main(itflow_root, database):
    plan = seed()
    connection = recording.prepare(database, plan, RESET, SEEDED, settings=plan["settings"])
    steps = []
    env = recording.page_env(itflow_root, database)
    for step in STEPS:
        instant, _ = recording.run_page("page_action_recurring.php", [step["action"], json.dumps(step["form"])], env,
                                        step["step"])
        steps.append({**step, "instant": instant, "after": recording.dump(connection, TABLES)})
    return {"about": "ITFlow 26.08 (database 2.6.7), agent/post/recurring_ticket.php add_recurring_ticket, "
                     "edit_recurring_ticket and delete_recurring_ticket, and agent/post/recurring_invoice.php "
                     "add_recurring_invoice, edit_recurring_invoice, delete_recurring_invoice, "
                     "add_recurring_invoice_item, edit_recurring_invoice_item and delete_recurring_invoice_item, "
                     "run with php-cli by record_recurring.py as agent user 1 (the forms as the page posts them)",
            "seed": plan, "steps": steps, "rows": recording.dump(connection, {"logs": "log_id"})}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2]), indent=1))
