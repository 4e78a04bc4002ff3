"""Read-only financial modules: invoices and quotes (products: lib/modules/products.py; expenses:
lib/modules/expenses.py)."""
from ..core.definitions import Lookup, Module

INVOICES = Module(
    name="invoices", table="invoices", id_column="invoice_id", client_column="invoice_client_id",
    entity="Invoice", name_column="invoice_number", description="Invoices (read only; items via invoice_items).",
    lookups=[Lookup("invoice_id", "int", single=True)],
)
QUOTES = Module(
    name="quotes", table="quotes", id_column="quote_id", client_column="quote_client_id",
    entity="Quote", name_column="quote_number", description="Quotes (read only).",
    lookups=[Lookup("quote_id", "int", single=True)],
)
