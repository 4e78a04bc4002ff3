"""Read-only financial modules: expenses (invoices: lib/modules/invoices.py, quotes:
lib/modules/quotes.py, products: lib/modules/products.py)."""
from ..core.definitions import Lookup, Module
from .invoices import MODULE as INVOICES  # noqa: F401 (read here by the events' capture)
from .quotes import MODULE as QUOTES  # noqa: F401

EXPENSES = Module(
    name="expenses", table="expenses", id_column="expense_id", client_column="expense_client_id",
    entity="Expense", name_column="expense_description", description="Expenses (read only).",
    lookups=[Lookup("expense_id", "int", single=True)],
)
