"""Ticket SLAs as the newest ITFlow keeps them (database 2.5.0+; facts from its functions/sla.php).

An SLA (`slas`) has a response budget and optionally a resolution budget, in business
minutes. `sla_assignments` map a client + priority to an SLA: the client's own row wins,
client 0 is the default for everyone, and a row pointing at SLA 0 means "no SLA" for that
client. A ticket stores what applies when it is created: `ticket_sla_id`, the due dates
(`ticket_response_due_at`, `ticket_resolution_due_at`) and later the verdicts
(`ticket_response_sla_met`, `ticket_resolution_sla_met`: 1 met, 0 missed, NULL not judged).

Due dates count business time only: settings.config_business_days (ISO weekdays, 1 = Monday)
between config_business_hours_start and _end; without a usable calendar the clock runs 24x7.

From 2.5.1 the resolution clock can pause: `sla_history` holds the intervals it ran (one
open row while it runs), and statuses with ticket_status_pauses_sla = 1 stop it. On resume
the resolution due date moves out by the budget left. The response clock never pauses.

Everything here runs inside the request's transaction and does nothing on a database
without SLAs (itflow_version.of(db).slas) or for a ticket without an SLA.
"""
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from . import version as itflow_version

_FORMAT = "%Y-%m-%d %H:%M:%S"
_CALENDAR_DAYS = 731  # ITFlow's guard: walk at most two years of calendar


def enabled(db):
    return itflow_version.of(db).slas


def _parse(stamp):
    return datetime.strptime(str(stamp)[:19], _FORMAT)


def _text(moment):
    return moment.strftime(_FORMAT)


def _clock_time(value):
    """'09:00:00' (or '9:00:00', as a TIME may render) -> time; None when unusable."""
    try:
        hours, minutes, seconds = (int(p) for p in str(value).split(":"))
        return time(hours, minutes, seconds)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class BusinessCalendar:
    days: frozenset       # ISO weekdays
    start: time | None = None
    end: time | None = None

    @classmethod
    def of(cls, db):
        row = db.row("SELECT config_business_days, config_business_hours_start, config_business_hours_end "
                      "FROM settings WHERE company_id = 1") or {}
        days = set()
        for part in str(row.get("config_business_days") or "").split(","):
            part = part.strip()
            if part.isdigit() and 1 <= int(part) <= 7:
                days.add(int(part))
        return cls(frozenset(days), _clock_time(row.get("config_business_hours_start")),
                   _clock_time(row.get("config_business_hours_end")))

    @property
    def round_the_clock(self):
        return not self.days or self.start is None or self.end is None or self.start >= self.end

    def _window(self, day):
        return datetime.combine(day, self.start), datetime.combine(day, self.end)

    @staticmethod
    def _next_day(moment):
        return datetime.combine(moment.date() + timedelta(days=1), time(0))

    def add_minutes(self, start, minutes):
        """`start` plus `minutes` of business time (ITFlow's addBusinessMinutes)."""
        minutes = int(minutes or 0)
        if minutes <= 0:
            return start
        if self.round_the_clock:
            return start + timedelta(minutes=minutes)
        remaining = minutes * 60
        cursor = start
        for _ in range(_CALENDAR_DAYS):
            if cursor.isoweekday() in self.days:
                opens, closes = self._window(cursor.date())
                cursor = max(cursor, opens)
                if cursor < closes:
                    available = int((closes - cursor).total_seconds())
                    if remaining <= available:
                        return cursor + timedelta(seconds=remaining)
                    remaining -= available
            cursor = self._next_day(cursor)
        return cursor + timedelta(seconds=remaining)

    def minutes_between(self, start, end):
        """Whole business minutes from `start` to `end` (ITFlow's businessMinutesBetween)."""
        if end <= start:
            return 0
        if self.round_the_clock:
            return int((end - start).total_seconds()) // 60
        seconds, cursor = 0, start
        for _ in range(_CALENDAR_DAYS):
            if cursor > end:
                break
            if cursor.isoweekday() in self.days:
                opens, closes = self._window(cursor.date())
                overlap = (min(end, closes) - max(cursor, opens)).total_seconds()
                seconds += max(0, int(overlap))
            cursor = self._next_day(cursor)
        return seconds // 60


def sla_for(db, client_id, priority):
    """The unarchived `slas` row that applies to a client + priority, or None."""
    sla_id = None
    for owner in ([int(client_id)] if int(client_id or 0) > 0 else []) + [0]:
        found = db.scalar("SELECT sla_assignment_sla_id AS sla FROM sla_assignments "
                          "WHERE sla_assignment_client_id = :client AND sla_assignment_priority = :priority LIMIT 1",
                          {"client": owner, "priority": priority or ""})
        if found is not None:
            sla_id = int(found)
            break
    if not sla_id:
        return None
    return db.row("SELECT * FROM slas WHERE sla_id = :sla AND sla_archived_at IS NULL", {"sla": sla_id})


def _ticket(db, ticket_id):
    return db.row("SELECT * FROM tickets WHERE ticket_id = :ticket", {"ticket": ticket_id})


def _pausing(db):
    return itflow_version.of(db).sla_pausing


def paused_count(db, ticket_id):
    """How often the ticket's clock has stopped (closed intervals)."""
    if not _pausing(db):
        return 0
    return int(db.scalar("SELECT COUNT(*) AS n FROM sla_history WHERE sla_history_ticket_id = :ticket "
                         "AND sla_history_ended_at IS NOT NULL", {"ticket": ticket_id}))


def consumed_minutes(db, ticket_id, now):
    """Business minutes the resolution clock has run, the open interval included; without
    any intervals, the business time since the ticket was raised."""
    calendar = BusinessCalendar.of(db)
    intervals = db.rows("SELECT sla_history_started_at, sla_history_ended_at, sla_history_minutes "
                        "FROM sla_history WHERE sla_history_ticket_id = :ticket",
                        {"ticket": ticket_id}) if _pausing(db) else []
    if not intervals:
        ticket = _ticket(db, ticket_id)
        if ticket is None:
            return 0
        ended = ticket["ticket_resolved_at"] or ticket["ticket_closed_at"] or now
        return calendar.minutes_between(_parse(ticket["ticket_created_at"]), _parse(ended))
    total = 0
    for row in intervals:
        if row["sla_history_ended_at"] is not None:
            total += int(row["sla_history_minutes"] or 0)
        else:
            total += calendar.minutes_between(_parse(row["sla_history_started_at"]), _parse(now))
    return total


def stamp(db, ticket_id, now):
    """Set the ticket's SLA and due dates from its client + priority (ITFlow's applyTicketSla),
    then reconcile its clock. Called after a create and after the priority or client changes."""
    ticket = _ticket(db, ticket_id)
    if ticket is None:
        return
    sla = sla_for(db, ticket["ticket_client_id"], ticket["ticket_priority"])
    if sla is None:
        db.update("tickets", {
            "ticket_sla_id": 0, "ticket_response_due_at": None, "ticket_resolution_due_at": None,
            "ticket_response_sla_met": None, "ticket_resolution_sla_met": None,
            "ticket_response_sla_alert_stage": 0, "ticket_resolution_sla_alert_stage": 0,
        }, {"ticket_id": ticket_id})
        sync_clock(db, ticket_id, now)
        return
    calendar = BusinessCalendar.of(db)
    created = _parse(ticket["ticket_created_at"])
    response_due = calendar.add_minutes(created, sla["sla_response_minutes"])
    resolution_due = None
    budget = int(sla["sla_resolution_minutes"] or 0)
    if budget > 0:
        if paused_count(db, ticket_id) > 0:
            # Once paused, the budget left is measured from what the clock really consumed.
            left = max(0, budget - consumed_minutes(db, ticket_id, now))
            resolution_due = calendar.add_minutes(_parse(now), left)
        else:
            resolution_due = calendar.add_minutes(created, budget)
    first, resolved = ticket["ticket_first_response_at"], ticket["ticket_resolved_at"]
    db.update("tickets", {
        "ticket_sla_id": int(sla["sla_id"]),
        "ticket_response_due_at": _text(response_due),
        "ticket_resolution_due_at": _text(resolution_due) if resolution_due else None,
        "ticket_response_sla_met": None if not first else int(_parse(first) <= response_due),
        "ticket_resolution_sla_met": None if not (resolved and resolution_due) else
        int(_parse(resolved) <= resolution_due),
        "ticket_response_sla_alert_stage": 0, "ticket_resolution_sla_alert_stage": 0,
    }, {"ticket_id": ticket_id})
    sync_clock(db, ticket_id, now)


def sync_clock(db, ticket_id, now):
    """Open or close the resolution clock's interval to match the ticket's state (ITFlow's
    syncTicketSlaClock); on resume, re-base the resolution due date on the budget left."""
    if not _pausing(db):
        return
    row = db.row(
        "SELECT ticket_sla_id, ticket_created_at, ticket_resolved_at, ticket_closed_at, ticket_archived_at, "
        "ticket_resolution_sla_alert_stage, sla_resolution_minutes, ticket_status_pauses_sla FROM tickets "
        "LEFT JOIN slas ON ticket_sla_id = sla_id LEFT JOIN ticket_statuses ON ticket_status = ticket_status_id "
        "WHERE ticket_id = :ticket", {"ticket": ticket_id})
    if row is None:
        return
    open_interval = db.row("SELECT sla_history_id, sla_history_started_at FROM sla_history "
                           "WHERE sla_history_ticket_id = :ticket AND sla_history_ended_at IS NULL "
                           "ORDER BY sla_history_id DESC LIMIT 1", {"ticket": ticket_id})
    budget = int(row["sla_resolution_minutes"] or 0)
    tracked = int(row["ticket_sla_id"] or 0) > 0 and budget > 0
    should_run = (tracked and not row["ticket_resolved_at"] and not row["ticket_closed_at"]
                  and not row["ticket_archived_at"] and int(row["ticket_status_pauses_sla"] or 0) == 0)
    if should_run and open_interval is None:
        resuming = paused_count(db, ticket_id) > 0
        used = consumed_minutes(db, ticket_id, now) if resuming else 0
        # The first interval starts when the ticket was raised, not now.
        db.insert("sla_history", {"sla_history_started_at": now if resuming else row["ticket_created_at"],
                                  "sla_history_ticket_id": ticket_id})
        if resuming:
            due = BusinessCalendar.of(db).add_minutes(_parse(now), max(0, budget - used))
            stage = 2 if int(row["ticket_resolution_sla_alert_stage"] or 0) == 2 else 0  # a breach stays
            db.update("tickets", {"ticket_resolution_due_at": _text(due),
                                  "ticket_resolution_sla_alert_stage": stage}, {"ticket_id": ticket_id})
    elif not should_run and open_interval is not None:
        minutes = BusinessCalendar.of(db).minutes_between(_parse(open_interval["sla_history_started_at"]), _parse(now))
        db.update("sla_history", {"sla_history_ended_at": now, "sla_history_minutes": minutes},
                  {"sla_history_id": int(open_interval["sla_history_id"])})


def first_response_values(ticket, now):
    """Columns that record a first response now, with the response verdict when an SLA set a
    due date (ITFlow's setTicketFirstResponse). Empty when the ticket already has one."""
    if ticket["ticket_first_response_at"]:
        return {}
    values = {"ticket_first_response_at": now}
    if "ticket_response_due_at" in ticket:
        due = ticket["ticket_response_due_at"]
        values["ticket_response_sla_met"] = int(_parse(now) <= _parse(due)) if due else None
    return values


def judge_resolution(db, ticket_id, now):
    """Record whether the resolution target was met, once the ticket is resolved (ITFlow's
    setTicketResolutionSlaMet), and stop its clock. A recorded miss stays a miss."""
    ticket = _ticket(db, ticket_id)
    if ticket is None or not ticket.get("ticket_resolution_due_at"):
        return
    met = ticket["ticket_resolution_sla_met"]
    if met is None or int(met) != 0:
        ended = _parse(ticket["ticket_resolved_at"] or now)
        db.update("tickets", {"ticket_resolution_sla_met": int(ended <= _parse(ticket["ticket_resolution_due_at"]))},
                  {"ticket_id": ticket_id})
    sync_clock(db, ticket_id, now)


def forget(db, ticket_id):
    """A deleted ticket's clock intervals go with it."""
    if _pausing(db):
        db.delete("sla_history", {"sla_history_ticket_id": ticket_id})
