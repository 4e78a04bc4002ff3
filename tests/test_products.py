"""products/create and products/update (docs/billing.md).

The side-by-side test: tests/itflow_recorded/record_products.py ran the newest ITFlow's own
agent product page (agent/post/product.php add_product and edit_product; 26.08, database
2.6.7) with php-cli as agent user 1, posting the product modals' forms. Here the same seed goes
into a newest-layout database of our own, the same changes go to our endpoints (only the fields
set, as an API caller sends them) with a key acting as that agent, and after every step every
product is compared whole (but its created/updated stamps, the database's own clock), and at
the end the logs rows by what they say about whom.
"""
from datetime import date, timedelta

import pytest
from helpers import (
    created_id,
    fetch,
    insert,
    insert_role,
    insert_user,
    log_rows,
    make_key,
    one,
    page_twin,
    recorded,
    refused,
    succeeded,
)

RECORDED = recorded("itflow-newest-products.json")
SECRET = b"products-tests"
SKIP = {"product_created_at", "product_updated_at"}


@pytest.fixture
def seeded(newest_database):
    cfg, db = newest_database
    return page_twin(cfg, db, RECORDED["seed"], SECRET, ids_from_one=("products", "logs"),
                     tables=("user_roles", "users", "taxes"))


def _rows(db, table, order):
    with db.transaction():
        return db.rows(f"SELECT * FROM {table} ORDER BY {order}")


def _replay(seeded):
    db, api = seeded["db"], seeded["api"]
    for step in RECORDED["steps"]:
        if step["action"] == "add_product":
            created_id(api.post("products/create", step["api"], key=seeded["key"]))
        else:
            assert api.post("products/update", {"product_id": step["product_id"], **step["api"]},
                            key=seeded["key"]) == (200, {"success": "True", "count": 1}), step["step"]
        ours, theirs = _rows(db, "products", "product_id"), step["after"]
        assert len(ours) == len(theirs), step["step"]
        for our_row, their_row in zip(ours, theirs, strict=True):
            assert list(our_row) == list(their_row), step["step"]
            for column, expected in their_row.items():
                if column not in SKIP:
                    assert our_row[column] == expected, (step["step"], column, our_row, their_row)


def test_create_and_update_store_what_itflows_page_stores(seeded):
    _replay(seeded)
    what = ("log_type", "log_action", "log_client_id", "log_user_id", "log_entity_id")
    ours = [r for r in _rows(seeded["db"], "logs", "log_id") if r["log_type"] == "Product"]
    assert [tuple(r[c] for c in what) for r in ours] == [tuple(r[c] for c in what) for r in RECORDED["rows"]["logs"]]
    assert ours[0]["log_description"] == "Managed backup via API (page twin)"


def test_what_the_recording_shows():
    last = {r["product_id"]: r for r in RECORDED["steps"][-1]["after"]}
    assert last["2"]["product_price"] == "20.00" and last["2"]["product_type"] == "product"  # 19.999 to the cent
    assert last["1"]["product_tax_id"] == "0" and last["1"]["product_currency_code"] == "USD"
    assert last["1"]["product_location"] == "Rack 2" and last["2"]["product_code"] == "CBL-2"


# --- the rules around them, on a 2.4.6 database -------------------------------------------------

def test_on_a_246_database(api, db, all_key):
    product = created_id(api.post("products/create", {"product_name": "Support hour", "product_price": "95"},
                                  key=all_key))
    row = one(db, "products", product_id=product)
    assert (row["product_type"], row["product_price"], row["product_currency_code"], row["product_description"],
            row["product_tax_id"], row["product_category_id"]) == ("service", "95.00", "USD", "", "0", "0")
    assert api.post("products/update", {"product_id": product, "product_price": "99.5"}, key=all_key) == \
        (200, {"success": "True", "count": 1})
    assert one(db, "products", product_id=product)["product_price"] == "99.50"
    assert [(r["log_type"], r["log_action"], r["log_client_id"], r["log_entity_id"]) for r in log_rows(db)] == [
        ("Product", "Create", "0", str(product)), ("API", "Success", "0", "0"),
        ("Product", "Edit", "0", str(product)), ("API", "Success", "0", "0")]


def test_refusals(api, db, all_key, make_client, keys):
    assert refused(api.post("products/create", {"product_price": 1}, key=all_key))["message"] == \
        "Missing required field(s): product_name."
    assert refused(api.post("products/create", {"product_name": "X"}, key=all_key))["message"] == \
        "Missing required field(s): product_price."
    assert refused(api.post("products/create", {"product_name": "X", "product_price": 1, "product_type": "thing"},
                            key=all_key))["message"] == "product_type takes one of: service, product (not 'thing')."
    assert refused(api.post("products/create", {"product_name": "X", "product_price": 1, "product_tax_id": 9},
                            key=all_key))["message"].startswith("No tax with tax_id 9")
    scoped = make_key(keys, make_client("Acme"))
    assert "all-clients API key" in refused(api.post("products/create", {"product_name": "X", "product_price": 1},
                                                     key=scoped))["message"]
    assert not fetch(db, "products")
    product = insert(db, "products", product_name="Cable", product_price="5", product_currency_code="USD",
                     product_category_id=0)
    assert "all-clients API key" in refused(api.post("products/update", {"product_id": product, "product_price": 6},
                                                     key=scoped))["message"]
    assert refused(api.post("products/update", {"product_id": product, "product_type": "product"},
                            key=all_key))["message"].startswith("product_type cannot be changed")
    assert one(db, "products", product_id=product)["product_price"] == "5.00"
    status, body = api.post("products/delete", {"product_id": product}, key=all_key)  # not offered
    assert (status, body["success"]) == (404, "False") and fetch(db, "products")


def test_a_user_key_needs_sales(seeded):
    db, api, keys = seeded["db"], seeded["api"], seeded["keys"]
    expire = (date.today() + timedelta(days=10)).isoformat()
    with db.transaction(write=True):
        reader = insert_role(db, "Reader", levels={"module_sales": 1})
        user = insert_user(db, "reader", reader)
    key = keys.create("reader", expire, user)[0]
    status, answer = api.post("products/create", {"product_name": "X", "product_price": 1}, key=key)
    assert status == 403 and answer["success"] == "False"
    assert succeeded(api.post("products/create", {"product_name": "X", "product_price": 1}, key=seeded["key"]))
