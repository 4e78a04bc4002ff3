"""Create and edit products through ITFlow's own agent product page and record what it stores.

    python tests/itflow_recorded/record_products.py /path/to/itflow-newest DBNAME > itflow-newest-products.json

DBNAME is a MariaDB database created from that release's db.sql (nothing else in it: the
tables below are emptied and SEED written). Each step runs the page's handler with php-cli
(page_action_billing.php: an agent's session and CSRF token set, the form posted as the
product modals post it, the database clock held on one second) and the rows are read back
after each step. tests/test_products.py writes the same SEED into a newest-layout database of
our own, sends the same changes to products/create and products/update, and compares.
"""
import json
import os
import subprocess
import sys

from record_ticket_actions import _connect, _insert

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, os.pardir, os.pardir))

from itflow_api.lib.itflow import schema  # noqa: E402

RESET = ["companies", "settings", "modules", "ticket_statuses", "users", "user_roles", "taxes", "products", "logs"]
SEEDED = ("user_roles", "users", "taxes")

# The product modals post every field of their form (the edit modal: the stored values, the
# edited ones changed). `api` is what the same change is as an API request: only what is set.
STEPS = [
    {"step": "create a service with every field", "action": "add_product", "product_id": 0,
     "form": {"name": "Managed backup", "type": "service", "description": "Nightly, 30 days kept",
              "code": "BK-30", "location": "", "price": "125.5", "category": "0", "tax": "1"},
     "api": {"product_name": "Managed backup", "product_type": "service", "product_description": "Nightly, 30 days kept",
             "product_code": "BK-30", "product_price": "125.5", "product_tax_id": 1}},
    {"step": "create a product with only what the form requires, a price with three decimals",
     "action": "add_product", "product_id": 0,
     "form": {"name": "USB-C cable", "type": "product", "description": "", "code": "", "location": "",
              "price": "19.999", "category": "0", "tax": "0"},
     "api": {"product_name": "USB-C cable", "product_type": "product", "product_price": "19.999"}},
    {"step": "edit the service: name, price, location, no tax", "action": "edit_product", "product_id": 1,
     "form": {"name": "Managed backup 90", "description": "Nightly, 30 days kept", "code": "BK-30",
              "location": "Rack 2", "price": "149", "category": "0", "tax": "0"},
     "api": {"product_name": "Managed backup 90", "product_location": "Rack 2", "product_price": "149",
             "product_tax_id": 0}},
    {"step": "edit the product: a description and a code", "action": "edit_product", "product_id": 2,
     "form": {"name": "USB-C cable", "description": "2 m, braided", "code": "CBL-2", "location": "", "price": "20.00",
              "category": "0", "tax": "0"},
     "api": {"product_description": "2 m, braided", "product_code": "CBL-2"}},
]


def seed():
    return {
        "user_roles": [{"role_id": 1, "role_name": "Administrator", "role_is_admin": 1}],
        "users": [{"user_id": 1, "user_name": "Agent Smith", "user_email": "smith@example.com", "user_password": "x",
                   "user_role_id": 1}],
        "taxes": [{"tax_id": 1, "tax_name": "VAT", "tax_percent": 20}],
    }


def fill(connection, plan, tables=SEEDED):
    """Each seed row of `tables` with ITFlow's empty value ('' or 0) in every NOT NULL column that has no
    default, as ITFlow's own inserts leave them (the rows are stored filled, for both sides)."""
    with connection.cursor() as cursor:
        for table in tables:
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


def rows(connection, sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        names = [d[0] for d in cursor.description]
        return [{n: (None if v is None else str(v)) for n, v in zip(names, row, strict=True)}
                for row in cursor.fetchall()]


def main(itflow_root, database):
    connection = _connect(database)
    plan = seed()
    fill(connection, plan)
    write_seed(connection, plan)
    steps = []
    env = {**os.environ, "ITFLOW_ROOT": itflow_root, "ITFLOW_DB": database}
    for step in STEPS:
        args = ["php", os.path.join(HERE, "page_action_billing.php"), step["action"], str(step["product_id"]),
                json.dumps(step["form"])]
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        if done.returncode != 0 or done.stdout.count("\n") < 1:
            raise SystemExit(f"{step['step']}: php answered {done.returncode}\n{done.stdout}\n{done.stderr}")
        steps.append({**step, "instant": done.stdout.splitlines()[0].strip(),
                      "after": rows(connection, "SELECT * FROM products ORDER BY product_id")})
    return {"about": "ITFlow 26.08 (database 2.6.7), agent/post/product.php add_product and edit_product run "
                     "with php-cli by record_products.py as agent user 1 (the form as the product modals post it)",
            "seed": plan, "steps": steps, "rows": {"products": rows(connection, "SELECT * FROM products ORDER BY 1"),
                                                    "logs": rows(connection, "SELECT * FROM logs ORDER BY log_id")}}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2]), indent=1))
