"""invoice_items: the lines of an invoice. Scoped through their invoice's client."""
from decimal import ROUND_HALF_UP, Decimal

from ..core import envelope
from ..core.crud import Operation, find_in_scope
from ..core.definitions import Field, Lookup, Module
from ..core.envelope import Refused
from ..core.values import fit
from ..itflow import schema

INVOICE_JOIN = "invoice_items JOIN invoices ON invoice_id = item_invoice_id"
CENT = Decimal("0.01")

MODULE = Module(
    name="invoice_items", table="invoice_items", id_column="item_id", client_column="invoice_client_id",
    entity="Invoice", name_column="item_name", select="invoice_items.*", list_from=INVOICE_JOIN,
    order_by="item_order ASC, item_id ASC",
    lookup_required="A filter is required. Please supply either invoice_id or item_id.",
    description="Invoice lines; reads need invoice_id or item_id.",
    read_notes="one of the two is required",
    fields=[
        Field("invoice_id", "int", required=True, stored=False, description="the invoice to add to"),
        Field("name", required=True, stored=False, description="item name (first 200 characters)"),
        Field("qty", "decimal", required=True, stored=False, limits="item_quantity",
              description="quantity, more than 0"),
        Field("price", "decimal", required=True, stored=False, limits="item_price", description="unit price"),
        Field("description", stored=False),
        Field("tax_id", "int", stored=False, description="a taxes row; its tax_percent applies"),
        Field("item_order", "int", stored=False),
        Field("product_id", "int", stored=False),
    ],
    lookups=[
        Lookup("item_id", "int", single=True, column="item_id", source=INVOICE_JOIN),
        Lookup("invoice_id", "int", column="item_invoice_id", source=INVOICE_JOIN),
    ],
)


def money(value):
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


class AddItem(Operation):
    """create.php: add a line, then recompute the invoice amount."""
    verb = "Create"

    def __call__(self, call):
        given = self.parse_given(call)
        # Empty as sent (a price of "" must not pass as 0) or once cleaned (a name of "<b></b>").
        missing = [f.name for f in self.module.fields if f.required
                   and (call.params.get(f.name) in (None, "") or given.get(f.name) in (None, ""))]
        if missing:
            raise Refused(f"Missing required field(s): {', '.join(missing)}.")
        # Rounded to the columns' two decimals first, as MySQL stores them.
        quantity, price = money(given["qty"]), money(given["price"])
        if quantity <= 0:
            raise Refused("Field qty must be more than 0.")
        invoice_id = given["invoice_id"]
        invoice = find_in_scope(call, "invoices", "invoice_id", invoice_id, "invoice_client_id", "invoice")
        if invoice["invoice_status"] == "Paid":
            raise Refused(f"Invoice {invoice_id} is Paid: items cannot be added to it.")
        percent = Decimal(0)
        tax_id = given.get("tax_id") or 0
        if tax_id:
            tax = call.db.row("SELECT tax_percent FROM taxes WHERE tax_id = :tax", {"tax": tax_id})
            if tax is None:
                raise Refused(f"No tax with tax_id {tax_id}.")
            percent = Decimal(tax["tax_percent"])
        subtotal = money(price * quantity)
        tax_amount = money(subtotal * percent / 100)
        columns = schema.column_types()
        for column, value in (("item_subtotal", subtotal), ("item_total", subtotal + tax_amount)):
            fit("qty × price", columns[column], str(value))  # each fits, but their product may not
        item_id = call.db.insert("invoice_items", {
            "item_name": given["name"][:200], "item_description": given.get("description", ""),
            "item_quantity": str(quantity), "item_price": str(price), "item_subtotal": str(subtotal),
            "item_tax": str(tax_amount), "item_total": str(subtotal + tax_amount),
            "item_order": given.get("item_order", 0), "item_tax_id": tax_id,
            "item_product_id": given.get("product_id", 0), "item_invoice_id": invoice_id,
        })
        totals = call.db.scalar("SELECT COALESCE(SUM(item_total), 0) AS total FROM invoice_items "
                                "WHERE item_invoice_id = :invoice", {"invoice": invoice_id})
        amount = money(Decimal(totals) - Decimal(invoice["invoice_discount_amount"] or 0))
        # The sum above is read from this transaction's snapshot; an item another request added
        # since (and committed while this one waited for the invoice's row) is not in it. That
        # request also changed invoice_amount, so then the current amount plus this item is the
        # total (without it, 40 adds at once on one MariaDB left 7 items out). Through two Galera
        # nodes at once, one loses at commit and runs again (lib/core/retry.py).
        call.db.execute("UPDATE invoices SET invoice_amount = CASE WHEN invoice_amount = :seen THEN :amount "
                        "ELSE invoice_amount + :item END WHERE invoice_id = :invoice",
                        {"seen": invoice["invoice_amount"], "amount": str(amount),
                         "item": str(subtotal + tax_amount), "invoice": invoice_id})
        number = f"{invoice['invoice_prefix'] or ''}{invoice['invoice_number']}"
        description = f"Added item {given['name']} to invoice {number}"
        call.log_change("Invoice", "Edit", description, int(invoice["invoice_client_id"]), invoice_id, description)
        return envelope.created(item_id)
