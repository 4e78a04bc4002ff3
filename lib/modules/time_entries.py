"""time_entries: the time technicians worked, as ITFlow keeps it: on ticket replies
(`ticket_reply_time_worked`). Scoped through the ticket's client, like ticket_replies.

read.php lists the replies that carry time (not Client replies, not 00:00:00, not archived);
update.php and delete.php do what ITFlow's agent ticket page does to a reply
(agent/post/ticket.php edit_ticket_reply: the time worked, with the reply's type and text;
archive_ticket_reply: the reply is archived, which takes its time out of the ticket's total
and out of technicians/time). docs/documents-and-time.md.
"""
from datetime import date, timedelta

from ..core.crud import Read, RecordOperation, find_in_scope
from ..core.definitions import Field, Lookup, Module
from ..core.envelope import Refused
from ..core.values import parse_date, parse_int
from .tickets import STATUS_CLOSED, request_now, ticket_number_text

REPLY_SOURCE = "ticket_replies JOIN tickets ON ticket_id = ticket_reply_ticket_id"
SOURCE = REPLY_SOURCE + " LEFT JOIN users ON user_id = ticket_reply_by"
SELECT = ("ticket_replies.*, ticket_prefix, ticket_number, ticket_subject, ticket_client_id, "
          "user_name AS ticket_reply_by_name")
# What makes a reply a time entry: an agent's reply (a Client reply is a contact's) with time on it.
IS_ENTRY = ["ticket_reply_type <> 'Client'", "ticket_reply_time_worked IS NOT NULL",
            "ticket_reply_time_worked <> '00:00:00'"]
WRITABLE_TYPES = ("Internal", "Public")

MODULE = Module(
    name="time_entries", table="ticket_replies", id_column="ticket_reply_id", client_column="ticket_client_id",
    entity="Ticket", name_column="ticket_reply", select=SELECT, list_from=SOURCE,
    order_by="ticket_reply_created_at, ticket_reply_id",
    description="Time worked on tickets: the agents' ticket replies that carry time "
                "(ticket_reply_time_worked, HH:MM:SS), with the ticket's number, subject and client "
                "and the technician's name.",
    read_notes="filters `technician_id` (the user who worked), `date_from` and `date_to` (YYYY-MM-DD, "
               "inclusive, on ticket_reply_created_at) and `include_archived=1`",
    fields=[
        Field("ticket_reply_time_worked", "time", description="the time worked, HH:MM:SS (00:00:00 removes it)"),
        Field("ticket_reply_type", description="Internal or Public (as the page's edit form offers)"),
        Field("ticket_reply", "html", description="the reply's text (HTML kept)"),
    ],
    lookups=[
        Lookup("ticket_reply_id", "int", single=True, source=SOURCE),
        Lookup("ticket_id", "int", column="ticket_reply_ticket_id", source=SOURCE),
    ],
)


class TimeEntryRead(Read):
    """read.php: by ticket_reply_id, by ticket_id, or all, in the order worked; filtered by
    technician and date."""

    def extra_conditions(self, call):
        where, params = list(IS_ENTRY), {}
        params_in = call.params
        if params_in.has("technician_id") and params_in.get("technician_id") != "":
            where.append("ticket_reply_by = :technician")
            params["technician"] = parse_int("technician_id", params_in.get("technician_id"))
        for name, condition in (("date_from", "ticket_reply_created_at >= :date_from"),
                                ("date_to", "ticket_reply_created_at < :date_to")):
            if params_in.has(name) and params_in.get(name) != "":
                day = parse_date(name, params_in.get(name))
                if day is None:
                    raise Refused(f"Parameter '{name}' must be a date YYYY-MM-DD.")
                if name == "date_to":  # inclusive: the entries before the next day
                    day = _next_day(day)
                    if day is None:  # 9999-12-31: no day after it, so no bound
                        continue
                where.append(condition)
                params[name] = day
        if params_in.int("include_archived", 0) != 1:
            where.append("ticket_reply_archived_at IS NULL")
        return where, params


def _next_day(day):
    try:
        return (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    except OverflowError:
        return None


class ReplyRow(dict):
    """The reply's own row (so If-Match compares the ticket_replies row a read by id names),
    with its ticket beside it."""
    ticket: dict


class TimeEntryOperation(RecordOperation):
    """A change to one reply, found through its ticket's client. The page offers Edit and
    Archive only on an agent's reply of a ticket that is not closed; so does this endpoint
    (the page's handlers themselves do not check)."""
    log_type = "Ticket"

    def current(self, call, record_id, lock=False):
        row = find_in_scope(call, REPLY_SOURCE, "ticket_reply_id", record_id, "ticket_client_id",
                            "time entry", lock)
        own = ReplyRow((name, row[name]) for name in row if name.startswith("ticket_reply"))
        own.ticket = row
        return own

    def check_state(self, call, record_id, current):
        if current["ticket_reply_type"] not in WRITABLE_TYPES:
            raise Refused(f"Ticket reply {record_id} is the client's: only an agent's reply carries time "
                          "(nothing was changed).")
        if current["ticket_reply_archived_at"]:
            raise Refused(f"Ticket reply {record_id} is archived (nothing was changed).")
        if int(current.ticket["ticket_status"] or 0) == STATUS_CLOSED:
            raise Refused(f"Ticket {current.ticket['ticket_id']} is closed: its replies cannot be changed "
                          "(nothing was changed).")

    def client_of(self, current):
        return int(current.ticket["ticket_client_id"] or 0)

    def describe(self, current, values):
        ticket = ticket_number_text(current.ticket)
        text = f"{self.past} time entry {current['ticket_reply_id']} on ticket {ticket}"
        return text, text


class TimeEntryUpdate(TimeEntryOperation):
    """update.php: `ticket_reply_time_worked`, and with it what the page's edit form lets one
    change, `ticket_reply_type` (Internal or Public) and `ticket_reply` (the text); what is
    not sent keeps its stored value, as the form is filled with it."""
    verb, action, past = "Update", "Reply", "Edited"
    body_fields = tuple(MODULE.fields)

    def apply(self, call, record_id, current):
        values = self.parse_given(call)
        if not values:
            raise Refused("Nothing to change: send ticket_reply_time_worked, ticket_reply_type or ticket_reply.")
        if "ticket_reply_type" in values:
            values["ticket_reply_type"] = str(values["ticket_reply_type"]).capitalize()
            if values["ticket_reply_type"] not in WRITABLE_TYPES:
                raise Refused("Field ticket_reply_type must be Internal or Public.")
        if "ticket_reply" in values and not str(values["ticket_reply"]).strip():
            raise Refused("Field(s) cannot be empty: ticket_reply.")
        changed = {name: value for name, value in values.items() if value != current[name]}
        if not changed:
            return 0, values
        # The page's UPDATE stamps ticket_reply_updated_at (ON UPDATE); stamped here with the
        # request's instant, on both backends.
        call.db.update("ticket_replies", {**changed, "ticket_reply_updated_at": request_now(call)},
                       {"ticket_reply_id": record_id})
        return 1, values


class TimeEntryDelete(TimeEntryOperation):
    """delete.php: the reply is archived, as the page's only way to remove one does
    (archive_ticket_reply); an archived reply's time no longer counts."""
    verb, action, past = "Delete", "Archive", "Archived"
    log_type = "Ticket Reply"  # the page's log row names the reply, not the ticket, here
    keeps_record = False

    def apply(self, call, record_id, current):
        stamp = request_now(call)
        count = call.db.update("ticket_replies", {"ticket_reply_archived_at": stamp, "ticket_reply_updated_at": stamp},
                               {"ticket_reply_id": record_id})
        return count, {}

