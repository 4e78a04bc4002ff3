"""technicians/time: time worked per technician and ticket, from ticket replies.

Archived replies (removed on the ticket page, or by time_entries/delete) count, as in ITFlow's
own technicians/time; include_archived=0 leaves them out, as the ticket page's total does.

Summed in Python rather than with MySQL's TIME_TO_SEC/SEC_TO_TIME so that the one query
runs unchanged on SQLite; the period is a plain range on ticket_reply_created_at.
"""
from datetime import date

from ..core import envelope
from ..core.values import parse_int

QUERY = (
    "SELECT ticket_id, ticket_prefix, ticket_number, ticket_subject, client_id, client_name, "
    "user_id, user_name, ticket_reply_time_worked "
    "FROM ticket_replies "
    "JOIN tickets ON ticket_id = ticket_reply_ticket_id "
    "JOIN clients ON client_id = ticket_client_id "
    "JOIN users ON user_id = ticket_reply_by "
    "WHERE "
)
CONDITIONS = [
    "ticket_reply_created_at >= :start", "ticket_reply_created_at < :end",
    "ticket_reply_time_worked IS NOT NULL", "ticket_reply_time_worked <> '00:00:00'",
    "ticket_reply_type <> 'Client'",  # a Client reply's author is a contact, not a technician
]


def _seconds(duration):
    hours, minutes, seconds = (int(part) for part in str(duration).split(":"))
    return hours * 3600 + minutes * 60 + seconds


def _duration(total):
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def period(year, month):
    if month is None:
        return f"{year:04d}-01-01", f"{year + 1:04d}-01-01"
    end_year, end_month = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"{year:04d}-{month:02d}-01", f"{end_year:04d}-{end_month:02d}-01"


def time_report(call):
    """Time worked per technician and ticket (year, optional month and technician_id)."""
    params = call.params
    year = parse_int("year", params.get("year")) if params.has("year") and params.get("year") != "" \
        else date.today().year
    month = None
    if params.has("month") and params.get("month") != "":
        raw = params.get("month")
        month = int(raw) if str(raw).strip().isdigit() else 0
        if not 1 <= month <= 12:
            return envelope.failure("Invalid month parameter. Must be between 1 and 12.")
    start, end = period(year, month)
    where, binds = list(CONDITIONS), {"start": start, "end": end}
    if params.int("include_archived", 1) == 0:
        # An archived reply is one the ticket page removed (and time_entries/delete). ITFlow's
        # technicians/time still counts its time, so by default so do we (scripts compare the
        # sums); include_archived=0 leaves it out, as the ticket page's own total does.
        where.append("ticket_reply_archived_at IS NULL")
    if params.has("technician_id") and params.get("technician_id") != "":
        where.append("user_id = :technician")
        binds["technician"] = parse_int("technician_id", params.get("technician_id"))
    call.scope.restrict("ticket_client_id", where, binds)
    sql = QUERY + " AND ".join(where)

    totals = {}
    for row in call.db.rows(sql, binds):
        group = (row["ticket_id"], row["user_id"])
        if group not in totals:
            totals[group] = {
                "ticket_id": row["ticket_id"],
                "ticket_number": f"{row['ticket_prefix'] or ''}{row['ticket_number']}",
                "ticket_subject": row["ticket_subject"], "client_id": row["client_id"],
                "company": row["client_name"], "technician_id": row["user_id"],
                "technician": row["user_name"], "seconds": 0, "number": int(row["ticket_number"]),
            }
        totals[group]["seconds"] += _seconds(row["ticket_reply_time_worked"])
    # Names ordered ignoring case, as MariaDB's collation orders them.
    ordered = sorted(totals.values(),
                     key=lambda r: (r["company"].casefold(), r["number"], r["technician"].casefold()))
    limit, offset = call.paging()
    rows = []
    for entry in ordered[offset:offset + limit]:
        seconds = entry.pop("seconds")
        entry.pop("number")
        rows.append({**entry, "time_worked": _duration(seconds)})
    return envelope.read_ok(rows)
