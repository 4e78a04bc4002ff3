"""Run add_expense, edit_expense and delete_expense through ITFlow's own agent expense page and record what they store.

    python tests/itflow_recorded/record_expenses.py /path/to/itflow-newest DBNAME > itflow-newest-expenses.json

DBNAME is a MariaDB database created from that release's db.sql (the tables below are emptied
and the seed written). Each step runs the page's handler with php-cli (page_action_expense.php:
an agent's session and CSRF token set, the database clock held on one second); the rows are
read back at the end. tests/test_expenses.py sends each step's `body` to our expenses
endpoints and compares.
"""
import json
import sys

import recording

SEEDED = ("user_roles", "users", "clients", "vendors", "accounts", "categories")
RESET = [*recording.BASE_RESET, *SEEDED, "expenses", "logs"]

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


def main(itflow_root, database):
    plan = seed()
    connection = recording.prepare(database, plan, RESET, SEEDED)
    steps = []
    env = recording.page_env(itflow_root, database)
    for label, action, form, (function, body) in STEPS:
        sent = str(form) if action == "delete_expense" else json.dumps(form)
        instant, _ = recording.run_page("page_action_expense.php", [action, sent], env, label)
        steps.append({"step": label, "action": action, "form": form, "function": function, "body": body,
                      "instant": instant, "after": recording.rows(connection, "SELECT * FROM expenses ORDER BY expense_id")})
    return {"about": "ITFlow 26.08 (database 2.6.7), agent/post/expense.php add_expense, edit_expense and "
                     "delete_expense run with php-cli by record_expenses.py as agent user 1",
            "seed": plan, "steps": steps,
            "rows": recording.dump(connection, {"expenses": "expense_id", "logs": "log_id"})}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2]), indent=1))
