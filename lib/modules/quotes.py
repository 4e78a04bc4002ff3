"""quotes: create, update, mark sent, accept and turn into an invoice, as the newest ITFlow's agent quote page writes them.

create.php follows agent/post/quote.php add_quote (then add_quote_item for each line sent
along), update.php its edit_quote, mark_sent.php mark_quote_sent, accept.php accept_quote and
invoice.php add_quote_to_invoice (ITFlow 26.08): the quote row numbered from the settings, its
lines in `quote_items`, the new invoice with the quote's lines, the `history` rows and `logs`
rows. No mail and no PDF (docs/billing.md).
"""
from __future__ import annotations

from datetime import date, timedelta

from ..core import envelope
from ..core import values as fields
from ..core.crud import Operation, RecordOperation, find_in_scope
from ..core.definitions import Field, Lookup, Module
from ..core.envelope import Refused
from ..itflow import schema
from . import invoice_items as lines
from .invoices import url_key
from .tickets import actor_name  # the agent the page names in a history row: the key's user, or the key

MODULE = Module(
    name="quotes", table="quotes", id_column="quote_id", client_column="quote_client_id",
    entity="Quote", name_column="quote_number",
    description="Quotes. create, update, mark_sent, accept and invoice write what ITFlow's quote page writes.",
    fields=[
        Field("quote_date", "date", description="default: today"),
        Field("quote_expire", "date", description="default: 30 days from today (what the page's form offers)"),
        Field("quote_scope", description="a short description of the quote"),
        Field("quote_category_id", "int", description="an income category (categories; 0: none)"),
        Field("items", "list", stored=False,
              description="create only: lines to add, each an object with name, qty, price (required), "
                          "description, tax_id, item_order"),
    ],
    lookups=[Lookup("quote_id", "int", single=True)],
)
# The quote page's line form has no product (add_quote_item writes none).
QUOTE_LINE_FIELDS = [f for f in lines.LINE_FIELDS if f.name != "product_id"]
DISCOUNT = Field("quote_discount_amount", "decimal", description="taken off the lines' total (edit only)")
EDITED = [*(f for f in MODULE.fields if f.name != "items"), DISCOUNT]
# The page offers adding lines on no quote in these states (agent/quote.php).
LOCKED = ("Invoiced", "Accepted", "Declined")


def quote_number(quote) -> str:
    return f"{quote['quote_prefix'] or ''}{quote['quote_number']}"


def add_history(call, status, description, stamp, quote_id=0, invoice_id=0) -> None:
    call.db.insert("history", {"history_status": status, "history_description": description[:200],
                               "history_created_at": stamp, "history_quote_id": quote_id,
                               "history_invoice_id": invoice_id})


def needs_quote_items(call) -> None:
    """quote_items is in both layouts (2.4.6 and 26.08); a database made before this server
    knew it lacks it until `itflow-api init-db` adds it."""
    if not call.db.columns_of("quote_items"):
        raise Refused("This database has no quote_items table: run `itflow-api init-db` to add it "
                      "(nothing was written).")


def add_quote_line(call, quote, given, stamp) -> int:
    """add_quote_item: the line, the quote's amount worked out again, the logs row."""
    quote_id = int(quote["quote_id"])
    row = lines.line_amounts(call, given)
    if "item_order" in given:
        order = given["item_order"]
    else:  # the page's form sends the highest order there, plus one
        order = int(call.db.scalar("SELECT COALESCE(MAX(item_order), 0) AS o FROM quote_items "
                                   "WHERE item_quote_id = :quote", {"quote": quote_id}) or 0) + 1
    item_id = call.db.insert("quote_items", {**row, "item_order": order, "item_quote_id": quote_id,
                                             "item_created_at": stamp})
    amount = lines.amount_from_items(call, quote_id, quote["quote_discount_amount"], "quote_items", "item_quote_id")
    fields.fit("quote_amount", schema.column_types()["quote_amount"], amount)
    call.db.update("quotes", {"quote_amount": amount}, {"quote_id": quote_id})
    quote["quote_amount"] = amount
    description = f"Added item {row['item_name']} to quote {quote_number(quote)}"
    call.log_change("Quote", "Edit", description, int(quote["quote_client_id"]), quote_id, description)
    return item_id


class CreateQuote(Operation):
    """create.php: a Draft quote numbered from the settings (add_quote), then each line sent
    in `items` as the page adds a line (add_quote_item)."""
    verb = "Create"

    def __call__(self, call):
        if call.params.has("quote_discount_amount"):
            raise Refused("quote_discount_amount is not taken on create: ITFlow's quote page sets the discount "
                          "when the quote is edited (send it to quotes/update).")
        given = {f.name: f.parse(call.params.get(f.name)) for f in self.module.fields
                 if f.name != "items" and call.params.has(f.name)}
        items = self.module.field("items").parse(call.params.values.get("items"))
        parsed = []
        for n, item in enumerate(items, 1):
            try:
                parsed.append(lines.parse_line(QUOTE_LINE_FIELDS, item))
            except Refused as refused:
                raise Refused(f"items[{n}]: {refused.message}") from None
        if parsed:
            needs_quote_items(call)
        client_id = call.scope.write_client
        if not client_id:
            raise Refused("Missing required field: client_id (this key is for all clients, so the request must "
                          "name the client).")
        if not call.db.count("clients", {"client_id": client_id}):
            raise Refused(f"No client with client_id {client_id}.")
        stamp = fields.now()
        quote_date = given.get("quote_date") or stamp[:10]
        expire = given.get("quote_expire") or (date.fromisoformat(stamp[:10]) + timedelta(days=30)).isoformat()
        prefix = call.db.scalar("SELECT config_quote_prefix AS prefix FROM settings WHERE company_id = 1") or ""
        currency = call.db.scalar("SELECT company_currency AS code FROM companies WHERE company_id = 1")
        number = call.db.take_number("settings", "config_quote_next_number", {"company_id": 1})
        scope = given.get("quote_scope", "")
        quote_id = call.db.insert("quotes", {
            "quote_prefix": prefix, "quote_number": number, "quote_scope": scope, "quote_date": quote_date,
            "quote_expire": expire, "quote_currency_code": currency or "",
            "quote_category_id": given.get("quote_category_id", 0), "quote_status": "Draft",
            "quote_url_key": url_key(), "quote_created_at": stamp, "quote_client_id": client_id,
        })
        add_history(call, "Draft", "Quote created!", stamp, quote_id=quote_id)
        call.log_change("Quote", "Create", f"Created quote {prefix}{number}", client_id, quote_id,
                        f"Created quote {prefix}{number}")
        if parsed:
            quote = find_in_scope(call, "quotes", "quote_id", quote_id, "quote_client_id", "quote")
            for line in parsed:
                add_quote_line(call, quote, line, stamp)
        return envelope.created(quote_id)


class QuoteAction(RecordOperation):
    """An action of the quote page on one quote: the row held, the state checked, the change,
    its history row and its logs row."""
    action = "Edit"
    allowed: tuple[str, ...] | None = None  # the states the page offers it in (None: any)
    why = ""

    def current(self, call, record_id, lock=False):
        return super().current(call, record_id, lock=True)

    def check_state(self, call, record_id, current):
        if self.allowed is not None and current["quote_status"] not in self.allowed:
            raise Refused(f"Quote {quote_number(current)} is {current['quote_status']}: {self.why} "
                          "(nothing was written).")

    def describe(self, current, values):
        text = f"{self.past} quote {quote_number(current)}"
        return text, text


class UpdateQuote(QuoteAction):
    """update.php: the fields of the page's edit form that are sent, and the amount worked
    out again from the lines and the discount (edit_quote)."""
    verb, past = "Update", "Edited"
    body_fields = EDITED

    def apply(self, call, record_id, current):
        given = {f.name: f.parse(call.params.get(f.name)) for f in EDITED if call.params.has(f.name)}
        if call.params.has("items"):
            raise Refused("Field 'items' is for create.")
        if "quote_date" in given and not given["quote_date"]:  # NOT NULL: an empty one keeps its value
            del given["quote_date"]
        # As the page: the amount less the discount as sent (not as stored, to the cent).
        discount = given.get("quote_discount_amount", current["quote_discount_amount"])
        if "quote_discount_amount" in given:
            given["quote_discount_amount"] = lines.stored_cents(float(given["quote_discount_amount"]))
        if self.has_lines(call):
            given["quote_amount"] = lines.amount_from_items(call, record_id, discount, "quote_items", "item_quote_id")
        else:
            given["quote_amount"] = lines.stored_cents(0 - float(discount or 0))
        fields.fit("quote_amount", schema.column_types()["quote_amount"], given["quote_amount"])
        changed = {k: v for k, v in given.items()
                   if str(current.get(k) if current.get(k) is not None else "") != str(v if v is not None else "")}
        if changed:
            call.db.update("quotes", changed, {"quote_id": record_id})
        return 1, given  # the page logs its edit whatever changed; so does this (and answers 1)

    @staticmethod
    def has_lines(call) -> bool:
        return bool(call.db.columns_of("quote_items"))


class MarkQuoteSent(QuoteAction):
    """mark_sent.php: a Draft quote becomes Sent (mark_quote_sent)."""
    verb, action, past = "Mark sent", "Sent", "Marked sent"
    allowed = ("Draft",)
    why = "ITFlow's quote page offers \"Mark Sent\" only on a Draft quote"

    def apply(self, call, record_id, current):
        call.db.update("quotes", {"quote_status": "Sent"}, {"quote_id": record_id})
        add_history(call, "Sent", "Quote marked sent", fields.now(), quote_id=record_id)
        return 1, {}

    def describe(self, current, values):
        text = f"Marked quote {quote_number(current)} as sent"
        return text, text


class Accept(QuoteAction):
    """accept.php: a Sent or Viewed quote becomes Accepted (accept_quote)."""
    verb, past = "Accept", "Accepted"
    allowed = ("Sent", "Viewed")
    why = "ITFlow's quote page offers \"Accept\" only on a Sent or Viewed quote"

    def apply(self, call, record_id, current):
        call.db.update("quotes", {"quote_status": "Accepted"}, {"quote_id": record_id})
        add_history(call, "Accepted", f"Quote accepted by {actor_name(call)}", fields.now(), quote_id=record_id)
        return 1, {}

    def describe(self, current, values):
        text = f"Marked quote {quote_number(current)} as accepted"
        return text, text


class ToInvoice(QuoteAction):
    """invoice.php: an Accepted quote becomes a Draft invoice with the quote's lines, and the
    quote Invoiced (add_quote_to_invoice)."""
    verb = "Invoice"
    allowed = ("Accepted",)
    why = "ITFlow's quote page offers \"Invoice\" only on an Accepted quote"
    body_fields = [Field("invoice_date", "date", description="the invoice's date; default: today")]

    def __call__(self, call):
        quote_id = self.record_id(call)
        quote = self.current(call, quote_id)
        self.check_state(call, quote_id, quote)
        given = {f.name: f.parse(call.params.get(f.name)) for f in self.body_fields if call.params.has(f.name)}
        stamp = fields.now()
        invoice_date = given.get("invoice_date") or stamp[:10]
        terms = call.db.scalar("SELECT client_net_terms AS terms FROM clients WHERE client_id = :client",
                               {"client": quote["quote_client_id"]})
        # As the page: due the client's terms from today (not from the invoice's date).
        due = (date.fromisoformat(stamp[:10]) + timedelta(days=int(terms or 0))).isoformat()
        settings = call.db.row("SELECT config_invoice_prefix, config_quote_prefix FROM settings "
                               "WHERE company_id = 1") or {}
        prefix = settings.get("config_invoice_prefix") or ""
        number = call.db.take_number("settings", "config_invoice_next_number", {"company_id": 1})
        client_id = int(quote["quote_client_id"])
        invoice_id = call.db.insert("invoices", {
            "invoice_prefix": prefix, "invoice_number": number, "invoice_scope": quote["quote_scope"] or "",
            "invoice_date": invoice_date, "invoice_due": due, "invoice_category_id": quote["quote_category_id"],
            "invoice_status": "Draft", "invoice_discount_amount": quote["quote_discount_amount"],
            "invoice_amount": quote["quote_amount"], "invoice_currency_code": quote["quote_currency_code"],
            "invoice_note": quote["quote_note"] or "",  # the page escapes a NULL note into ""
            "invoice_url_key": url_key(), "invoice_created_at": stamp,
            "invoice_client_id": client_id,
        })
        add_history(call, "Draft", f"Invoice created from quote {quote_number(quote)}", stamp, invoice_id=invoice_id)
        if UpdateQuote.has_lines(call):
            copied = ("item_name", "item_description", "item_quantity", "item_price", "item_subtotal", "item_tax",
                      "item_total", "item_order", "item_tax_id")
            for item in call.db.rows("SELECT * FROM quote_items WHERE item_quote_id = :quote ORDER BY item_id",
                                     {"quote": quote_id}):
                call.db.insert("invoice_items", {**{c: item[c] for c in copied}, "item_invoice_id": invoice_id,
                                                 "item_created_at": stamp})
        call.db.update("quotes", {"quote_status": "Invoiced"}, {"quote_id": quote_id})
        add_history(call, "Invoiced", f"Quote invoiced as {prefix}{number}", stamp, quote_id=quote_id)
        description = (f"Created invoice {prefix}{number} from quote "
                       f"{settings.get('config_quote_prefix') or ''}{quote['quote_number']}")
        call.log_change("Invoice", "Create", description, client_id, invoice_id, description)
        # A ticket the quote was made for points at the invoice, unless it has one.
        ticket = call.db.row("SELECT ticket_id FROM tickets WHERE ticket_quote_id = :quote ORDER BY ticket_id LIMIT 1",
                             {"quote": quote_id})
        if ticket is not None:
            call.db.execute("UPDATE tickets SET ticket_invoice_id = :invoice WHERE ticket_id = :ticket "
                            "AND ticket_invoice_id = 0", {"invoice": invoice_id, "ticket": ticket["ticket_id"]})
        return {"success": "True", "count": 1, "data": [{"insert_id": invoice_id, "quote_id": quote_id}]}
