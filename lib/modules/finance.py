"""Read-only financial modules: expenses, invoices and quotes (products: lib/modules/products.py)."""
from ..core.definitions import Lookup, Module

EXPENSES = Module(
    name="expenses", table="expenses", id_column="expense_id", client_column="expense_client_id",
    entity="Expense", name_column="expense_description", description="Expenses (read only).",
    lookups=[Lookup("expense_id", "int", single=True)],
)
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
