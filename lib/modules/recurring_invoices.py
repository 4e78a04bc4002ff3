"""recurring_invoices and recurring_invoice_items: the invoices ITFlow sends on a schedule and
their lines (its `recurring_invoices` and `recurring_invoice_items` tables).

They follow the newest ITFlow's recurring invoice page (agent/post/recurring_invoice.php,
26.08): add_recurring_invoice (the next number from the settings, status 1, the company's
currency, a history row), edit_recurring_invoice (the amount worked out again from the lines
and the discount, a history row with the status), delete_recurring_invoice (its lines and
history go too) and the line handlers add_, edit_ and delete_recurring_invoice_item (each
line's subtotal, tax and total and the invoice's amount as the page computes them). Pausing
and resuming are the edit form's status (0 inactive, 1 active), as their own endpoints.
Sending the invoices is ITFlow's cron job's work, not this API's.
"""
from decimal import ROUND_HALF_UP, Decimal

from ..core import envelope
from ..core.crud import Operation, RecordOperation, find_in_scope
from ..core.definitions import Field, Hooks, Lookup, Module, table_fields
from ..core.envelope import NotFound, Refused

ITEMS = "recurring_invoice_items"
FREQUENCIES = ("month", "year")  # what validateRecurringFrequency lets through (functions/format.php)
CENT = Decimal("0.01")


def php_money(number):
    """What MariaDB stores in a decimal(15,2) column from a PHP float in the page's SQL: the
    float as PHP writes it into a string (14 significant digits, its `precision`), rounded
    half away from zero to the cent."""
    text = format(float(number), ".14G")
    return Decimal(text).quantize(CENT, rounding=ROUND_HALF_UP)


def _has_items(call):
    return call.db.remember("catalogue", ("table", ITEMS), lambda: bool(call.db.columns_of(ITEMS)))


def _items_total(call, recurring_invoice_id):
    """The sum of the lines' totals as the page adds them (floats, in the order read)."""
    if not _has_items(call):
        return 0.0
    rows = call.db.rows(f"SELECT item_total FROM {ITEMS} WHERE item_recurring_invoice_id = :id ORDER BY item_id",
                        {"id": recurring_invoice_id})
    total = 0.0
    for row in rows:
        total += float(row["item_total"])
    return total


def _number(row):
    return f"{row['recurring_invoice_prefix'] or ''}{row['recurring_invoice_number']}"


def _history(call, recurring_invoice_id, status, description):
    call.db.insert("history", {"history_status": str(status), "history_description": description,
                               "history_recurring_invoice_id": recurring_invoice_id})


def _frequency(values):
    if "recurring_invoice_frequency" in values:
        given = str(values["recurring_invoice_frequency"] or "").strip().lower()
        if given not in FREQUENCIES:
            raise Refused(f"recurring_invoice_frequency takes month or year (not {values['recurring_invoice_frequency']!r}).")
        values["recurring_invoice_frequency"] = given


class RecurringInvoiceHooks(Hooks):
    def before_create(self, call, module, values, client=None):
        for name in ("recurring_invoice_discount_amount", "recurring_invoice_status"):
            values.pop(name, None)
            if call.params.has(name):
                raise Refused(f"{name} is not set on create: ITFlow's recurring invoice page creates an active "
                              "recurring invoice without a discount (update sets them).")
        _frequency(values)
        settings = call.db.row("SELECT config_recurring_invoice_prefix AS prefix FROM settings WHERE company_id = 1")
        number = call.db.take_number("settings", "config_recurring_invoice_next_number", {"company_id": 1})
        currency = call.db.scalar("SELECT company_currency AS code FROM companies WHERE company_id = 1")
        values.update({"recurring_invoice_prefix": (settings or {}).get("prefix") or "",
                       "recurring_invoice_number": number or 1, "recurring_invoice_status": 1,
                       "recurring_invoice_currency_code": currency or ""})

    def after_create(self, call, module, record_id, values):
        _history(call, record_id, "Active", "Recurring Invoice created")

    def before_update(self, call, module, current, values):
        _frequency(values)
        if "recurring_invoice_status" in values and values["recurring_invoice_status"] not in (0, 1):
            raise Refused("recurring_invoice_status takes 1 (active) or 0 (inactive).")
        if "recurring_invoice_next_date" in values and not values["recurring_invoice_next_date"]:
            values.pop("recurring_invoice_next_date")
        # The page's edit works the amount out again: the lines' totals less the discount.
        discount = values.get("recurring_invoice_discount_amount", current["recurring_invoice_discount_amount"])
        amount = _items_total(call, current[module.id_column]) - float(discount or 0)
        values["recurring_invoice_amount"] = str(php_money(amount))

    def after_update(self, call, module, current, values):
        status = values.get("recurring_invoice_status", current["recurring_invoice_status"])
        _history(call, current[module.id_column], status, "Recurring Invoice edited")

    def before_delete(self, call, module, current):
        record_id = current[module.id_column]
        if _has_items(call):
            call.db.delete(ITEMS, {"item_recurring_invoice_id": record_id})
        call.db.delete("history", {"history_recurring_invoice_id": record_id})

    def display_name(self, module, row):
        return f"{_number(row)} - {row.get('recurring_invoice_scope') or ''}"


MODULE = Module(
    name="recurring_invoices", table="recurring_invoices", id_column="recurring_invoice_id",
    client_column="recurring_invoice_client_id", entity="Recurring Invoice", name_column="recurring_invoice_scope",
    description="Invoices ITFlow sends on a schedule (its cron job sends them); their lines are "
                "recurring_invoice_items.",
    fields=table_fields("recurring_invoices", "recurring_invoice_client_id", skip=(
        "recurring_invoice_prefix", "recurring_invoice_number", "recurring_invoice_last_sent",
        "recurring_invoice_amount", "recurring_invoice_currency_code", "recurring_invoice_note",
        "recurring_invoice_email_notify"), overrides={
        "recurring_invoice_frequency": {"required": True, "description": "month or year"},
        "recurring_invoice_next_date": {"required": True, "description": "the next invoice's date; on create, "
                                        "the start date"},
        "recurring_invoice_status": {"description": "1 active, 0 inactive (update; pause and resume set it)"},
        "recurring_invoice_discount_amount": {"description": "taken off the lines' total (update)"},
        "recurring_invoice_category_id": {"description": "an income category (0: none)"},
    }),
    lookups=[Lookup("recurring_invoice_id", "int", single=True)],
    update_model=("recurring_invoice_scope", "recurring_invoice_frequency", "recurring_invoice_next_date",
                  "recurring_invoice_category_id", "recurring_invoice_discount_amount", "recurring_invoice_amount",
                  "recurring_invoice_status"),
    hooks=RecurringInvoiceHooks(),
)


class SetStatus(RecordOperation):
    """pause.php / resume.php: the edit form's status set to 0 (inactive) or 1 (active), with
    what the page's edit writes besides (the amount worked out again, a history row)."""
    action = "Edit"

    def __init__(self, module, active):
        super().__init__(module)
        self.active = active
        self.verb, self.past = ("Resume", "Resumed") if active else ("Pause", "Paused")

    def check_state(self, call, record_id, current):
        if int(current["recurring_invoice_status"] or 0) == int(self.active):
            state = "active" if self.active else "paused"
            raise Refused(f"Recurring invoice {record_id} is already {state}: nothing was changed.")

    def apply(self, call, record_id, current):
        values = {"recurring_invoice_status": int(self.active)}
        MODULE.hooks.before_update(call, MODULE, current, values)
        count = call.db.update(MODULE.table, values, {MODULE.id_column: record_id})
        MODULE.hooks.after_update(call, MODULE, current, values)
        return count, values


def Pause(module):
    return SetStatus(module, active=False)


def Resume(module):
    return SetStatus(module, active=True)


# --- the lines -------------------------------------------------------------------------------

ITEM_JOIN = f"{ITEMS} JOIN recurring_invoices ON recurring_invoice_id = item_recurring_invoice_id"

ITEMS_MODULE = Module(
    name="recurring_invoice_items", table=ITEMS, id_column="item_id", client_column="recurring_invoice_client_id",
    entity="Recurring Invoice", name_column="item_name", select=f"{ITEMS}.*", list_from=ITEM_JOIN,
    order_by="item_order ASC, item_id ASC", not_in_every_database="the lines of recurring invoices",
    lookup_required="A filter is required. Please supply either recurring_invoice_id or item_id.",
    read_notes="one of the two is required",
    description="The lines of a recurring invoice; reads need recurring_invoice_id or item_id.",
    fields=[
        Field("recurring_invoice_id", "int", required=True, stored=False, description="the recurring invoice (create)"),
        Field("item_name", required=True, description="the line's name"),
        Field("item_description"),
        Field("item_quantity", "decimal", required=True, description="quantity"),
        Field("item_price", "decimal", required=True, description="unit price"),
        Field("item_tax_id", "int", description="a taxes row (0: no tax); its tax_percent applies"),
        Field("item_order", "int", description="its place among the lines (create)"),
    ],
    lookups=[
        Lookup("item_id", "int", single=True, column="item_id", source=ITEM_JOIN),
        Lookup("recurring_invoice_id", "int", column="item_recurring_invoice_id", source=ITEM_JOIN),
    ],
)


def _line(call, given):
    """(quantity, price, subtotal, tax, total) as the page works them out: PHP floats, each
    stored to the cent by MariaDB."""
    quantity, price = float(given.get("item_quantity") or 0), float(given.get("item_price") or 0)
    subtotal = price * quantity
    tax = 0.0
    tax_id = given.get("item_tax_id") or 0
    if tax_id:
        percent = call.db.scalar("SELECT tax_percent AS p FROM taxes WHERE tax_id = :tax", {"tax": tax_id})
        if percent is None:
            raise Refused(f"No tax with tax_id {tax_id}: item_tax_id takes a taxes row (0: no tax).")
        tax = subtotal * float(percent) / 100
    return {"item_quantity": str(php_money(quantity)), "item_price": str(php_money(price)),
            "item_subtotal": str(php_money(subtotal)), "item_tax": str(php_money(tax)),
            "item_total": str(php_money(subtotal + tax)), "item_tax_id": tax_id}


def _invoice(call, recurring_invoice_id):
    return find_in_scope(call, "recurring_invoices", "recurring_invoice_id", recurring_invoice_id,
                         "recurring_invoice_client_id", "recurring invoice", lock=True)


def _set_amount(call, invoice, amount):
    call.db.update("recurring_invoices", {"recurring_invoice_amount": str(php_money(amount))},
                   {"recurring_invoice_id": invoice["recurring_invoice_id"]})


class AddItem(Operation):
    """create.php: a line, as add_recurring_invoice_item writes it, and the invoice's amount
    (the lines' totals less the discount)."""
    verb = "Create"

    def __call__(self, call):
        self.check_table(call)
        given = self.parse_given(call)
        missing = [n for n in ("recurring_invoice_id", "item_name", "item_quantity", "item_price")
                   if call.params.get(n) in (None, "") or given.get(n) in (None, "")]
        if missing:
            raise Refused(f"Missing required field(s): {', '.join(missing)}.")
        invoice = _invoice(call, given["recurring_invoice_id"])
        row = {"item_name": given["item_name"], "item_description": given.get("item_description", ""),
               **_line(call, given), "item_order": given.get("item_order", 0),
               "item_recurring_invoice_id": invoice["recurring_invoice_id"]}
        item_id = call.db.insert(ITEMS, row)
        amount = _items_total(call, invoice["recurring_invoice_id"]) - float(invoice["recurring_invoice_discount_amount"])
        _set_amount(call, invoice, amount)
        text = f"Added item {row['item_name']} to recurring invoice {_number(invoice)}"
        call.log_change("Recurring Invoice", "Edit", text, int(invoice["recurring_invoice_client_id"]),
                        int(invoice["recurring_invoice_id"]), text)
        return envelope.created(item_id)


class ItemRow(dict):
    """A line's stored row (what its ETag is made of), with its recurring invoice beside it."""
    invoice: dict


class ItemOperation(RecordOperation):
    """A line reached through its recurring invoice's client."""
    action = "Edit"

    def current(self, call, record_id, lock=False):
        row = call.db.row(f"SELECT item_recurring_invoice_id FROM {ITEMS} WHERE item_id = :id", {"id": record_id})
        if row is None:
            raise NotFound(f"No recurring invoice item with item_id {record_id} (for this client and company).")
        invoice = _invoice(call, int(row["item_recurring_invoice_id"]))
        item = ItemRow(call.db.row(f"SELECT * FROM {ITEMS} WHERE item_id = :id", {"id": record_id}) or {})
        item.invoice = invoice
        return item

    def client_of(self, current):
        return int(current.invoice["recurring_invoice_client_id"] or 0)

    def log_entity(self, record_id, current):
        return int(current.invoice["recurring_invoice_id"])


class UpdateItem(ItemOperation):
    """update.php: the line's fields sent, its sums again, and the invoice's amount, as
    edit_recurring_invoice_item writes them."""
    verb, past = "Update", "Edited"

    def apply(self, call, record_id, current):
        given = self.parse_given(call)
        given.pop("recurring_invoice_id", None)
        given.pop("item_order", None)  # the page's edit form has no order
        emptied = [n for n in ("item_name",) if n in given and not given[n]]
        if emptied:
            raise Refused("Field(s) cannot be empty: item_name.")
        merged = {"item_quantity": current["item_quantity"], "item_price": current["item_price"],
                  "item_tax_id": int(current["item_tax_id"] or 0), **given}
        row = {**{k: v for k, v in given.items() if k in ("item_name", "item_description")}, **_line(call, merged)}
        count = call.db.update(ITEMS, row, {"item_id": record_id})
        invoice = current.invoice
        amount = _items_total(call, invoice["recurring_invoice_id"]) - float(invoice["recurring_invoice_discount_amount"])
        _set_amount(call, invoice, amount)
        return count, row

    def describe(self, current, values):
        text = (f"Edited item {values.get('item_name', current['item_name'])} on recurring invoice "
                f"{_number(current.invoice)}")
        return text, text


class DeleteItem(ItemOperation):
    """delete.php: the line removed and its total taken off the invoice's amount, as
    delete_recurring_invoice_item does."""
    verb, past = "Delete", "Deleted"
    keeps_record = False

    def apply(self, call, record_id, current):
        amount = float(current.invoice["recurring_invoice_amount"]) - float(current["item_total"])
        _set_amount(call, current.invoice, amount)
        return call.db.delete(ITEMS, {"item_id": record_id}), {}

    def describe(self, current, values):
        text = f"Removed item {current['item_name']} from recurring invoice {_number(current.invoice)}"
        return text, text
