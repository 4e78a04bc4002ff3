"""invoices: create, update, mark sent and cancel, as the newest ITFlow's agent invoice page writes them.

create.php follows agent/post/invoice.php add_invoice (then add_invoice_item for each line
sent along), update.php its edit_invoice, mark_sent.php mark_invoice_sent and cancel.php
cancel_invoice (ITFlow 26.08): the invoice row with its number taken from the settings, its
`history` rows, and `logs` rows of type Invoice. Lines: lib/modules/invoice_items.py. No mail
and no PDF (docs/billing.md).
"""
from __future__ import annotations

import secrets
from datetime import date, timedelta

from ..core import envelope
from ..core import values as fields
from ..core.crud import Operation, RecordOperation, find_in_scope
from ..core.definitions import Field, Lookup, Module
from ..core.envelope import Refused
from ..itflow import schema
from . import invoice_items as lines
from .tickets import actor_name  # the agent the page names in a history row: the key's user, or the key

MODULE = Module(
    name="invoices", table="invoices", id_column="invoice_id", client_column="invoice_client_id",
    entity="Invoice", name_column="invoice_number",
    description="Invoices (items via invoice_items). create, update, mark_sent and cancel write what ITFlow's "
                "invoice page writes.",
    fields=[
        Field("invoice_date", "date", description="default: today"),
        Field("invoice_scope", description="a short description of the invoice"),
        Field("invoice_category_id", "int", description="an income category (categories; 0: none)"),
        Field("invoice_discount_amount", "decimal", description="taken off the lines' total"),
        Field("items", "list", stored=False,
              description="create only: lines to add, each an object with invoice_items/create's fields "
                          "(name, qty, price required; description, tax_id, product_id, item_order)"),
    ],
    lookups=[Lookup("invoice_id", "int", single=True)],
)
# The columns the page's edit form writes (edit_invoice), besides the amount it works out; the
# due date only there (a create's is the date plus the client's net terms).
DUE = Field("invoice_due", "date", description="the date the invoice is due")
EDITED = [*(f for f in MODULE.fields if f.name != "items"), DUE]


def add_history(call, invoice_id, status, description, stamp) -> None:
    call.db.insert("history", {"history_status": status, "history_description": description[:200],
                               "history_created_at": stamp, "history_invoice_id": invoice_id})


def url_key() -> str:
    """The key of the invoice's guest link: 32 characters of URL-safe base64, as the page's randomString(32)."""
    return secrets.token_urlsafe(24)


class CreateInvoice(Operation):
    """create.php: a Draft invoice numbered from the settings (add_invoice), then each line
    sent in `items` as the page adds a line (add_invoice_item)."""
    verb = "Create"

    def __call__(self, call):
        given = {f.name: f.parse(call.params.get(f.name)) for f in self.module.fields
                 if f.name != "items" and call.params.has(f.name)}
        if call.params.has("invoice_due"):
            raise Refused("invoice_due is not taken on create: ITFlow's invoice page sets it to the date plus the "
                          "client's net terms (change it with invoices/update).")
        items = self.module.field("items").parse(call.params.values.get("items"))  # the list itself, as sent
        parsed = []
        for n, item in enumerate(items, 1):
            try:
                parsed.append(lines.parse_line(lines.LINE_FIELDS, item))
            except Refused as refused:
                raise Refused(f"items[{n}]: {refused.message}") from None
        client_id = call.scope.write_client
        if not client_id:
            raise Refused("Missing required field: client_id (this key is for all clients, so the request must "
                          "name the client).")
        client = call.db.row("SELECT client_net_terms FROM clients WHERE client_id = :client", {"client": client_id})
        if client is None:
            raise Refused(f"No client with client_id {client_id}.")
        stamp = fields.now()
        invoice_date = given.get("invoice_date") or stamp[:10]
        try:
            due = (date.fromisoformat(invoice_date) + timedelta(days=int(client["client_net_terms"] or 0))).isoformat()
        except ValueError:
            raise Refused(f"Field 'invoice_date' must be a date, not {invoice_date!r}.") from None
        discount = float(given.get("invoice_discount_amount") or 0)
        settings = call.db.row("SELECT config_invoice_prefix FROM settings WHERE company_id = 1") or {}
        prefix = settings.get("config_invoice_prefix") or ""
        currency = call.db.scalar("SELECT company_currency AS code FROM companies WHERE company_id = 1")
        number = call.db.take_number("settings", "config_invoice_next_number", {"company_id": 1})
        scope = given.get("invoice_scope", "")
        invoice_id = call.db.insert("invoices", {
            "invoice_prefix": prefix, "invoice_number": number, "invoice_scope": scope,
            "invoice_date": invoice_date, "invoice_due": due,
            "invoice_discount_amount": lines.stored_cents(discount),
            "invoice_amount": lines.stored_cents(0 - discount),  # as the page: no lines yet, less the discount
            "invoice_currency_code": currency or "", "invoice_category_id": given.get("invoice_category_id", 0),
            "invoice_status": "Draft", "invoice_url_key": url_key(), "invoice_created_at": stamp,
            "invoice_client_id": client_id,
        })
        add_history(call, invoice_id, "Draft", f"Invoice created by {actor_name(call)}", stamp)
        call.log_change("Invoice", "Create", f"Created invoice {prefix}{number} - {scope}", client_id, invoice_id,
                        f"Created invoice {prefix}{number}")
        if parsed:
            invoice = find_in_scope(call, "invoices", "invoice_id", invoice_id, "invoice_client_id", "invoice")
            for line in parsed:
                lines.add_line(call, invoice, line, stamp)
        return envelope.created(invoice_id)


class InvoiceAction(RecordOperation):
    """An action of the invoice page on one invoice: the row held, the state checked, the
    change, its history row and its logs row."""
    action = "Edit"
    refused_states: tuple[str, ...] = ()
    why = ""  # why the page does not do it in a refused state

    def current(self, call, record_id, lock=False):
        return super().current(call, record_id, lock=True)

    def check_state(self, call, record_id, current):
        if self.refuses(current["invoice_status"]):
            raise Refused(f"Invoice {lines.invoice_number(current)} is {current['invoice_status']}: {self.why} "
                          "(nothing was written).")

    def refuses(self, status) -> bool:
        return status in self.refused_states

    def describe(self, current, values):
        text = f"{self.past} invoice {lines.invoice_number(current)}"
        return text, text


class UpdateInvoice(InvoiceAction):
    """update.php: the fields of the page's edit form that are sent, and the amount worked
    out again from the lines and the discount (edit_invoice)."""
    verb, past = "Update", "Edited"
    body_fields = EDITED

    def apply(self, call, record_id, current):
        given = {f.name: f.parse(call.params.get(f.name)) for f in EDITED if call.params.has(f.name)}
        if call.params.has("items"):
            raise Refused("Field 'items' is for create: add or remove lines with invoice_items/create and delete.")
        for name in ("invoice_date", "invoice_due"):  # NOT NULL dates: an empty one keeps its value
            if name in given and not given[name]:
                del given[name]
        # As the page: the amount less the discount as sent (not as stored, to the cent).
        discount = given.get("invoice_discount_amount", current["invoice_discount_amount"])
        if "invoice_discount_amount" in given:
            given["invoice_discount_amount"] = lines.stored_cents(float(given["invoice_discount_amount"]))
        given["invoice_amount"] = amount = lines.amount_from_items(call, record_id, discount)
        fields.fit("invoice_amount", schema.column_types()["invoice_amount"], amount)
        if amount != current["invoice_amount"]:
            if current["invoice_status"] in lines.LOCKED:
                raise Refused(f"Invoice {lines.invoice_number(current)} is {current['invoice_status']}: its amount "
                              f"cannot change (it would be {amount}); nothing was written.")
            lines.check_not_below_paid(call, current, amount)
        changed = {k: v for k, v in given.items() if str(current.get(k) if current.get(k) is not None else "") !=
                   str(v if v is not None else "")}
        if changed:
            call.db.update("invoices", changed, {"invoice_id": record_id})
        # The page writes its logs row whatever changed; so does this (and answers 1).
        return 1, given


class MarkSent(InvoiceAction):
    """mark_sent.php: a Draft invoice becomes Sent (mark_invoice_sent)."""
    verb, past = "Mark sent", "Marked sent"
    why = "ITFlow's invoice page offers \"Mark Sent\" only on a Draft invoice"

    def refuses(self, status) -> bool:
        return status != "Draft"

    def apply(self, call, record_id, current):
        call.db.update("invoices", {"invoice_status": "Sent"}, {"invoice_id": record_id})
        add_history(call, record_id, "Sent", f"Invoice marked sent by {actor_name(call)}", fields.now())
        return 1, {}

    def describe(self, current, values):
        text = f"Marked invoice {lines.invoice_number(current)} sent"
        return text, text


class Cancel(InvoiceAction):
    """cancel.php: the invoice becomes Cancelled (cancel_invoice)."""
    verb, past = "Cancel", "Cancelled"
    refused_states = ("Cancelled", "Paid", "Non-Billable")
    why = "ITFlow's invoice page offers \"Cancel\" only on an invoice that is not Cancelled, Paid or Non-Billable"

    def apply(self, call, record_id, current):
        call.db.update("invoices", {"invoice_status": "Cancelled"}, {"invoice_id": record_id})
        add_history(call, record_id, "Cancelled", f"Invoice cancelled by {actor_name(call)}", fields.now())
        return 1, {}
