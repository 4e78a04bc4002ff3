"""tickets: support tickets. Numbers come from settings, atomically; resolve.php closes out.

On a database with SLAs (ITFlow 2.5.0+) a create stamps the SLA's due dates and resolve
judges them (lib/itflow/sla.py); resolve and status changes leave ticket_history rows.
"""
import re
from datetime import datetime

from ..core import envelope
from ..core import values as fields
from ..core.crud import RecordOperation, Update, find_in_scope, require_table
from ..core.definitions import Field, Hooks, Lookup, Module, table_fields
from ..core.envelope import Refused, ServerError
from ..core.values import parse_int
from ..itflow import php_text, sla
from ..itflow.audit import _html_escaped as key_label  # ITFlow names keys through htmlentities()
from ..itflow.crypto import ALPHANUMERIC, random_token
from ._rules import category_named, id_named, is_name

STATUS_NEW, STATUS_OPEN, STATUS_RESOLVED, STATUS_CLOSED = 1, 2, 4, 5
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
    # An update writes what it is sent and nothing else, as the agent page's ticket edits do
    # (no stored NULL turned into '' or 0).
    update_model=(),
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
        "ticket_status": {"description": "1 New, 2 Open, 3 On Hold, 4 Resolved, 5 Closed (create: always 1); "
                                         "update: also a status name"},
        "ticket_category": {"description": "a category id; update: also the name of a Ticket category (where the "
                                           "database has categories)"},
        "ticket_schedule": {"description": "the scheduled time; update: a change (or of ticket_onsite) leaves the "
                                           "page's \"Ticket scheduled for ...\" note, \"\" clears it with the page's "
                                           "cancel note"},
    }, extra=[Field("ticket_vendor_ticket_id", column="ticket_vendor_ticket_number", default="0",
                    description="the vendor's ticket number (ITFlow's create writes 0 when not sent)"),
              Field("ticket_assets", "ids", stored=False,
                    description="update only (create ignores it): "
                                "the ticket's additional assets (ticket_assets), asset ids of its "
                                "client as \"1,2,3\" or a JSON list; they replace the ones it has (\"\" or [] "
                                "removes them all). Newest ITFlow layout only")]),
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


# --- status names, assignment, and the actions of the agent's ticket page --------------------
#
# close.php, reopen.php and assign.php follow the newest ITFlow's own ticket page
# (agent/post/ticket.php: close_ticket, reopen_ticket, assign_ticket): the same columns, the
# same ticket_replies and ticket_history rows, the same SLA steps. The page's e-mails and its
# in-app notification are not sent (docs/ticket-actions.md).

MAX_TICKETS = 500  # ids one action may name
IDS_SCHEMA = {"type": ["integer", "string", "array"], "items": {"type": "integer"}}
EMAILS_SCHEMA = {"type": ["string", "array"], "items": {"type": "string"}}


def actor_name(call):
    """Who did it, as the page names the signed-in agent in a history row: the key's user,
    or the key itself when it acts as no user."""
    if call.key.user_id:
        name = call.db.scalar("SELECT user_name AS name FROM users WHERE user_id = :user", {"user": call.key.user_id})
        if name:
            return str(name)
    return f"API ({key_label(call.key.name)})"


def named_status(db, raw):
    """The status id a name stands for ("resolved", " Closed"), or None when `raw` is a number
    (read as an id, as before). An unknown name is refused with the names there are."""
    if not is_name(raw):
        return None
    statuses = db.rows("SELECT ticket_status_id, ticket_status_name FROM ticket_statuses "
                       "WHERE ticket_status_active = 1 ORDER BY ticket_status_order, ticket_status_id")
    return id_named(statuses, "ticket_status_id", "ticket_status_name", raw, "ticket_status", "ticket status")


def agent_name(call, user_id):
    """The name of the user a ticket is assigned to; an id naming no user is refused (the page
    answers "Invalid agent!")."""
    name = call.db.scalar("SELECT user_name AS name FROM users WHERE user_id = :user", {"user": user_id})
    if not name:
        raise Refused(f"No user with user_id {user_id}: ticket_assigned_to takes a user id (0 unassigns).")
    return str(name)


def add_internal_note(call, ticket_id, text, stamp):
    """The internal reply the page leaves with a close or an assignment."""
    call.db.insert("ticket_replies", {
        "ticket_reply": text, "ticket_reply_type": "Internal", "ticket_reply_time_worked": "00:00:00",
        "ticket_reply_by": call.key.user_id or 0, "ticket_reply_ticket_id": ticket_id,
        "ticket_reply_created_at": stamp,
    })


def write_history(call, ticket_id, description, stamp):
    """A ticket_history row worded as the page words it (logTicketHistory: the status after
    the change, the description cut at 255)."""
    status = call.db.scalar("SELECT ticket_status_name AS name FROM tickets "
                            "LEFT JOIN ticket_statuses ON ticket_status = ticket_status_id "
                            "WHERE ticket_id = :ticket", {"ticket": ticket_id})
    call.db.insert("ticket_history", {
        "ticket_history_status": status or "", "ticket_history_description": description[:255],
        "ticket_history_created_at": stamp, "ticket_history_ticket_id": ticket_id,
    })


def resolved_values(current, stamp):
    """What the page's resolve writes besides the status: resolved now, first response now if
    there was none."""
    values = {"ticket_resolved_at": stamp}
    values.update(sla.first_response_values(current, stamp))
    return values


def closed_values(call, stamp):
    """What the page's close writes besides the status (closed_by: the agent; 0 for a key that
    acts as no user)."""
    return {"ticket_closed_at": stamp, "ticket_closed_by": call.key.user_id or 0}


def stop_the_clock(call, ticket_id, stamp):
    """syncTicketSlaClock then setTicketResolutionSlaMet, as resolve and close run them."""
    if sla.enabled(call.db):
        sla.sync_clock(call.db, ticket_id, stamp)
        sla.judge_resolution(call.db, ticket_id, stamp)


def reset_resolution_sla(call, ticket_id, stamp):
    """resetTicketResolutionSla (functions/sla.php): back on the resolution clock with the budget
    left, unless a recorded miss has no budget left (then the miss and its alert stage stay)."""
    if not sla.enabled(call.db):
        return
    row = call.db.row("SELECT ticket_resolution_sla_met, sla_resolution_minutes FROM tickets "
                      "LEFT JOIN slas ON ticket_sla_id = sla_id WHERE ticket_id = :ticket", {"ticket": ticket_id})
    if row is not None:
        budget = int(row["sla_resolution_minutes"] or 0)
        missed = row["ticket_resolution_sla_met"] is not None and int(row["ticket_resolution_sla_met"]) == 0
        if missed and budget > 0 and sla.consumed_minutes(call.db, ticket_id, stamp) >= budget:
            sla.sync_clock(call.db, ticket_id, stamp)
            return
    call.db.update("tickets", {"ticket_resolution_sla_met": None, "ticket_resolution_sla_alert_stage": 0},
                   {"ticket_id": ticket_id})
    sla.sync_clock(call.db, ticket_id, stamp)


def ticket_number_text(ticket):
    return f"{ticket['ticket_prefix'] or ''}{ticket['ticket_number']}"


class TicketUpdate(Update):
    """update.php: as for every module, and ticket_status may be a status *name*
    (case-insensitive) as well as an id. Moving a ticket to Resolved or Closed stamps what
    the page's resolve or close stamps (resolved_at and the first response; closed_at and
    closed_by) and judges the resolution SLA; a new assignee must be a user."""

    def parse_given(self, call):
        named = {"ticket_status": named_status(call.db, call.params.get("ticket_status"))}
        if call.db.columns_of("categories"):
            # The page files a ticket under a Ticket category's id (ticket_category is text: a
            # database without categories keeps what it is sent, as before).
            named["ticket_category"] = category_named(call.db, call.params.get("ticket_category"), "Ticket",
                                                      "ticket_category")
        return {f.name: named[f.name] if named.get(f.name) is not None else f.parse(call.params.get(f.name))
                for f in self.module.fields if call.params.has(f.name) and f.stored}

    def apply(self, call, record_id, current):
        values = self.parse_given(call)
        assets = additional_assets(call, current) if call.params.has("ticket_assets") else None
        assignee = values.get("ticket_assigned_to")
        if assignee and int(assignee) != int(current["ticket_assigned_to"] or 0):
            agent_name(call, int(assignee))
        status = values.get("ticket_status")
        if status is not None and not call.db.count("ticket_statuses", {"ticket_status_id": status}):
            names = ", ".join(f"{r['ticket_status_name']} ({r['ticket_status_id']})" for r in call.db.rows(
                "SELECT ticket_status_id, ticket_status_name FROM ticket_statuses ORDER BY ticket_status_id"))
            raise Refused(f"No ticket status {status}: ticket_status takes one of: {names}.")
        count, values = super().apply(call, record_id, current)
        stamp = request_now(call)
        if str(call.params.values.get("ticket_schedule", "x")).strip() == "" and current["ticket_schedule"]:
            # "" clears the scheduled time, as the page's cancel does (every other date an
            # update is sent empty keeps the stored one).
            values["ticket_schedule"] = None
            count = call.db.update("tickets", {"ticket_schedule": None}, {"ticket_id": record_id}) or count
        if status is not None and int(status) != int(current["ticket_status"]):
            extra = {}
            if int(status) == STATUS_RESOLVED and not current["ticket_resolved_at"]:
                extra = resolved_values(current, stamp)
            elif int(status) == STATUS_CLOSED and not current["ticket_closed_at"]:
                extra = closed_values(call, stamp)
            if extra:
                call.db.update("tickets", extra, {"ticket_id": record_id})
                stop_the_clock(call, record_id, stamp)
        if "ticket_priority" in values and str(values["ticket_priority"]) != str(current["ticket_priority"] or ""):
            # edit_ticket and edit_ticket_priority: "<agent> changed priority from High to Low".
            write_history(call, record_id, f"{actor_name(call)} changed priority from "
                                           f"{current['ticket_priority'] or ''} to {values['ticket_priority']}", stamp)
        if "ticket_assigned_to" in values and int(values["ticket_assigned_to"] or 0) != int(current["ticket_assigned_to"] or 0):
            # The page's edit records a new assignee as its assign does (agent/post/ticket.php edit_ticket).
            assigned = int(values["ticket_assigned_to"] or 0)
            what = f"assigned the ticket to {agent_name(call, assigned)}" if assigned else "unassigned the ticket"
            write_history(call, record_id, f"{actor_name(call)} {what}", stamp)
        if "ticket_contact_id" in values and int(values["ticket_contact_id"] or 0) != int(current["ticket_contact_id"] or 0):
            # edit_ticket_contact: "<agent> changed the contact from <name> to <name>" ("No one" for none).
            before, after = (contact_name(call, current["ticket_contact_id"]),
                             contact_name(call, values["ticket_contact_id"]))
            write_history(call, record_id, f"{actor_name(call)} changed the contact from {before} to {after}", stamp)
        if assets is not None:
            # edit_ticket / edit_ticket_asset: the additional assets replaced by the ones sent.
            call.db.delete("ticket_assets", {"ticket_id": record_id})
            for asset_id in assets:
                call.db.insert("ticket_assets", {"ticket_id": record_id, "asset_id": asset_id})
            count = count or int(sorted(assets) != sorted(call.memo["assets_before"]))
        if "ticket_schedule" in values or "ticket_onsite" in values:
            schedule_note(call, record_id, current, values, stamp)
        return count, values


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def schedule_words(stamp):
    """A scheduled time as the page's note spells it: "Thursday, December 10, 2026 at 2:30pm"
    (PHP's date() with 'l, F j, Y \\a\\t g:ia'; English whatever the locale)."""
    when = datetime.strptime(str(stamp)[:19], "%Y-%m-%d %H:%M:%S")
    hour = when.hour % 12 or 12
    return (f"{_DAYS[when.weekday()]}, {_MONTHS[when.month - 1]} {when.day}, {when.year} at "
            f"{hour}:{when.minute:02d}{'am' if when.hour < 12 else 'pm'}")


def schedule_note(call, ticket_id, current, values, stamp):
    """The Internal note the page's schedule form leaves (agent/post/ticket.php
    edit_ticket_schedule: "Ticket scheduled for <time> (onsite)." or "(remote).") when the
    scheduled time or onsite changes and the ticket has a time; its cancel
    (cancel_ticket_schedule) leaves "Ticket schedule cancelled." when a time is cleared (an
    update sends ticket_schedule ""; a ticket with no time is left alone). The
    page's calendar invitations are not sent."""
    before = current["ticket_schedule"]
    if "ticket_schedule" in values and values["ticket_schedule"] is None:
        add_internal_note(call, ticket_id, "Ticket schedule cancelled.", stamp)
        return
    after = values.get("ticket_schedule", before)
    onsite = int(values.get("ticket_onsite", current["ticket_onsite"]) or 0)
    if not after or (str(after) == str(before) and onsite == int(current["ticket_onsite"] or 0)):
        return
    where = "(onsite)." if onsite else "(remote)."
    add_internal_note(call, ticket_id, f"Ticket scheduled for {schedule_words(after)} {where}", stamp)


def contact_name(call, contact_id):
    """A contact's name as the page's contact change names it ("No one" for none)."""
    name = call.db.scalar("SELECT contact_name AS name FROM contacts WHERE contact_id = :contact",
                          {"contact": int(contact_id or 0)}) if contact_id else None
    return str(name) if name else "No one"


def additional_assets(call, current):
    """`ticket_assets`: the asset ids the ticket's additional assets become, in the order sent.
    Each must be an asset of the ticket's client (the page offers only those; its handler
    does not check)."""
    require_table(call, "ticket_assets", "a ticket's additional assets")
    raw = call.params.values.get("ticket_assets")
    ids = [] if raw in ("", None, []) else id_list(call, "ticket_assets")
    client_id = int(current["ticket_client_id"] or 0)
    for asset_id in ids:
        owner = call.db.scalar("SELECT asset_client_id AS client FROM assets WHERE asset_id = :asset",
                               {"asset": asset_id})
        if owner is None or int(owner) != client_id:
            raise Refused(f"No asset with asset_id {asset_id} for the ticket's client: ticket_assets takes asset "
                          "ids of the ticket's client (nothing was changed).")
    call.memo["assets_before"] = [int(r["asset_id"]) for r in call.db.rows(
        "SELECT asset_id FROM ticket_assets WHERE ticket_id = :ticket ORDER BY asset_id",
        {"ticket": int(current["ticket_id"])})]
    return ids


def id_list(call, name):
    """The ids a request names in `name`: one id, a JSON list of ids or "1,2,3" (each once)."""
    raw = call.params.values.get(name)
    if isinstance(raw, str):
        raw = [part for part in raw.split(",") if part.strip()]
    elif not isinstance(raw, list):
        raw = [] if raw is None or raw == "" else [raw]
    ids = []
    for item in raw:
        text = str(item).strip()
        if isinstance(item, bool) or not text.isdigit() or int(text) <= 0:
            noun = name.replace("_id", "")
            raise Refused(f"{name} takes {noun} ids (one, a JSON list or \"1,2,3\"), not {text[:40]!r}.")
        if int(text) not in ids:
            ids.append(int(text))
    if not ids:
        raise Refused(f"Missing required field: {name}.")
    if len(ids) > MAX_TICKETS:
        raise Refused(f"At most {MAX_TICKETS} {name.replace('_id', '')}s in one request ({len(ids)} sent).")
    return ids


class TicketAction(RecordOperation):
    """An action of the agent's ticket page on one ticket or several: `ticket_id` is one id, a
    JSON list of ids or "1,2,3". All or nothing: a ticket that is missing, out of the key's
    reach or not in a state the action applies to refuses the whole request."""
    keeps_record = True
    # The body's parameters, for the OpenAPI document: name -> (JSON schema, description, required).
    body_fields: dict[str, tuple[dict, str, bool]] = {
        "ticket_id": (IDS_SCHEMA, "one ticket id, a JSON list of ids or \"1,2,3\"", True)}

    id_param = "ticket_id"  # what the request names the records by (task actions: task_id)

    def ticket_ids(self, call):
        return id_list(call, self.id_param)

    def prepare(self, call):
        """Reads and checks that hold for every ticket of the request."""

    def __call__(self, call):
        ids = self.ticket_ids(call)
        self.prepare(call)
        stamp = request_now(call)
        for ticket_id in ids:
            current = self.current(call, ticket_id, lock=True)
            self.check_state(call, ticket_id, current)
            self.act(call, ticket_id, current, stamp)
            self.log(call, ticket_id, current)
        return envelope.changed(len(ids))

    def act(self, call, ticket_id, current, stamp):
        raise NotImplementedError

    def log(self, call, ticket_id, current):
        """The logs rows of one ticket (the record's row and the API's, lib/itflow/audit.py)."""
        name, api_description = self.describe(current, {})
        call.log_change(self.module.entity, self.action, name, self.client_of(current), ticket_id, api_description)

    def describe(self, current, values):
        text = f"{self.past} ticket {ticket_number_text(current)}"
        return text, text


class Close(TicketAction):
    """close.php: status Closed, closed now by the key's user (agent/post/ticket.php close_ticket)."""
    verb, action, past = "Close", "Closed", "Closed"

    def check_state(self, call, ticket_id, current):
        if current["ticket_closed_at"]:
            raise Refused(f"Ticket {ticket_id} is already closed: nothing was changed.")

    def act(self, call, ticket_id, current, stamp):
        call.db.update("tickets", {"ticket_status": STATUS_CLOSED, **closed_values(call, stamp)}, {"ticket_id": ticket_id})
        stop_the_clock(call, ticket_id, stamp)
        add_internal_note(call, ticket_id, "Ticket closed.", stamp)
        write_history(call, ticket_id, f"{actor_name(call)} closed the ticket", stamp)


class Reopen(TicketAction):
    """reopen.php: a resolved ticket back to Open, its resolution clock running again
    (agent/post/ticket.php reopen_ticket). The page offers it only for a resolved ticket that
    is not closed; so does this endpoint."""
    verb, action, past = "Reopen", "Reopened", "Reopened"

    def check_state(self, call, ticket_id, current):
        if current["ticket_closed_at"]:
            raise Refused(f"Ticket {ticket_id} is closed: a closed ticket cannot be reopened (nothing was changed).")
        if not current["ticket_resolved_at"]:
            raise Refused(f"Ticket {ticket_id} is not resolved: only a resolved ticket can be reopened "
                          "(nothing was changed).")

    def act(self, call, ticket_id, current, stamp):
        call.db.update("tickets", {"ticket_status": STATUS_OPEN, "ticket_resolved_at": None}, {"ticket_id": ticket_id})
        if sla.enabled(call.db):
            sla.sync_clock(call.db, ticket_id, stamp)
            reset_resolution_sla(call, ticket_id, stamp)
        write_history(call, ticket_id, f"{actor_name(call)} reopened the ticket", stamp)


class Assign(TicketAction):
    """assign.php: `ticket_assigned_to` (a user id; 0 unassigns); a New ticket given to someone
    becomes Open (agent/post/ticket.php assign_ticket)."""
    verb, action, past = "Assign", "Edit", "Assigned"
    body_fields = {**TicketAction.body_fields,
                   "ticket_assigned_to": ({"type": "integer"}, "the user to assign (0 unassigns)", True)}

    def prepare(self, call):
        if not call.params.has("ticket_assigned_to"):
            raise Refused("Missing required field: ticket_assigned_to (a user id; 0 unassigns).")
        assignee = parse_int("ticket_assigned_to", call.params.get("ticket_assigned_to"))
        if assignee < 0:
            raise Refused("ticket_assigned_to takes a user id (0 unassigns).")
        call.memo["assignee"] = (assignee, agent_name(call, assignee) if assignee else "No One")

    def check_state(self, call, ticket_id, current):
        if int(current["ticket_status"]) == STATUS_CLOSED:
            raise Refused(f"Ticket {ticket_id} is closed: it cannot be assigned (nothing was changed).")

    def act(self, call, ticket_id, current, stamp):
        assignee, name = call.memo["assignee"]
        status = int(current["ticket_status"])
        if status == STATUS_NEW and assignee:
            status = STATUS_OPEN
        call.db.update("tickets", {"ticket_assigned_to": assignee, "ticket_status": status}, {"ticket_id": ticket_id})
        if sla.enabled(call.db):
            sla.sync_clock(call.db, ticket_id, stamp)
        add_internal_note(call, ticket_id, f"Ticket re-assigned to {name}." if assignee else "Ticket unassigned.", stamp)
        write_history(call, ticket_id, f"{actor_name(call)} assigned the ticket to {name}", stamp)

    def describe(self, current, values):
        text = f"Reassigned ticket {ticket_number_text(current)}"
        return text, text


# --- watchers, tasks and merging, as the agent's ticket page writes them ----------------------
#
# Watchers (ticket_watchers) and tasks (tasks) are tables of the newest ITFlow layout; on a
# database without them these actions are refused and change nothing.

# An address as PHP's FILTER_VALIDATE_EMAIL takes it, for what a watcher list holds: a local
# part of the atext characters and single dots, and a domain of two or more labels.
_EMAIL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
MAX_WATCHERS = 100  # addresses one request may name


def watcher_emails(call):
    """`watcher_email`: one address, several separated by commas, semicolons or spaces (as the
    page's field takes them), or a JSON list. Every one must be an address."""
    raw = call.params.values.get("watcher_email")
    parts = raw if isinstance(raw, list) else re.split(r"[,; ]", str(raw if raw is not None else ""))
    emails = []
    for part in parts:
        text = php_text.clean(str(part)) if part is not None else ""
        if not text:
            continue
        if len(text) > 254 or not _EMAIL.fullmatch(text):
            raise Refused(f"watcher_email takes e-mail addresses (separated by commas, semicolons or spaces, or a "
                          f"JSON list), not {text[:60]!r}: nothing was changed.")
        if text.lower() not in (e.lower() for e in emails):
            emails.append(text)
    if not emails:
        raise Refused("Missing required field: watcher_email (one or more e-mail addresses).")
    if len(emails) > MAX_WATCHERS:
        raise Refused(f"At most {MAX_WATCHERS} watchers in one request ({len(emails)} sent).")
    return emails


def watching(call, ticket_id):
    """{lower-cased address: [watcher_id, ...]} of a ticket's watchers."""
    found = {}
    for row in call.db.rows("SELECT watcher_id, watcher_email FROM ticket_watchers WHERE watcher_ticket_id = :ticket "
                            "ORDER BY watcher_id", {"ticket": ticket_id}):
        found.setdefault(str(row["watcher_email"]).lower(), []).append(int(row["watcher_id"]))
    return found


class AddWatcher(TicketAction):
    """add_watcher.php: `watcher_email` (one or several) watch the ticket(s), a ticket_watchers
    row each (agent/post/ticket.php add_ticket_watcher). An address already watching a ticket
    is not added twice; the page's notification e-mail is not sent."""
    verb, action, past = "Add watcher", "Edit", "Added watcher"
    body_fields = {**TicketAction.body_fields, "watcher_email": (
        EMAILS_SCHEMA, "the addresses to add: one, several separated by commas, semicolons or spaces, or a JSON list",
        True)}

    def prepare(self, call):
        require_table(call, "ticket_watchers", "a ticket's watchers")
        call.memo["emails"] = watcher_emails(call)
        call.memo["added"] = {}

    def check_state(self, call, ticket_id, current):
        if current["ticket_closed_at"]:
            raise Refused(f"Ticket {ticket_id} is closed: watchers cannot be added (nothing was changed).")

    def act(self, call, ticket_id, current, stamp):
        already = watching(call, ticket_id)
        added = []
        for email in call.memo["emails"]:
            if email.lower() in already:
                fields.note(f"{email} already watches ticket {ticket_id}")
                continue
            call.db.insert("ticket_watchers", {"watcher_email": email, "watcher_ticket_id": ticket_id})
            added.append(email)
        call.memo["added"][ticket_id] = added

    def log(self, call, ticket_id, current):
        # The page logs each address it adds (and writes no ticket_history row).
        for email in call.memo["added"][ticket_id]:
            text = f"Added {email} as a watcher for ticket {ticket_number_text(current)}"
            call.log_change(self.module.entity, self.action, text, self.client_of(current), ticket_id, text)

    def __call__(self, call):
        answer = super().__call__(call)
        if not any(call.memo["added"].values()):
            return envelope.failure("No rows changed: every address already watches the ticket(s).")
        return answer


class RemoveWatcher(TicketAction):
    """remove_watcher.php: `watcher_email` (one or several) stop watching the ticket(s)
    (agent/post/ticket.php delete_ticket_watcher, which removes one watcher row by its id): the
    rows go, and a ticket_history row is left for each."""
    verb, action, past = "Remove watcher", "Edit", "Removed watcher"
    body_fields = {**TicketAction.body_fields, "watcher_email": (
        EMAILS_SCHEMA, "the addresses to remove: one, several separated by commas, semicolons or spaces, or a JSON list",
        True)}

    def prepare(self, call):
        require_table(call, "ticket_watchers", "a ticket's watchers")
        call.memo["emails"] = watcher_emails(call)
        call.memo["watchers"] = {}

    def check_state(self, call, ticket_id, current):
        found = watching(call, ticket_id)
        missing = [email for email in call.memo["emails"] if email.lower() not in found]
        if missing:
            raise Refused(f"{missing[0]} does not watch ticket {ticket_id}: nothing was changed.")
        call.memo["watchers"][ticket_id] = found

    def act(self, call, ticket_id, current, stamp):
        found = call.memo["watchers"][ticket_id]
        for email in call.memo["emails"]:
            for watcher_id in found[email.lower()]:
                call.db.delete("ticket_watchers", {"watcher_id": watcher_id})
            # The page's wording, "ticket" included.
            write_history(call, ticket_id, f"{actor_name(call)} removed ticket {email} as a watcher", stamp)

    def log(self, call, ticket_id, current):
        for email in call.memo["emails"]:
            text = f"Removed {email} as a watcher from ticket {ticket_number_text(current)}"
            call.log_change(self.module.entity, self.action, text, self.client_of(current), ticket_id, text)


# Tasks: a ticket's checklist (agent/post/task.php; the order from the page's drag and drop,
# agent/ajax.php update_ticket_tasks_order). A task is reached through its ticket: the ticket's
# client decides the scope.

TASK_SOURCE = "tasks JOIN tickets ON ticket_id = task_ticket_id"


def task_name(call):
    """`task_name` as ITFlow stores a plain text field (tags stripped, trimmed), at most 255."""
    name = php_text.clean(str(call.params.get("task_name") or ""))
    if not name:
        raise Refused("Missing required field: task_name.")
    if len(name) > 255:
        raise Refused(f"task_name takes at most 255 characters ({len(name)} sent).")
    return name


class AddTask(TicketAction):
    """add_task.php: a task named `task_name` on the ticket(s), last in their order
    (agent/post/task.php add_task). Answers the new task ids."""
    verb, action, past = "Add task", "Create", "Created task"
    body_fields = {**TicketAction.body_fields, "task_name": ({"type": "string"}, "the task", True)}

    def prepare(self, call):
        require_table(call, "tasks", "a ticket's tasks")
        call.memo["task_name"] = task_name(call)
        call.memo["tasks"] = []

    def check_state(self, call, ticket_id, current):
        if current["ticket_closed_at"]:
            raise Refused(f"Ticket {ticket_id} is closed: tasks cannot be added (nothing was changed).")

    def act(self, call, ticket_id, current, stamp):
        # The page writes the name and the ticket; the order stays 0, the created stamp is now.
        task_id = call.db.insert("tasks", {"task_name": call.memo["task_name"], "task_created_at": stamp,
                                           "task_ticket_id": ticket_id})
        call.memo["tasks"].append((ticket_id, task_id))

    def log(self, call, ticket_id, current):
        # The page logs the task (Task/Create, the task's id) with the ticket's client.
        task_id = dict(call.memo["tasks"])[ticket_id]
        text = f"Created task {call.memo['task_name']} on ticket {ticket_number_text(current)}"
        call.log_change("Task", self.action, text, self.client_of(current), task_id, text)

    def __call__(self, call):
        answer = super().__call__(call)
        answer["data"] = [{"insert_id": task_id, "ticket_id": ticket_id} for ticket_id, task_id in call.memo["tasks"]]
        return answer


class TaskAction(TicketAction):
    """An action on tasks named by `task_id` (one, a list or "1,2,3"), each reached through its
    ticket (a key scoped to a client reaches its own tickets' tasks only)."""
    id_param = "task_id"
    body_fields = {"task_id": (IDS_SCHEMA, "one task id, a JSON list of ids or \"1,2,3\"", True)}

    def prepare(self, call):
        require_table(call, "tasks", "a ticket's tasks")

    def current(self, call, record_id, lock=False):
        return find_in_scope(call, TASK_SOURCE, "task_id", record_id, "ticket_client_id", "task", lock)

    def log(self, call, task_id, current):
        text = self.wording.format(task=current["task_name"], ticket=ticket_number_text(current))
        call.log_change("Task", self.action, text, self.client_of(current), task_id, text)

    wording = "{task} on ticket {ticket}"

    def client_of(self, current):
        return int(current.get("ticket_client_id") or 0)


class CompleteTask(TaskAction):
    """complete_task.php: the task completed now by the agent, and an internal reply on its
    ticket saying so (agent/post/task.php complete_task)."""
    verb, action, past = "Complete task", "Edit", "Completed"
    wording = "Completed task {task} on ticket {ticket}"

    def check_state(self, call, task_id, current):
        if current["task_completed_at"]:
            raise Refused(f"Task {task_id} is already completed: nothing was changed.")

    def act(self, call, task_id, current, stamp):
        call.db.update("tasks", {"task_completed_at": stamp, "task_completed_by": call.key.user_id or 0},
                       {"task_id": task_id})
        add_internal_note(call, int(current["task_ticket_id"]), f"Completed Task - {current['task_name']}", stamp)


class UncompleteTask(TaskAction):
    """uncomplete_task.php: the task open again, and an internal reply saying so
    (agent/post/task.php undo_complete_task)."""
    verb, action, past = "Uncomplete task", "Edit", "Uncompleted"
    wording = "Marked task {task} as incomplete on ticket {ticket}"

    def check_state(self, call, task_id, current):
        if not current["task_completed_at"]:
            raise Refused(f"Task {task_id} is not completed: nothing was changed.")

    def act(self, call, task_id, current, stamp):
        call.db.update("tasks", {"task_completed_at": None, "task_completed_by": None}, {"task_id": task_id})
        add_internal_note(call, int(current["task_ticket_id"]), f"Undo Completed Task - {current['task_name']}", stamp)


class OrderTasks(TicketAction):
    """order_tasks.php: `task_ids`, tasks of one ticket in the order wanted; each gets its place
    (0, 1, 2, ...) in task_order, as the page's drag and drop sends it (agent/ajax.php
    update_ticket_tasks_order). Tasks not named keep theirs."""
    verb, action, past = "Order tasks", "Edit", "Reordered the tasks of"
    body_fields = {"ticket_id": ({"type": "integer"}, "the ticket", True),
                   "task_ids": (IDS_SCHEMA, "its tasks in their new order (a JSON list or \"3,1,2\")", True)}

    def ticket_ids(self, call):
        ids = id_list(call, "ticket_id")
        if len(ids) > 1:
            raise Refused("order_tasks takes one ticket_id.")
        return ids

    def prepare(self, call):
        require_table(call, "tasks", "a ticket's tasks")
        call.memo["task_ids"] = id_list(call, "task_ids")

    def check_state(self, call, ticket_id, current):
        own = {int(r["task_id"]) for r in call.db.rows("SELECT task_id FROM tasks WHERE task_ticket_id = :ticket",
                                                        {"ticket": ticket_id})}
        stray = [task_id for task_id in call.memo["task_ids"] if task_id not in own]
        if stray:
            raise Refused(f"Task {stray[0]} is not a task of ticket {ticket_id}: nothing was changed.")

    def act(self, call, ticket_id, current, stamp):
        for place, task_id in enumerate(call.memo["task_ids"]):
            call.db.update("tasks", {"task_order": place}, {"task_id": task_id, "task_ticket_id": ticket_id})


class Merge(TicketAction):
    """merge.php: the ticket(s) closed into `merge_into_ticket_id`, as the page's merge does
    (agent/post/ticket.php merge_ticket): with `merge_move_replies` 1 their replies move to the
    other ticket; each gets an Internal note saying where it went and is resolved and closed now
    by the agent (first response stamped if there was none, its resolution SLA judged); the
    other ticket gets a note with the merged ticket's subject and details, and a history row
    is left on the merged one."""
    verb, action, past = "Merge", "Merged", "Merged"
    body_fields = {**TicketAction.body_fields,
                   "merge_into_ticket_id": ({"type": "integer"}, "the ticket they are merged into", True),
                   "merge_comment": ({"type": "string"}, "a comment for both notes (tags are stripped)", False),
                   "merge_move_replies": ({"type": "integer", "enum": [0, 1]},
                                          "1: move their replies to the other ticket (default 0)", False)}

    def prepare(self, call):
        if not call.params.has("merge_into_ticket_id") or call.params.get("merge_into_ticket_id") in ("", None):
            raise Refused("Missing required field: merge_into_ticket_id.")
        into_id = parse_int("merge_into_ticket_id", call.params.get("merge_into_ticket_id"))
        into = self.current(call, into_id, lock=True)  # in the key's reach, as the page checks
        call.memo["into"] = into
        call.memo["comment"] = php_text.clean(str(call.params.get("merge_comment") or ""))
        move = call.params.get("merge_move_replies")
        call.memo["move_replies"] = bool(parse_int("merge_move_replies", move)) if move not in (None, "") else False

    def check_state(self, call, ticket_id, current):
        if ticket_id == int(call.memo["into"]["ticket_id"]):
            raise Refused(f"Ticket {ticket_id} cannot be merged into itself: nothing was changed.")
        if current["ticket_closed_at"]:
            raise Refused(f"Ticket {ticket_id} is closed: a closed ticket cannot be merged (nothing was changed).")

    def act(self, call, ticket_id, current, stamp):
        into = call.memo["into"]
        into_id, comment = int(into["ticket_id"]), call.memo["comment"]
        number = ticket_number_text(current)
        # The page names the other ticket with the merged ticket's prefix.
        into_number = f"{current['ticket_prefix'] or ''}{into['ticket_number']}"
        if call.memo["move_replies"]:
            # ticket_reply_updated_at: what MariaDB's ON UPDATE stamps on the page's moved rows.
            call.db.update("ticket_replies", {"ticket_reply_ticket_id": into_id, "ticket_reply_updated_at": stamp},
                           {"ticket_reply_ticket_id": ticket_id})
        first = sla.first_response_values(current, stamp)
        if first:
            call.db.update("tickets", first, {"ticket_id": ticket_id})
        add_internal_note(call, ticket_id, f'Ticket {number} merged into <a href="ticket.php?ticket_id={into_id}">'
                                           f"{into_number}</a>. Comment: {comment}", stamp)
        call.db.update("tickets", {"ticket_status": STATUS_CLOSED, "ticket_resolved_at": stamp,
                                   **closed_values(call, stamp)}, {"ticket_id": ticket_id})
        stop_the_clock(call, ticket_id, stamp)
        subject = php_text.clean(str(current["ticket_subject"] or ""))
        add_internal_note(call, into_id, f"Ticket {number} was merged into this ticket with comment: {comment}."
                                         f"<br><br><b>{subject}</b><br>{current['ticket_details'] or ''}", stamp)
        call.db.update("tickets", {"ticket_updated_at": stamp}, {"ticket_id": into_id})
        write_history(call, ticket_id, f"{actor_name(call)} merged this ticket into {into_number} and closed it", stamp)

    def log(self, call, ticket_id, current):
        # The page's merge logs Ticket/Merged with client and ticket 0; its bulk merge logs the
        # merged ticket's client and id, as here.
        into = f"{current['ticket_prefix'] or ''}{call.memo['into']['ticket_number']}"
        text = f"Merged ticket {ticket_number_text(current)} into {into}"
        call.log_change(self.module.entity, self.action, text, self.client_of(current), ticket_id, text)
