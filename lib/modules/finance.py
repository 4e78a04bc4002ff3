"""Read-only financial modules: expenses and quotes (invoices: lib/modules/invoices.py, products:
lib/modules/products.py)."""
from ..core.definitions import Lookup, Module
from .invoices import MODULE as INVOICES  # noqa: F401 (read here by the events' capture)

EXPENSES = Module(
    name="expenses", table="expenses", id_column="expense_id", client_column="expense_client_id",
    entity="Expense", name_column="expense_description", description="Expenses (read only).",
    lookups=[Lookup("expense_id", "int", single=True)],
)
QUOTES = Module(
    name="quotes", table="quotes", id_column="quote_id", client_column="quote_client_id",
    entity="Quote", name_column="quote_number", description="Quotes (read only).",
    lookups=[Lookup("quote_id", "int", single=True)],
)
