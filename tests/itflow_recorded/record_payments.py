"""Add and delete payments through ITFlow's own agent payment page and record what it stores.

    python tests/itflow_recorded/record_payments.py /path/to/itflow-newest DBNAME > itflow-newest-payments.json

DBNAME is a MariaDB database created from that release's db.sql (nothing else in it: the
tables below are emptied and SEED written). Each step runs the page's handler with php-cli
(page_action_billing.php: an agent's session and CSRF token set, the database clock held on
one second) and the rows are read back after each step and at the end. tests/test_payments.py writes the same
SEED into a newest-layout database of our own, sends the same actions to payments/create and
payments/delete with the clock at each recorded instant, and compares.
"""
import json
import sys

import recording

RESET = [*recording.BASE_RESET, "users", "user_roles", "clients", "accounts", "invoices", "invoice_items", "payments",
         "history", "logs", "notifications", "email_queue"]
SEEDED = ("user_roles", "users", "clients", "accounts", "invoices", "invoice_items")
TABLES = {"payments": "payment_id", "invoices": "invoice_id", "history": "history_id", "logs": "log_id",
          "email_queue": "email_id"}

# (label, page action, invoice id (add) or payment id (delete), add: amount, date, account,
#  method, reference; whether the page stores it)
STEPS = [
    ("partial payment (Sent -> Partial)", "add", 1, ["40.00", "2026-11-30", "1", "Check", "CHK-1001"], True),
    ("payment completing the invoice (Partial -> Paid)", "add", 1, ["60", "2026-12-01", "2", "Bank Transfer", "TX 77"],
     True),
    ("over-payment: more than the balance is refused, nothing stored", "add", 2, ["300", "2026-12-01", "1", "Cash", ""],
     False),
    ("partial payment on a Viewed invoice, three decimals stored to the cent", "add", 2,
     ["100.005", "2026-12-02", "1", "Cash", "drawer"], True),
    ("payment of exactly the balance of an invoice with a discount", "add", 3,
     ["80.25", "2026-12-02", "1", "Credit Card", "**** 4242"], True),
    ("delete a payment of a Paid invoice (Paid -> Partial)", "delete", 2, None, True),
    ("delete the only payment of an invoice (Partial -> Sent)", "delete", 3, None, True),
    ("delete the last payment of the first invoice (Partial -> Sent)", "delete", 1, None, True),
]


def seed():
    """The rows both sides start from: two clients, two accounts, four invoices."""
    def invoice(number, client, status, amount, **columns):
        row = {"invoice_id": number, "invoice_prefix": "INV-", "invoice_number": number, "invoice_status": status,
               "invoice_date": "2026-11-01", "invoice_due": "2026-12-01", "invoice_amount": amount,
               "invoice_currency_code": "USD", "invoice_url_key": f"key{number:029d}", "invoice_category_id": 0,
               "invoice_created_at": "2026-11-01 09:00:00",
               "invoice_client_id": client}
        row.update(columns)
        return row

    def item(item_id, invoice_id, name, price):
        return {"item_id": item_id, "item_name": name, "item_quantity": "1.00", "item_price": price,
                "item_subtotal": price, "item_tax": "0.00", "item_total": price, "item_order": 1,
                "item_invoice_id": invoice_id}

    return {
        "user_roles": [{"role_id": 1, "role_name": "Administrator", "role_is_admin": 1}],
        "users": [{"user_id": 1, "user_name": "Agent Smith", "user_email": "smith@example.com", "user_password": "x",
                   "user_role_id": 1}],
        "clients": [{"client_id": 1, "client_name": "Acme", "client_currency_code": "USD"},
                    {"client_id": 2, "client_name": "Beta", "client_currency_code": "EUR"}],
        "accounts": [{"account_id": 1, "account_name": "Checking", "account_currency_code": "USD"},
                     {"account_id": 2, "account_name": "Savings", "account_currency_code": "USD"}],
        "invoices": [
            invoice(1, 1, "Sent", "100.00"),
            invoice(2, 2, "Viewed", "250.50", invoice_currency_code="EUR"),
            invoice(3, 1, "Sent", "80.25", invoice_discount_amount="19.75"),
            invoice(4, 1, "Draft", "10.00"),
        ],
        "invoice_items": [item(1, 1, "Support block", "100.00"), item(2, 2, "Laptop", "250.50"),
                          item(3, 3, "Setup", "100.00"), item(4, 4, "Cable", "10.00")],
    }


def main(itflow_root, database):
    plan = seed()
    connection = recording.prepare(database, plan, RESET, SEEDED)
    steps = []
    env = recording.page_env(itflow_root, database)
    for label, action, record_id, form, stored in STEPS:
        before = recording.dump(connection, TABLES)["payments"]
        instant, _ = recording.run_page("page_action_billing.php", [action, str(record_id), *(form or [])], env, label)
        if (recording.dump(connection, TABLES)["payments"] != before) != stored:
            raise SystemExit(f"{label}: the page {'did not store' if stored else 'stored'} it")
        step = {"step": label, "action": action, "instant": instant, "stored": stored}
        if action == "add":
            step.update(zip(("invoice_id", "amount", "date", "account", "method", "reference"),
                            [record_id, *form], strict=True))
        else:
            step["payment_id"] = record_id
        after = recording.dump(connection, TABLES)
        step["after"] = {"payments": after["payments"], "invoices": after["invoices"]}  # the state each step left
        steps.append(step)
    return {"about": "ITFlow 26.08 (database 2.6.7), agent/post/payment.php add_payment and delete_payment run "
                     "with php-cli by record_payments.py as agent user 1 (the form as the payment modal posts it)",
            "seed": plan, "steps": steps, "rows": recording.dump(connection, TABLES)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2]), indent=1))
