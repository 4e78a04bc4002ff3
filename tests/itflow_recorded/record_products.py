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
import sys

import recording

RESET = [*recording.BASE_RESET, "users", "user_roles", "taxes", "products", "logs"]
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


def main(itflow_root, database):
    plan = seed()
    connection = recording.prepare(database, plan, RESET, SEEDED)
    steps = []
    env = recording.page_env(itflow_root, database)
    for step in STEPS:
        args = [step["action"], str(step["product_id"]), json.dumps(step["form"])]
        instant, _ = recording.run_page("page_action_billing.php", args, env, step["step"])
        steps.append({**step, "instant": instant,
                      "after": recording.rows(connection, "SELECT * FROM products ORDER BY product_id")})
    return {"about": "ITFlow 26.08 (database 2.6.7), agent/post/product.php add_product and edit_product run "
                     "with php-cli by record_products.py as agent user 1 (the form as the product modals post it)",
            "seed": plan, "steps": steps, "rows": recording.dump(connection, {"products": "1", "logs": "log_id"})}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2]), indent=1))
