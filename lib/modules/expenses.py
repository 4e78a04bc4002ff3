"""expenses: what the company spent, for a client (expense_client_id) or for itself (0).

read.php as before; create.php, update.php and delete.php follow the newest ITFlow's expense
page (agent/post/expense.php add_expense, edit_expense and delete_expense, 26.08, with its
form read by expense_model.php): the form's columns, the company's currency on create, the
amount to the cent, a `logs` row Expense/Create, Edit or Delete with the expense's client.
The category may be sent by id or by the name of an Expense category (docs/billing.md).
"""
from ..core.crud import Create, Update
from ..core.definitions import Hooks, Lookup, Module, table_fields
from ..core.envelope import Refused
from ._rules import category_named

# The columns the page's form writes (expense_model.php), in its order.
FORM = ("expense_date", "expense_amount", "expense_account_id", "expense_vendor_id", "expense_category_id",
        "expense_description", "expense_reference")


def check_account_and_category(call, values):
    """An account is an `accounts` row and a category an Expense category (0: none); the page's
    form offers only those."""
    account = values.get("expense_account_id")
    if account and not call.db.count("accounts", {"account_id": account}):
        raise Refused(f"No account with account_id {account}: expense_account_id takes an accounts row.")
    category = values.get("expense_category_id")
    if category and call.db.columns_of("categories") and not call.db.count(
            "categories", {"category_id": category, "category_type": "Expense"}):
        raise Refused(f"No Expense category with category_id {category}: expense_category_id takes the id or "
                      "the name of an Expense category.")


class ExpenseHooks(Hooks):
    def before_create(self, call, module, values, client=None):
        missing = [name for name in ("expense_date", "expense_amount") if call.params.get(name) in (None, "")]
        if missing:  # the page's form requires both
            raise Refused(f"Missing required field(s): {', '.join(missing)}.")
        check_account_and_category(call, values)
        # The page stores the company's currency (its session's company currency).
        currency = call.db.scalar("SELECT company_currency AS code FROM companies WHERE company_id = 1")
        values["expense_currency_code"] = currency or ""

    def before_update(self, call, module, current, values):
        for name in ("expense_date", "expense_amount"):
            if name in values and call.params.get(name) in (None, ""):
                raise Refused(f"Field(s) cannot be empty: {name}.")
        check_account_and_category(call, values)

    def display_name(self, module, row):
        return str(row.get("expense_description") or "")


MODULE = Module(
    name="expenses", table="expenses", id_column="expense_id", client_column="expense_client_id",
    entity="Expense", name_column="expense_description", client_optional=True, hooks=ExpenseHooks(),
    description="Expenses, for a client or (client 0) for the company; create, update and delete as "
                "ITFlow's expense page writes them.",
    fields=table_fields("expenses", "expense_client_id", skip=("expense_currency_code", "expense_receipt",
                                                               "expense_payment_method"), overrides={
        "expense_date": {"required": True, "description": "the day it was spent"},
        "expense_amount": {"required": True, "description": "stored to the cent"},
        "expense_category_id": {"description": "an Expense category's id, or its name (0: none)"},
        "expense_account_id": {"description": "the account it was paid from (accounts; 0: none)"},
    }, references={"expense_vendor_id": "vendors"}),
    lookups=[Lookup("expense_id", "int", single=True)],
    # What the page's edit writes: every column of its form.
    update_model=FORM,
)


def parse_with_category_name(operation, call):
    """The request's fields, expense_category_id sent as a name replaced by its id."""
    named = category_named(call.db, call.params.get("expense_category_id"), "Expense", "expense_category_id")
    return {f.name: named if f.name == "expense_category_id" and named is not None else f.parse(call.params.get(f.name))
            for f in operation.module.fields if call.params.has(f.name)}


class ExpenseCreate(Create):
    def parse_given(self, call):
        return parse_with_category_name(self, call)


class ExpenseUpdate(Update):
    def parse_given(self, call):
        return parse_with_category_name(self, call)
