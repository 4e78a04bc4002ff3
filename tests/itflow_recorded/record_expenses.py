"""Run add_expense, edit_expense and delete_expense through ITFlow's own agent expense page and record what they store.

    python tests/itflow_recorded/record_expenses.py /path/to/itflow-newest DBNAME > itflow-newest-expenses.json

DBNAME is a MariaDB database created from that release's db.sql (the tables below are emptied
and the seed written). Each step runs the page's handler with php-cli (page_action_expense.php:
an agent's session and CSRF token set, the database clock held on one second); the rows are
read back at the end. tests/test_expenses.py sends each step's `body` to our expenses
endpoints and compares.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import record_ticket_actions as base  # noqa: E402

SEEDED = ("user_roles", "users", "clients", "vendors", "accounts", "categories")
RESET = ["companies", "settings", "modules", "ticket_statuses", *SEEDED, "expenses", "logs"]

# (label, the page's action, what it is sent, what our endpoint is sent)
STEPS = [
    ("an expense of a client, the amount past the cent", "add_expense",
     {"date": "2026-11-30", "amount": "12.345", "account": 1, "vendor": 2, "client_id": 1, "category": 1,
      "description": "Train to the client", "reference": "R-1"},
     ("create", {"expense_date": "2026-11-30", "expense_amount": "12.345", "expense_account_id": 1,
                 "expense_vendor_id": 2, "client_id": 1, "expense_category_id": "travel",
                 "expense_description": "Train to the client", "expense_reference": "R-1"})),
    ("a company expense (client 0), tags in the description", "add_expense",
     {"date": "2026-12-01", "amount": "99.99", "account": 1, "vendor": 1, "client_id": 0, "category": 2,
      "description": " <b>Fuel</b> & oil ", "reference": ""},
     ("create", {"expense_date": "2026-12-01", "expense_amount": "99.99", "expense_account_id": 1,
                 "expense_vendor_id": 1, "client_id": 0, "expense_category_id": 2,
                 "expense_description": " <b>Fuel</b> & oil ", "expense_reference": ""})),
    ("edit the first: amount, category, reference", "edit_expense",
     {"expense_id": 1, "date": "2026-11-29", "amount": "20.5", "account": 1, "vendor": 2, "client_id": 1,
      "category": 2, "description": "Train to the client", "reference": "R-2"},
     ("update", {"expense_id": 1, "expense_date": "2026-11-29", "expense_amount": "20.5",
                 "expense_account_id": 1, "expense_vendor_id": 2, "expense_category_id": "Fuel",
                 "expense_description": "Train to the client", "expense_reference": "R-2"})),
    ("delete the company expense", "delete_expense", 2, ("delete", {"expense_id": 2})),
]


def seed():
    return {
        "user_roles": [{"role_id": 1, "role_name": "Administrator", "role_is_admin": 1}],
        "users": [{"user_id": 1, "user_name": "Agent Smith", "user_email": "smith@example.com", "user_password": "x",
                   "user_role_id": 1}],
        "clients": [{"client_id": 1, "client_name": "Acme"}],
        "vendors": [{"vendor_id": 1, "vendor_name": "Fuel Co", "vendor_client_id": 0},
                    {"vendor_id": 2, "vendor_name": "Rail", "vendor_client_id": 0}],
        "accounts": [{"account_id": 1, "account_name": "Bank", "opening_balance": 0, "account_currency_code": "USD"}],
        "categories": [{"category_id": 1, "category_name": "Travel", "category_type": "Expense"},
                       {"category_id": 2, "category_name": "Fuel", "category_type": "Expense"},
                       {"category_id": 3, "category_name": "Travel", "category_type": "Income"}],
    }


def fill(connection, plan):
    """ITFlow's empty value ('' or 0) in every NOT NULL column without a default."""
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
        for table, _, row in base.schema.seed_rows(base.schema.NEWEST_VERSION):
            base._insert(cursor, table, row)
        for table in SEEDED:
            for row in plan[table]:
                base._insert(cursor, table, row)


def rows(connection, sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        names = [d[0] for d in cursor.description]
        return [{n: (None if v is None else str(v)) for n, v in zip(names, row, strict=True)}
                for row in cursor.fetchall()]


def main(itflow_root, database):
    connection = base._connect(database)
    plan = seed()
    fill(connection, plan)
    write_seed(connection, plan)
    steps = []
    env = {**os.environ, "ITFLOW_ROOT": itflow_root, "ITFLOW_DB": database}
    for label, action, form, (function, body) in STEPS:
        sent = str(form) if action == "delete_expense" else json.dumps(form)
        done = subprocess.run(["php", os.path.join(HERE, "page_action_expense.php"), action, sent], env=env,
                              capture_output=True, text=True, timeout=60)
        if done.returncode != 0 or done.stdout.count("\n") < 1:
            raise SystemExit(f"{label}: php answered {done.returncode}\n{done.stdout}\n{done.stderr}")
        steps.append({"step": label, "action": action, "form": form, "function": function, "body": body,
                      "instant": done.stdout.splitlines()[0].strip(),
                      "after": rows(connection, "SELECT * FROM expenses ORDER BY expense_id")})
    return {"about": "ITFlow 26.08 (database 2.6.7), agent/post/expense.php add_expense, edit_expense and "
                     "delete_expense run with php-cli by record_expenses.py as agent user 1",
            "seed": plan, "steps": steps,
            "rows": {"expenses": rows(connection, "SELECT * FROM expenses ORDER BY expense_id"),
                     "logs": rows(connection, "SELECT * FROM logs ORDER BY log_id")}}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2]), indent=1))
