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
import os
import subprocess
import sys

from record_ticket_actions import _connect, _insert

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, os.pardir, os.pardir))

from itflow_api.lib.itflow import schema  # noqa: E402

RESET = ["companies", "settings", "modules", "ticket_statuses", "users", "user_roles", "clients", "accounts",
         "invoices", "invoice_items", "payments", "history", "logs", "notifications", "email_queue"]
SEEDED = ("user_roles", "users", "clients", "accounts", "invoices", "invoice_items")

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


def fill(connection, plan):
    """Each seed row with ITFlow's empty value ('' or 0) in every NOT NULL column that has no
    default, as ITFlow's own inserts leave them (the rows are stored filled, for both sides)."""
    with connection.cursor() as cursor:
        for table in SEEDED:
            cursor.execute("SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                           "DATABASE() AND TABLE_NAME = %s AND IS_NULLABLE = 'NO' AND COLUMN_DEFAULT IS NULL "
                           "AND EXTRA NOT LIKE '%%auto_increment%%'", [table])
            needed = cursor.fetchall()
            for row in plan[table]:
                for name, kind in needed:
                    row.setdefault(name, 0 if kind in ("int", "tinyint", "decimal", "bigint", "smallint") else "")


def write_seed(connection, plan):
    with connection.cursor() as cursor:
        for table in RESET:
            cursor.execute(f"DELETE FROM {table}")
            cursor.execute(f"ALTER TABLE {table} AUTO_INCREMENT = 1")
        for table, _, row in schema.seed_rows(schema.NEWEST_VERSION):
            _insert(cursor, table, row)
        for table in SEEDED:
            for row in plan[table]:
                _insert(cursor, table, row)


def dump(connection):
    def rows(sql):
        with connection.cursor() as cursor:
            cursor.execute(sql)
            names = [d[0] for d in cursor.description]
            return [{n: (None if v is None else str(v)) for n, v in zip(names, row, strict=True)}
                    for row in cursor.fetchall()]
    return {
        "payments": rows("SELECT * FROM payments ORDER BY payment_id"),
        "invoices": rows("SELECT * FROM invoices ORDER BY invoice_id"),
        "history": rows("SELECT * FROM history ORDER BY history_id"),
        "logs": rows("SELECT * FROM logs ORDER BY log_id"),
        "email_queue": rows("SELECT * FROM email_queue ORDER BY email_id"),
    }


def main(itflow_root, database):
    connection = _connect(database)
    plan = seed()
    fill(connection, plan)
    write_seed(connection, plan)
    steps = []
    env = {**os.environ, "ITFLOW_ROOT": itflow_root, "ITFLOW_DB": database}
    for label, action, record_id, form, stored in STEPS:
        args = ["php", os.path.join(HERE, "page_action_billing.php"), action, str(record_id), *(form or [])]
        before = dump(connection)["payments"]
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        if done.returncode != 0 or done.stdout.count("\n") < 1:
            raise SystemExit(f"{label}: php answered {done.returncode}\n{done.stdout}\n{done.stderr}")
        if (dump(connection)["payments"] != before) != stored:
            raise SystemExit(f"{label}: the page {'did not store' if stored else 'stored'} it")
        step = {"step": label, "action": action, "instant": done.stdout.splitlines()[0].strip(), "stored": stored}
        if action == "add":
            step.update(zip(("invoice_id", "amount", "date", "account", "method", "reference"),
                            [record_id, *form], strict=True))
        else:
            step["payment_id"] = record_id
        after = dump(connection)
        step["after"] = {"payments": after["payments"], "invoices": after["invoices"]}  # the state each step left
        steps.append(step)
    return {"about": "ITFlow 26.08 (database 2.6.7), agent/post/payment.php add_payment and delete_payment run "
                     "with php-cli by record_payments.py as agent user 1 (the form as the payment modal posts it)",
            "seed": plan, "steps": steps, "rows": dump(connection)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2]), indent=1))
