"""products: the products and services invoices and quotes are made of, the same for every client.

create.php and update.php follow the newest ITFlow's product page (agent/post/product.php
add_product and edit_product, 26.08): the columns its form writes, the company's currency on
create, and a `logs` row of type Product for client 0. The type (service or product) is set
when the product is created; the page's edit does not change it, nor does update here.
"""
from ..core.definitions import Hooks, Lookup, Module, table_fields
from ..core.envelope import Refused

TYPES = ("service", "product")  # products.product_type enum('service','product')


def check_tax(call, values):
    """A tax is a row of `taxes` (0: none); the page's form offers only those."""
    tax = values.get("product_tax_id")
    if tax and not call.db.count("taxes", {"tax_id": tax}):
        raise Refused(f"No tax with tax_id {tax}: product_tax_id takes a taxes row (0: no tax).")


class ProductHooks(Hooks):
    def before_create(self, call, module, values, client=None):
        if not call.key.all_clients:  # products are every client's: as for clients, the whole company's key
            raise Refused("Creating products needs an all-clients API key (products are the same for every client).")
        if call.params.get("product_price") in (None, ""):  # the page's form requires a price
            raise Refused("Missing required field(s): product_price.")
        kind = str(values.get("product_type") or "service").strip().lower()
        if kind not in TYPES:
            raise Refused(f"product_type takes one of: {', '.join(TYPES)} (not {values.get('product_type')!r}).")
        values["product_type"] = kind
        check_tax(call, values)
        # The page stores the company's currency (its session's company currency).
        currency = call.db.scalar("SELECT company_currency AS code FROM companies WHERE company_id = 1")
        values["product_currency_code"] = currency or ""

    def before_update(self, call, module, current, values):
        if not call.key.all_clients:
            raise Refused("Changing products needs an all-clients API key (products are the same for every client).")
        if "product_type" in values and values["product_type"] != current["product_type"]:
            raise Refused("product_type cannot be changed: ITFlow's product page sets it only when the product "
                          "is created.")
        values.pop("product_type", None)
        check_tax(call, values)


MODULE = Module(
    name="products", table="products", id_column="product_id", client_column=None,
    entity="Product", name_column="product_name", description="Products and services; the same for every client.",
    fields=table_fields("products", skip=("product_currency_code",), overrides={
        "product_name": {"required": True},
        "product_type": {"description": "service (the default) or product; set on create only"},
        "product_price": {"required": True, "description": "unit price, stored to the cent"},
        "product_tax_id": {"description": "a taxes row (0: no tax)"},
        "product_category_id": {"description": "an income category (categories; 0: none)"},
    }),
    lookups=[Lookup("product_id", "int", single=True)],
    # What the page's edit writes, every column of its form (agent/post/product.php edit_product).
    update_model=("product_name", "product_description", "product_code", "product_location", "product_price",
                  "product_tax_id", "product_category_id"),
    hooks=ProductHooks(),
)
