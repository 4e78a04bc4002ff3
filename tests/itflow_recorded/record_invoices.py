"""Create and change invoices through ITFlow's own agent invoice page and record what it stores.

    python tests/itflow_recorded/record_invoices.py /path/to/itflow-newest DBNAME > itflow-newest-invoices.json

DBNAME is a MariaDB database created from that release's db.sql (nothing else in it: the
tables below are emptied and the seed written). Each step runs the page's handler with php-cli
(page_action_sales.php: an agent's session and CSRF token set, the form posted as the invoice
page's modals and links send it, the database clock held on one second) and the rows are read
back after each step. tests/test_invoices.py writes the same seed into a newest-layout database
of our own, sends the same changes to invoices/create (a step's `api`; the page steps after it
without one are what that one request does: its lines), invoices/update, mark_sent, cancel and
invoice_items/create and delete, and compares.
"""
import json
import os
import sys

import recording

RESET = [*recording.BASE_RESET, "users", "user_roles", "clients", "taxes", "products", "product_stock", "invoices",
         "invoice_items", "payments", "history", "logs", "quotes", "quote_items"]
SEEDED = ("user_roles", "users", "clients", "taxes", "products", "product_stock")
TABLES = {"invoices": "invoice_id", "invoice_items": "item_id", "history": "history_id", "logs": "log_id",
          "product_stock": "stock_id", "quotes": "quote_id", "quote_items": "item_id"}


def item(invoice_id, name, qty, price, tax_id, product_id, order, description=""):
    """The invoice page's add-line form (agent/invoice.php): item_order is the number of lines
    already there plus one."""
    return {"add_invoice_item": 1, "invoice_id": invoice_id, "name": name, "description": description, "qty": qty,
            "price": price, "tax_id": tax_id, "product_id": product_id, "item_order": order}


def api_line(form):
    line = {k: form[k] for k in ("name", "qty", "price")}
    line.update({k: int(form[k]) for k in ("tax_id", "product_id") if int(form[k])})
    if form["description"]:
        line["description"] = form["description"]
    return line


LINES_1 = [item(1, "Support hours", "3", "33.335", 1, 0, 1, "Remote, December"),  # 100.005 and 20.001: rounding
           item(1, "USB-C cable", "2", "4.99", 2, 1, 2),   # a product: 2 taken from its stock; 8.25 % tax
           item(1, "Setup", "1.5", "19.99", 0, 2, 3)]       # 29.985 stored as 29.99 (a float rounds it to 29.98)

STEPS = [
    {"step": "create an invoice for a client with 30 days' terms", "handler": "invoice", "method": "POST",
     "form": {"add_invoice": 1, "client_id": 1, "date": "2026-12-01", "category": 0, "scope": "Managed services",
              "invoice_discount": ""},
     "api": {"path": "invoices/create", "body": {
         "client_id": 1, "invoice_date": "2026-12-01", "invoice_scope": "Managed services",
         "items": [api_line(f) for f in LINES_1]}}},
    *({"step": f"add a line: {f['name']}", "handler": "invoice", "method": "POST", "form": f, "api": None}
      for f in LINES_1),
    {"step": "the next invoice, for a client with 15 days' terms, with a discount of three decimals",
     "handler": "invoice", "method": "POST",
     "form": {"add_invoice": 1, "client_id": 2, "date": "2026-12-02", "category": 0, "scope": "",
              "invoice_discount": "12.345"},
     "api": {"path": "invoices/create", "body": {"client_id": 2, "invoice_date": "2026-12-02",
                                                 "invoice_discount_amount": "12.345"}}},
    {"step": "add a taxed line to the discounted invoice", "handler": "invoice", "method": "POST",
     "form": item(2, "Laptop", "1", "899", 2, 0, 1),
     "api": {"path": "invoice_items/create", "body": {"invoice_id": 2, **api_line(item(2, "Laptop", "1", "899", 2, 0,
                                                                                        1))}}},
    {"step": "edit the first invoice: a discount, another scope, dates", "handler": "invoice", "method": "POST",
     "form": {"edit_invoice": 1, "invoice_id": 1, "date": "2026-12-03", "due": "2027-01-15", "category": 0,
              "invoice_discount": "10", "scope": "Managed services, December"},
     "api": {"path": "invoices/update", "body": {"invoice_id": 1, "invoice_date": "2026-12-03",
                                                 "invoice_due": "2027-01-15", "invoice_discount_amount": "10",
                                                 "invoice_scope": "Managed services, December"}}},
    {"step": "remove the cable line (its quantity back to stock)", "handler": "invoice", "method": "GET",
     "form": {"delete_invoice_item": 2}, "api": {"path": "invoice_items/delete", "body": {"item_id": 2}}},
    {"step": "mark the first invoice sent", "handler": "invoice", "method": "GET",
     "form": {"mark_invoice_sent": 1}, "api": {"path": "invoices/mark_sent", "body": {"invoice_id": 1}}},
    {"step": "cancel the second invoice", "handler": "invoice", "method": "GET",
     "form": {"cancel_invoice": 2}, "api": {"path": "invoices/cancel", "body": {"invoice_id": 2}}},
]


def seed():
    return {
        "settings": {"config_invoice_prefix": "INV-", "config_invoice_next_number": 7,
                     "config_quote_prefix": "QUO-", "config_quote_next_number": 3},
        "user_roles": [{"role_id": 1, "role_name": "Administrator", "role_is_admin": 1}],
        "users": [{"user_id": 1, "user_name": "Agent Smith", "user_email": "smith@example.com", "user_password": "x",
                   "user_role_id": 1}],
        "clients": [{"client_id": 1, "client_name": "Acme", "client_currency_code": "USD", "client_net_terms": 30},
                    {"client_id": 2, "client_name": "Beta", "client_currency_code": "EUR", "client_net_terms": 15}],
        "taxes": [{"tax_id": 1, "tax_name": "VAT", "tax_percent": 20},
                  {"tax_id": 2, "tax_name": "Sales tax", "tax_percent": 8.25}],
        "products": [{"product_id": 1, "product_name": "USB-C cable", "product_type": "product",
                      "product_price": "4.99", "product_currency_code": "USD", "product_category_id": 0},
                     {"product_id": 2, "product_name": "Setup", "product_type": "service",
                      "product_price": "19.99", "product_currency_code": "USD", "product_category_id": 0}],
        "product_stock": [{"stock_id": 1, "stock_qty": 10, "stock_note": "Delivery", "stock_product_id": 1,
                           "stock_created_at": "2026-11-01 09:00:00"}],
    }


def dump(connection):
    found = recording.dump(connection, TABLES)
    found["settings"] = recording.rows(connection, "SELECT config_invoice_next_number, config_quote_next_number FROM settings")
    return found


def main(itflow_root, database, steps=STEPS, about="agent/post/invoice.php"):
    plan = seed()
    connection = recording.prepare(database, plan, RESET, SEEDED, settings=plan["settings"])
    done_steps = []
    env = recording.page_env(itflow_root, database)
    for step in steps:
        args = [step["handler"], step["method"], json.dumps(step["form"])]
        instant, _ = recording.run_page("page_action_sales.php", args, env, step["step"])
        done_steps.append({**step, "instant": instant, "after": dump(connection)})
    return {"about": f"ITFlow 26.08 (database 2.6.7), {about} run with php-cli by "
                     f"{os.path.basename(sys.argv[0])} as agent user 1 (the forms as the page's modals and links "
                     "send them)",
            "seed": plan, "steps": done_steps}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2]), indent=1))
