"""payments: money received against an invoice, as the newest ITFlow's agent pages record it.

create.php follows agent/post/payment.php add_payment and delete.php its delete_payment (ITFlow
26.08): the `payments` row, the invoice's status worked out from what its payments add up to,
a `history` row on the invoice and a `logs` row of type Invoice. A payment has no client
column: it belongs to its invoice's client, and every read and write is scoped through the
invoice. The page's e-mailed receipt is not sent (docs/billing.md).
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from ..core import envelope, versions
from ..core import values as fields
from ..core.crud import Operation, RecordOperation, find_in_scope
from ..core.definitions import Field, Lookup, Module
from ..core.envelope import Refused

INVOICE_JOIN = "payments JOIN invoices ON invoice_id = payment_invoice_id"
CENT = Decimal("0.01")
# The invoice page offers "Add Payment" on no invoice in these states (agent/invoice.php); a
# Paid one has no balance left either.
NOT_PAYABLE = ("Draft", "Cancelled", "Non-Billable", "Paid")

MODULE = Module(
    name="payments", table="payments", id_column="payment_id", client_column="invoice_client_id",
    entity="Invoice", name_column="payment_reference", select="payments.*", list_from=INVOICE_JOIN,
    description="Payments on invoices, scoped by the invoice's client. create and delete move the invoice "
                "to Partial, Paid or back to Sent as ITFlow's payment page does.",
    read_notes="without a look-up, every payment of the key's clients",
    fields=[
        Field("invoice_id", "int", required=True, stored=False, description="the invoice paid"),
        Field("payment_amount", "decimal", required=True,
              description="more than 0 and at most the invoice's balance (ITFlow refuses an over-payment)"),
        Field("payment_date", "date", description="default: today"),
        Field("payment_method", description="default: the setting config_default_payment_method"),
        Field("payment_reference", description="check number, transaction id"),
        Field("payment_account_id", "int",
              description="the account paid into (accounts); default: the setting config_default_payment_account"),
    ],
    lookups=[
        Lookup("payment_id", "int", single=True, source=INVOICE_JOIN),
        Lookup("invoice_id", "int", column="payment_invoice_id", source=INVOICE_JOIN),
    ],
)


def cents(value) -> int:
    """A decimal(15,2) value as whole cents (ITFlow compares amounts in cents or as the
    decimals MySQL sums, never as floats that drift)."""
    return int((Decimal(str(value or 0)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def money(value) -> Decimal:
    """As MySQL stores a number in a decimal(15,2) column: rounded half away from zero."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def invoice_number(invoice) -> str:
    return f"{invoice['invoice_prefix'] or ''}{invoice['invoice_number']}"


def amount_text(amount, currency) -> str:
    """How a log row names an amount (ITFlow formats it for the company's locale: "$50.00")."""
    return f"{money(amount)} {currency or ''}".strip()


def paid_so_far(call, invoice_id) -> Decimal:
    """The sum of the invoice's payments. On MariaDB a locking read, so it sees a payment
    another request committed while this one waited for the invoice's row (a plain read would
    answer from the transaction's older snapshot, and two payments at once could both pass
    the balance check)."""
    sql = "SELECT COALESCE(SUM(payment_amount), 0) AS paid FROM payments WHERE payment_invoice_id = :invoice"
    if call.db.dialect == "mysql":
        sql += " FOR UPDATE"
    return Decimal(str(call.db.scalar(sql, {"invoice": invoice_id}) or 0))


def status_from_payments(call, invoice) -> str:
    """updateInvoiceStatusFromPayments (functions/payments.php), which the page's delete runs:
    a Draft or Cancelled invoice keeps its status; otherwise nothing paid is Sent, the amount
    paid in full (or more) Paid, anything between Partial. Written, and returned."""
    if invoice["invoice_status"] in ("Draft", "Cancelled"):
        return str(invoice["invoice_status"])
    paid, total = cents(paid_so_far(call, invoice["invoice_id"])), cents(invoice["invoice_amount"])
    status = "Sent" if paid <= 0 else "Paid" if paid >= total else "Partial"
    call.db.update("invoices", {"invoice_status": status}, {"invoice_id": invoice["invoice_id"]})
    return status


def add_history(call, invoice_id, status, description, stamp) -> None:
    """A row of the invoice's history card (ITFlow's `history` table)."""
    call.db.insert("history", {"history_status": status, "history_description": description,
                               "history_created_at": stamp, "history_invoice_id": invoice_id})


def setting(call, column):
    return call.db.scalar(f"SELECT {column} AS value FROM settings WHERE company_id = 1")


class AddPayment(Operation):
    """create.php: a payment on an invoice (agent/post/payment.php add_payment)."""
    verb = "Create"

    def __call__(self, call):
        given = self.parse_given(call)
        missing = [f.name for f in self.module.fields if f.required and call.params.get(f.name) in (None, "")]
        if missing:
            raise Refused(f"Missing required field(s): {', '.join(missing)}.")
        amount = Decimal(str(given["payment_amount"]))
        if money(amount) <= 0:  # stored to the cent: 0.004 would be a payment of 0.00
            raise Refused("Field payment_amount must be more than 0 (it is stored to the cent: at least 0.01).")
        invoice_id = given["invoice_id"]
        invoice = find_in_scope(call, "invoices", "invoice_id", invoice_id, "invoice_client_id", "invoice", lock=True)
        number = invoice_number(invoice)
        if invoice["invoice_status"] in NOT_PAYABLE:
            raise Refused(f"Invoice {number} is {invoice['invoice_status']}: ITFlow's invoice page takes payments "
                          "only on a sent, viewed or partly paid invoice (nothing was written).")
        balance = Decimal(str(invoice["invoice_amount"])) - paid_so_far(call, invoice_id)
        if amount > balance:  # the page compares the amount as sent with the balance
            raise Refused(f"Payment can not be more than the balance: invoice {number} has {money(balance)} "
                          f"left to pay, {amount} was sent (nothing was written).")
        account = given.get("payment_account_id") or int(setting(call, "config_default_payment_account") or 0)
        if not account:
            raise Refused("Missing required field: payment_account_id (and no default payment account is set).")
        if call.db.row("SELECT account_id FROM accounts WHERE account_id = :account AND account_archived_at IS NULL",
                       {"account": account}) is None:
            raise Refused(f"No account with account_id {account} (an unarchived row of accounts).")
        method = given["payment_method"] if "payment_method" in given else \
            str(setting(call, "config_default_payment_method") or "")
        currency = call.db.scalar("SELECT client_currency_code AS code FROM clients WHERE client_id = :client",
                                  {"client": invoice["invoice_client_id"]})
        stamp = fields.now()
        payment_id = call.db.insert("payments", {
            "payment_date": given.get("payment_date") or stamp[:10], "payment_amount": str(money(amount)),
            "payment_currency_code": (currency or "")[:10],  # varchar(10); a client's code may be longer
            "payment_account_id": account, "payment_method": method,
            "payment_reference": given.get("payment_reference", ""), "payment_created_at": stamp,
            "payment_invoice_id": invoice_id,
        })
        # As the page: the balance after this payment, to the cent, decides Paid or Partial.
        paid = paid_so_far(call, invoice_id)
        status = "Paid" if cents(invoice["invoice_amount"]) - cents(paid) == 0 else "Partial"
        call.db.update("invoices", {"invoice_status": status}, {"invoice_id": invoice_id})
        add_history(call, invoice_id, status, "Payment added", stamp)
        description = (f"Payment amount of {amount_text(amount, invoice['invoice_currency_code'])} "
                       f"added to invoice {number}")
        call.log_change("Invoice", "Payment", description, int(invoice["invoice_client_id"]), invoice_id, description)
        return envelope.created(payment_id)


class DeletePayment(RecordOperation):
    """delete.php: remove a payment; its invoice's status is worked out again from the
    payments left (agent/post/payment.php delete_payment)."""
    verb, action, past = "Delete", "Edit", "Deleted"
    keeps_record = False

    def __call__(self, call):
        record_id = self.record_id(call)
        conditions = versions.Conditions.of(call.params)
        # Found through its invoice, within the key's clients, both rows held to the end.
        found = find_in_scope(call, INVOICE_JOIN, "payment_id", record_id, "invoice_client_id", "payment", lock=True)
        if conditions is not None:  # the payment's own row, as a read by payment_id describes it
            conditions.check("payments", {k: v for k, v in found.items() if k.startswith("payment_")})
        call.db.delete("payments", {"payment_id": record_id})
        stamp = fields.now()
        status = status_from_payments(call, found)
        add_history(call, found["invoice_id"], status, "Payment deleted", stamp)
        number = invoice_number(found)
        amount = amount_text(found["payment_amount"], found["payment_currency_code"])
        description = f"Deleted payment of {amount} on invoice {number}"
        call.log_change("Invoice", self.action, description, int(found["invoice_client_id"]), int(found["invoice_id"]),
                        description)
        return envelope.changed(1)
