"""tickets: support tickets. Numbers come from settings, atomically; resolve.php closes out.

On a database with SLAs (ITFlow 2.5.0+) a create stamps the SLA's due dates and resolve
judges them (lib/itflow/sla.py); resolve and status changes leave ticket_history rows.
"""
from ..core import values as fields
from ..core.crud import RecordOperation
from ..core.definitions import Field, Hooks, Lookup, Module, table_fields
from ..core.envelope import Refused, ServerError
from ..itflow import sla
from ..itflow.audit import _html_escaped as key_label  # ITFlow names keys through htmlentities()
from ..itflow.crypto import ALPHANUMERIC, random_token

STATUS_NEW, STATUS_RESOLVED = 1, 4
STATUS_JOIN = "tickets LEFT JOIN ticket_statuses ON ticket_status = ticket_status_id"


def request_now(call):
    """The one instant every stamp of this request carries."""
    if "now" not in call.memo:
        call.memo["now"] = fields.now()
    return call.memo["now"]


def log_history(call, ticket_id, what):
    """A ticket_history row, as ITFlow's logTicketHistory writes it: the ticket's status name
    now, and what happened "via the API (<key name>)"."""
    status = call.db.scalar("SELECT ticket_status_name AS name FROM tickets "
                            "LEFT JOIN ticket_statuses ON ticket_status = ticket_status_id "
                            "WHERE ticket_id = :ticket", {"ticket": ticket_id})
    call.db.insert("ticket_history", {
        "ticket_history_status": status or "",
        "ticket_history_description": f"{what} via the API ({key_label(call.key.name)})"[:255],
        "ticket_history_created_at": request_now(call),
        "ticket_history_ticket_id": ticket_id,
    })


def status_name(db, status):
    return db.scalar("SELECT ticket_status_name AS name FROM ticket_statuses WHERE ticket_status_id = :status",
                     {"status": status}) or "Unknown"


def after_status_change(call, ticket, status, stamp, resolving=False):
    """What a status change on an existing ticket brings along: a history row (a resolving
    caller logs "Resolved" itself) and, with SLAs, the clock paused, resumed or stopped."""
    ticket_id, before = int(ticket["ticket_id"]), int(ticket["ticket_status"])
    if status == before:
        return
    if not resolving:
        log_history(call, ticket_id, f"Status set to {status_name(call.db, status)}")
    if sla.enabled(call.db):
        # Leaving Resolved keeps ticket_resolved_at (ITFlow's API does the same), so the clock
        # stays stopped and the verdict stands.
        sla.sync_clock(call.db, ticket_id, stamp)


_NO_SETTINGS = "The settings row of company 1 is missing: run `itflow-api init-db`."


_CONTACT = ("(SELECT contact_id FROM contacts WHERE contact_client_id = :client AND contact_primary = 1 "
            "ORDER BY contact_id LIMIT 1)")
_CLIENT_FOUND = "(SELECT COUNT(*) FROM clients WHERE client_id = :client)"


def create_defaults(db, client_id, want_contact):
    """(ticket prefix, the client's primary contact id or 0, whether the client exists), in
    one query: a create's reads cost one round trip. Only what the create will use is asked
    for (no client: the prefix alone; a contact named: no primary contact)."""
    row = db.row(f"SELECT config_ticket_prefix AS prefix, {_CONTACT if want_contact else '0'} AS contact, "
                 f"{_CLIENT_FOUND if client_id else '0'} AS client_found "
                 "FROM settings WHERE company_id = 1", {"client": client_id})
    if row is None:
        raise ServerError(_NO_SETTINGS)
    return row["prefix"] or "", int(row["contact"] or 0), int(row["client_found"]) > 0


def wants_contact(client_id, values):
    """A ticket of a client that names no contact gets the client's primary contact."""
    return bool(client_id and not values["ticket_contact_id"])


def ticket_number(call):
    """The next number from settings of company 1, taken the way ITFlow takes it (lib/db/database.py
    take_number: never shared, and no create waits for another's COMMIT). On MySQL it is
    taken once per request: a create that runs again after a write conflict (lib/core/retry.py)
    keeps it, and one that fails for good leaves a gap in the numbers, as in ITFlow. (On
    SQLite the rollback gives the number back, so each attempt takes its own.)"""
    number = call.memo.get("ticket_number")
    if number is None:
        number = call.db.take_number("settings", "config_ticket_next_number", {"company_id": 1})
        if number is None:
            raise ServerError(_NO_SETTINGS)
        if call.db.numbers_outlive_rollback:
            call.memo["ticket_number"] = number
    return number


class TicketHooks(Hooks):
    def before_delete(self, call, module, current):
        ticket_id = int(current["ticket_id"])
        call.db.delete("ticket_replies", {"ticket_reply_ticket_id": ticket_id})
        call.db.delete("ticket_history", {"ticket_history_ticket_id": ticket_id})
        if sla.enabled(call.db):
            sla.forget(call.db, ticket_id)

    def display_name(self, module, row):
        return f"{row.get('ticket_prefix') or ''}{row.get('ticket_number') or ''} {row.get('ticket_subject') or ''}".strip()

    def created_log_name(self, module, name):
        return f"Created ticket {name}"  # ITFlow's ticket create logs both rows alike

    def client_exists(self, call, module, client_id, values):
        # The create's defaults, read with the client check in one query, go on to
        # before_create as its `client` (each attempt of a retried create reads afresh).
        defaults = create_defaults(call.db, client_id, wants_contact(client_id, values))
        return defaults if defaults[2] else None

    def before_create(self, call, module, values, client=None):
        if sla.enabled(call.db):
            values["ticket_created_at"] = request_now(call)  # the SLA due dates count from it
        client_id = values["ticket_client_id"]
        want_contact = wants_contact(client_id, values)
        prefix, contact, _ = client or create_defaults(call.db, client_id, want_contact)
        values["ticket_prefix"] = prefix
        if want_contact:
            values["ticket_contact_id"] = contact
        values["ticket_number"] = ticket_number(call)
        values["ticket_status"] = STATUS_NEW
        values["ticket_source"] = "API"
        values["ticket_created_by"] = 0
        values["ticket_url_key"] = random_token(32, ALPHANUMERIC)
        values["ticket_details"] = (values["ticket_details"] or "< blank >") + "<br>"

    def after_create(self, call, module, record_id, values):
        if sla.enabled(call.db):
            sla.stamp(call.db, record_id, request_now(call))

    def after_update(self, call, module, current, values):
        stamp = request_now(call)
        status = values.get("ticket_status")
        if status is not None:
            after_status_change(call, current, int(status), stamp)
        if sla.enabled(call.db) and any(
                name in values and str(values[name]) != str(current[name])
                for name in ("ticket_priority", "ticket_client_id")):
            sla.stamp(call.db, int(current["ticket_id"]), stamp)  # another SLA may apply now


MODULE = Module(
    name="tickets", table="tickets", id_column="ticket_id", client_column="ticket_client_id",
    entity="Ticket", name_column="ticket_subject", archived_column="ticket_archived_at",
    client_optional=True, hooks=TicketHooks(),
    description="Support tickets; numbered from settings (prefix + next number), created New.",
    fields=table_fields("tickets", "ticket_client_id", skip=(
        "ticket_prefix", "ticket_number", "ticket_source", "ticket_url_key", "ticket_created_by",
        "ticket_closed_by", "ticket_resolved_at", "ticket_first_response_at", "ticket_closed_at",
        "ticket_feedback", "ticket_quote_id", "ticket_invoice_id", "ticket_project_id",
        "ticket_recurring_ticket_id", "ticket_order", "ticket_vendor_ticket_number",
    ), references={
        "ticket_contact_id": "contacts", "ticket_asset_id": "assets", "ticket_location_id": "locations",
        "ticket_vendor_id": "vendors",
    }, overrides={
        "ticket_subject": {"required": True},
        "ticket_details": {"kind": "html", "description": "HTML kept; '<br>' is appended on create"},
        "ticket_priority": {"default": "Low"},
        "ticket_status": {"description": "1 New, 2 Open, 3 On Hold, 4 Resolved, 5 Closed (create: always 1)"},
    }, extra=[Field("ticket_vendor_ticket_id", column="ticket_vendor_ticket_number", default="0",
                    description="the vendor's ticket number (ITFlow's create writes 0 when not sent)")]),
    lookups=[Lookup("ticket_id", "int", single=True, source=STATUS_JOIN, description="joined with its status")],
)


class Resolve(RecordOperation):
    """resolve.php: status Resolved, resolved now (and first response, if there was none)."""
    verb, action, past = "Resolve", "Resolved", "Resolved"

    def apply(self, call, ticket_id, current):
        if current["ticket_resolved_at"]:
            raise Refused(f"Ticket {ticket_id} is already resolved.")
        stamp = request_now(call)
        values = {"ticket_status": STATUS_RESOLVED, "ticket_resolved_at": stamp,
                  **sla.first_response_values(current, stamp)}
        count = call.db.update(self.module.table, values, {self.module.id_column: ticket_id})
        if sla.enabled(call.db):
            sla.sync_clock(call.db, ticket_id, stamp)
            sla.judge_resolution(call.db, ticket_id, stamp)
        log_history(call, ticket_id, "Resolved")
        return count, values

    def describe(self, current, values):
        number = f"{current['ticket_prefix'] or ''}{current['ticket_number']}"
        return f"{number} ticket", f"Resolved ticket {number}"
