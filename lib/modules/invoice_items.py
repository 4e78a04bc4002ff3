"""invoice_items: the lines of an invoice. Scoped through their invoice's client.

create.php and delete.php follow the newest ITFlow's invoice page (agent/post/invoice.php
add_invoice_item and delete_invoice_item, 26.08): the line's subtotal, tax and total as the
page works them out, the invoice's amount again, the product's stock, a `logs` row of type
Invoice. invoices/create (lib/modules/invoices.py) adds its lines through the same add_line.

How the page counts: the quantity, price and tax rate are PHP floats; subtotal = price x qty,
tax = subtotal x rate / 100, total = subtotal + tax, none of them rounded; each goes into its
SQL statement as PHP writes a float into a string (14 significant digits), and MariaDB stores
it in its decimal(15,2) column rounded half away from zero. The invoice's amount is the sum
of the stored totals less the discount, written the same way. php_float and stored_cents do
exactly that, so both backends store what the page stores, rounding included.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from ..core import envelope, versions
from ..core import values as fields
from ..core.crud import Operation, RecordOperation, find_in_scope
from ..core.definitions import Field, Lookup, Module
from ..core.envelope import Refused
from ..core.values import fit
from ..itflow import schema
from . import payments

INVOICE_JOIN = "invoice_items JOIN invoices ON invoice_id = item_invoice_id"
CENT = Decimal("0.01")
# The invoice page offers adding and removing lines on no invoice in these states (agent/invoice.php).
LOCKED = ("Paid", "Cancelled")

LINE_FIELDS = [
    Field("name", required=True, stored=False, description="item name (first 200 characters)"),
    Field("qty", "decimal", required=True, stored=False, limits="item_quantity",
          description="quantity, more than 0"),
    Field("price", "decimal", required=True, stored=False, limits="item_price", description="unit price"),
    Field("description", stored=False),
    Field("tax_id", "int", stored=False, description="a taxes row; its tax_percent applies"),
    Field("item_order", "int", stored=False,
          description="default: the number of lines already on the invoice plus 1 (what the page sends)"),
    Field("product_id", "int", stored=False,
          description="the product sold; a product of type product takes the quantity from its stock"),
]

MODULE = Module(
    name="invoice_items", table="invoice_items", id_column="item_id", client_column="invoice_client_id",
    entity="Invoice", name_column="item_name", select="invoice_items.*", list_from=INVOICE_JOIN,
    order_by="item_order ASC, item_id ASC",
    lookup_required="A filter is required. Please supply either invoice_id or item_id.",
    description="Invoice lines; reads need invoice_id or item_id. create and delete work the invoice's "
                "amount out again as ITFlow's invoice page does.",
    read_notes="one of the two is required",
    fields=[Field("invoice_id", "int", required=True, stored=False, description="the invoice to add to"),
            *LINE_FIELDS],
    lookups=[
        Lookup("item_id", "int", single=True, column="item_id", source=INVOICE_JOIN),
        Lookup("invoice_id", "int", column="item_invoice_id", source=INVOICE_JOIN),
    ],
)


def money(value):
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def php_float(value: float) -> str:
    """A PHP float as PHP 8 writes it into a string (the `precision` setting, 14 significant
    digits): 3 * 33.335 is "100.005", 0.1 + 0.2 is "0.3"."""
    text = format(value, ".14G")
    return "0" if text == "-0" else text


def stored_cents(value: float) -> str:
    """What a decimal(15,2) column holds after the page writes this float: its 14-digit text
    rounded to the cent, half away from zero (as MariaDB rounds a literal)."""
    stored = money(php_float(value))
    return str(stored.copy_abs() if stored == 0 else stored)


def invoice_number(invoice) -> str:
    return f"{invoice['invoice_prefix'] or ''}{invoice['invoice_number']}"


def item_totals(call, parent_id, table="invoice_items", parent="item_invoice_id") -> list:
    """The invoice's (or quote's) stored line totals in id order (the order the page adds them
    up in). On MariaDB a locking read: it sees a line another request committed while this one
    waited for the invoice's row."""
    sql = f"SELECT item_total FROM {table} WHERE {parent} = :parent ORDER BY item_id"
    if call.db.dialect == "mysql":
        sql += " FOR UPDATE"
    return [row["item_total"] for row in call.db.rows(sql, {"parent": parent_id})]


def amount_from_items(call, parent_id, discount, table="invoice_items", parent="item_invoice_id") -> str:
    """The invoice's (or quote's) amount as the page works it out: the stored totals as
    floats, added up, less the discount."""
    total: float = 0
    for item_total in item_totals(call, parent_id, table, parent):
        total += float(item_total)
    return stored_cents(total - float(discount or 0))


def line_amounts(call, given) -> dict:
    """A line's stored quantity, price, subtotal, tax and total, as the page counts them."""
    quantity, price = float(given["qty"]), float(given["price"])
    tax_id = given.get("tax_id") or 0
    subtotal = price * quantity
    tax_amount: float = 0
    if tax_id > 0:
        percent = call.db.scalar("SELECT tax_percent FROM taxes WHERE tax_id = :tax", {"tax": tax_id})
        if percent is None:
            raise Refused(f"No tax with tax_id {tax_id}.")
        tax_amount = subtotal * float(percent) / 100
    total = subtotal + tax_amount
    row = {"item_name": given["name"][:200], "item_description": given.get("description", ""),
           "item_quantity": stored_cents(quantity), "item_price": stored_cents(price),
           "item_subtotal": stored_cents(subtotal), "item_tax": stored_cents(tax_amount),
           "item_total": stored_cents(total)}
    columns = schema.column_types()
    for column in ("item_subtotal", "item_tax", "item_total"):
        fit("qty × price", columns[column], row[column])  # each fits, but their product may not
    return {**row, "item_tax_id": tax_id}


def check_editable(invoice) -> None:
    if invoice["invoice_status"] in LOCKED:
        raise Refused(f"Invoice {invoice_number(invoice)} is {invoice['invoice_status']}: ITFlow's invoice page "
                      "adds or removes no lines on a paid or cancelled invoice (nothing was written).")


def check_not_below_paid(call, invoice, amount) -> None:
    """An invoice's amount never drops below what its payments add up to (the payment
    endpoints' rules, lib/modules/payments.py, would no longer hold)."""
    paid = payments.paid_so_far(call, invoice["invoice_id"])
    if paid > 0 and Decimal(amount) < paid:
        raise Refused(f"Invoice {invoice_number(invoice)} has payments of {payments.money(paid)}: its amount "
                      f"cannot drop to {amount} (delete payments first; nothing was written).")


def parse_line(operation_fields, raw, call_params=None) -> dict:
    """One line's fields, parsed and checked (the request's own, or one object of a list)."""
    given = {f.name: f.parse(raw.get(f.name)) for f in operation_fields if f.name in raw}
    missing = [f.name for f in operation_fields if f.required and f.name != "invoice_id"
               and (raw.get(f.name) in (None, "") or given.get(f.name) in (None, ""))]
    if missing:
        raise Refused(f"Missing required field(s): {', '.join(missing)}.")
    # Stored to the cent: a quantity of 0.001 would be a line of 0.00.
    if money(given["qty"]) <= 0:
        raise Refused("Field qty must be more than 0.")
    return given


def add_line(call, invoice, given, stamp) -> int:
    """add_invoice_item: the line, the product's stock, the invoice's amount, the logs row.
    `invoice` is the invoice's row, held by the caller."""
    invoice_id = int(invoice["invoice_id"])
    quantity = float(given["qty"])
    name = given["name"][:200]
    product_id = given.get("product_id") or 0
    if product_id:  # only a product (not a service) is taken from its stock
        kind = call.db.scalar("SELECT product_type AS kind FROM products WHERE product_id = :product",
                              {"product": product_id})
        if kind == "product":
            available = call.db.scalar("SELECT COALESCE(SUM(stock_qty), 0) AS available FROM product_stock "
                                       "WHERE stock_product_id = :product", {"product": product_id})
            if float(available or 0) < quantity:
                raise Refused(f"Not enough {name} in stock: {available} left, {php_float(quantity)} asked "
                              "(nothing was written).")
            add_stock(call, product_id, -quantity, f"QTY {php_float(quantity)} - Invoice {invoice_id}", stamp)
    row = line_amounts(call, given)
    if "item_order" in given:
        order = given["item_order"]
    else:  # the page's form sends the number of lines already there, plus one
        order = int(call.db.count("invoice_items", {"item_invoice_id": invoice_id})) + 1
    item_id = call.db.insert("invoice_items", {
        **row, "item_order": order, "item_product_id": product_id, "item_invoice_id": invoice_id,
        "item_created_at": stamp})
    amount = amount_from_items(call, invoice_id, invoice["invoice_discount_amount"])
    fit("invoice_amount", schema.column_types()["invoice_amount"], amount)
    call.db.update("invoices", {"invoice_amount": amount}, {"invoice_id": invoice_id})
    invoice["invoice_amount"] = amount
    description = f"Added item {name} to invoice {invoice_number(invoice)}"
    call.log_change("Invoice", "Edit", description, int(invoice["invoice_client_id"]), invoice_id, description)
    return item_id


def add_stock(call, product_id, quantity: float, note, stamp) -> None:
    """A product_stock row (stock_qty is a whole number: MariaDB rounds the page's float)."""
    whole = int(Decimal(php_float(quantity)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    call.db.insert("product_stock", {"stock_qty": whole, "stock_note": note, "stock_created_at": stamp,
                                     "stock_product_id": product_id})


class AddItem(Operation):
    """create.php: add a line, then work the invoice's amount out again (add_invoice_item)."""
    verb = "Create"

    def __call__(self, call):
        raw = {f.name: call.params.get(f.name) for f in self.module.fields if call.params.has(f.name)}
        if call.params.get("invoice_id") in (None, ""):
            raise Refused("Missing required field(s): invoice_id.")
        invoice_id = self.module.field("invoice_id").parse(raw["invoice_id"])
        given = parse_line(self.module.fields, raw)
        invoice = find_in_scope(call, "invoices", "invoice_id", invoice_id, "invoice_client_id", "invoice", lock=True)
        check_editable(invoice)
        return envelope.created(add_line(call, invoice, given, fields.now()))


class RemoveItem(RecordOperation):
    """delete.php: remove a line; the invoice's amount loses its total, and a product's
    quantity goes back to its stock (delete_invoice_item)."""
    verb, action, past = "Delete", "Delete", "Deleted"
    keeps_record = False

    def __call__(self, call):
        record_id = self.record_id(call)
        conditions = versions.Conditions.of(call.params)
        found = find_in_scope(call, INVOICE_JOIN, "item_id", record_id, "invoice_client_id", "invoice item",
                              lock=True)
        if conditions is not None:  # the line's own row, as a read by item_id describes it
            conditions.check("invoice_items", {k: v for k, v in found.items() if k.startswith("item_")})
        check_editable(found)
        invoice_id = int(found["invoice_id"])
        # As the page: the amount as stored less this line's total (not added up again).
        amount = stored_cents(float(found["invoice_amount"]) - float(found["item_total"]))
        check_not_below_paid(call, found, amount)
        call.db.update("invoices", {"invoice_amount": amount}, {"invoice_id": invoice_id})
        call.db.delete("invoice_items", {"item_id": record_id})
        if int(found["item_product_id"] or 0):  # the page returns the quantity whatever the product's type
            quantity = float(found["item_quantity"])
            add_stock(call, int(found["item_product_id"]), quantity,
                      f"Returned QTY {php_float(quantity)} back to stock from Invoice {invoice_id}", fields.now())
        description = f"Removed item {found['item_name']} from invoice {invoice_number(found)}"
        call.log_change("Invoice", self.action, description, int(found["invoice_client_id"]), invoice_id,
                        description)
        return envelope.changed(1)
