"""ticket_replies: the conversation on a ticket. Scoped through the ticket's client."""
from ..core import envelope
from ..core.crud import Operation, Read, find_in_scope
from ..core.definitions import Field, Lookup, Module
from ..core.envelope import Refused
from ..itflow import audit, sla
from .tickets import STATUS_RESOLVED, after_status_change, key_label, log_history, request_now

REPLY_TYPES = ("Internal", "Public", "Client")
WRITABLE_TYPES = ("Internal", "Public")
STATUS_CLOSED = 5
SOURCE = ("ticket_replies JOIN tickets ON ticket_id = ticket_reply_ticket_id "
          "LEFT JOIN users ON user_id = ticket_reply_by AND ticket_reply_type <> 'Client' "
          "LEFT JOIN contacts ON contact_id = ticket_reply_by AND ticket_reply_type = 'Client'")
# Client replies are written by a contact, the others by a user (technician).
SELECT = ("ticket_replies.*, ticket_prefix, ticket_number, ticket_subject, ticket_client_id, "
          "CASE WHEN ticket_reply_type = 'Client' THEN contact_name ELSE user_name END AS ticket_reply_by_name")

MODULE = Module(
    name="ticket_replies", table="ticket_replies", id_column="ticket_reply_id", client_column="ticket_client_id",
    entity="Ticket", name_column="ticket_reply", select=SELECT, list_from=SOURCE,
    description="Replies on tickets; reads add the ticket's number, subject and the author's name.",
    read_notes="filters `type` (Internal, Public, Client) and `include_archived=1`",
    fields=[
        Field("ticket_id", "int", required=True, stored=False, description="the ticket replied to"),
        Field("ticket_reply", "html", required=True, stored=False, description="the reply (HTML kept)"),
        Field("ticket_reply_type", stored=False, default="Internal", description="Internal (default) or Public"),
        Field("ticket_reply_time_worked", "time", stored=False, default="00:00:00", description="HH:MM:SS"),
        Field("ticket_status", "int", stored=False, default=None, description="optional new ticket status (4 resolves)"),
    ],
    lookups=[
        Lookup("ticket_reply_id", "int", single=True, source=SOURCE),
        Lookup("ticket_id", "int", column="ticket_reply_ticket_id", source=SOURCE),
    ],
)


class ReplyRead(Read):
    """Adds the `type` filter; archived replies only with include_archived=1."""

    def extra_conditions(self, call):
        where, params = [], {}
        reply_type = call.params.get("type")
        if reply_type not in (None, ""):
            if reply_type not in REPLY_TYPES:
                raise envelope.Refused(f"Parameter 'type' must be one of {', '.join(REPLY_TYPES)}.")
            where.append("ticket_reply_type = :reply_type")
            params["reply_type"] = reply_type
        if call.params.int("include_archived", 0) != 1:
            where.append("ticket_reply_archived_at IS NULL")
        return where, params


class AddReply(Operation):
    """create.php: add a reply; ticket_status, when given, moves the ticket too. As the newest
    ITFlow's: a Public reply is the first response, a status change leaves a history row,
    status 4 resolves (and judges the resolution SLA)."""
    verb = "Create"

    def __call__(self, call):
        given = {f.name: f.empty for f in self.module.fields}
        given.update(self.parse_given(call))
        missing = [name for name in ("ticket_id", "ticket_reply") if given[name] in (None, "", 0)]
        if missing:
            raise Refused(f"Missing required field(s): {', '.join(missing)}.")
        reply_type = str(given["ticket_reply_type"] or "Internal").capitalize()  # ITFlow: ucfirst(strtolower())
        if reply_type not in WRITABLE_TYPES:
            raise Refused("Field ticket_reply_type must be Internal or Public.")
        ticket_id = given["ticket_id"]
        ticket = find_in_scope(call, "tickets", "ticket_id", ticket_id, "ticket_client_id", "ticket")
        status = given["ticket_status"] or None  # ITFlow: 0 leaves the status as it is
        if status is not None and not call.db.count("ticket_statuses", {"ticket_status_id": status}):
            raise Refused(f"No ticket status {status} (1 New, 2 Open, 3 On Hold, 4 Resolved, 5 Closed).")

        stamp = request_now(call)
        if reply_type == "Public":  # internal notes are no response to the client
            first = sla.first_response_values(ticket, stamp)
            if first:
                call.db.update("tickets", first, {"ticket_id": ticket_id})
        reply_id = call.db.insert("ticket_replies", {
            "ticket_reply": given["ticket_reply"], "ticket_reply_type": reply_type,
            "ticket_reply_time_worked": given["ticket_reply_time_worked"] or "00:00:00",
            "ticket_reply_by": call.key.user_id or 0, "ticket_reply_ticket_id": ticket_id,
            "ticket_reply_created_at": stamp,
        })
        number = f"{ticket['ticket_prefix'] or ''}{ticket['ticket_number']}"
        if status is not None:
            self._move_ticket(call, ticket, status, stamp, number)

        call.log_change("Ticket", "Reply", f"Added a {reply_type} reply to ticket {number} - {ticket['ticket_subject']}",
                        int(ticket["ticket_client_id"]), ticket_id, f"Added a {reply_type} reply to ticket {number}")
        return envelope.created(reply_id)

    @staticmethod
    def _move_ticket(call, ticket, status, stamp, number):
        ticket_id = int(ticket["ticket_id"])
        changes = {"ticket_status": status}
        resolving = status == STATUS_RESOLVED and int(ticket["ticket_status"]) != STATUS_RESOLVED
        if resolving and not ticket["ticket_resolved_at"]:
            changes["ticket_resolved_at"] = stamp
        if status == STATUS_CLOSED and not ticket["ticket_closed_at"]:
            changes["ticket_closed_at"] = stamp
        call.db.update("tickets", changes, {"ticket_id": ticket_id})
        after_status_change(call, ticket, status, stamp, resolving)
        if resolving:
            if sla.enabled(call.db):
                sla.judge_resolution(call.db, ticket_id, stamp)
            log_history(call, ticket_id, "Resolved")
            audit.write(call.db, call.caller, "Ticket", "Resolved",
                        f"Resolved ticket {number} via API ({key_label(call.key.name)})",
                        client_id=int(ticket["ticket_client_id"]), entity_id=ticket_id,
                        user_id=call.key.user_id or 0)
