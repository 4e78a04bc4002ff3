"""Run close, reopen and assign through ITFlow's own agent ticket page and record what it stores.

    python tests/itflow_recorded/record_ticket_actions.py /path/to/itflow-newest DBNAME > itflow-newest-ticket-actions.json

DBNAME is a MariaDB database created from that release's db.sql (nothing else in it: the
tables below are emptied and SEED written). Each step runs the page's handler with php-cli
(page_action.php: an agent's session and CSRF token set, the database clock held on one
second) and the rows are read back at the end. tests/test_ticket_actions.py writes the same
SEED into a newest-layout database of our own, sends the same actions to tickets/close,
tickets/reopen and tickets/assign with the clock at each recorded instant, and compares.
"""
import json
import sys
from datetime import datetime, timedelta

import recording

RESET = [*recording.BASE_RESET, "users", "user_roles", "clients", "slas", "sla_assignments", "tickets", "ticket_replies",
         "ticket_history", "sla_history", "logs", "notifications"]
SEEDED = ("user_roles", "users", "clients", "slas", "tickets", "sla_history")
TABLES = {"tickets": "ticket_id", "ticket_replies": "ticket_reply_id", "ticket_history": "ticket_history_id",
          "sla_history": "sla_history_id", "logs": "log_id", "notifications": "notification_id"}

# (label, page action, ticket number, user id for assign)
STEPS = [
    ("assign a New SLA ticket to another agent (New -> Open)", "assign", 1, 2),
    ("assign a New ticket of no client to oneself", "assign", 5, 1),
    ("unassign", "assign", 1, 0),
    ("reopen a resolved ticket with SLA budget left", "reopen", 2, None),
    ("reopen a ticket whose resolution SLA was missed and spent", "reopen", 6, None),
    ("close an Open ticket past its resolution due date", "close", 3, None),
    ("close a resolved ticket without SLA", "close", 4, None),
    ("close the reopened ticket, its SLA clock running", "close", 2, None),
]

TICKET_ORDER = [1, 2, 3, 4, 5, 6]


def _text(moment):
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def seed(start):
    """The rows both sides start from; tickets dated back from `start` (the recording's first
    minute), so the SLA verdicts are the ones each case is about."""
    def at(hours):
        return _text(start - timedelta(hours=hours))

    def ticket(number, client, status, created, **columns):
        row = {"ticket_id": number, "ticket_prefix": "TCK-", "ticket_number": number, "ticket_source": "Agent",
               "ticket_subject": f"Case {number}", "ticket_details": "details", "ticket_priority": "High",
               "ticket_status": status, "ticket_url_key": f"key{number:029d}", "ticket_created_by": 1,
               "ticket_assigned_to": 0, "ticket_contact_id": 0, "ticket_client_id": client,
               "ticket_created_at": created, "ticket_sla_id": 0}
        row.update(columns)
        return row

    def gold(created):
        base = datetime.strptime(created, "%Y-%m-%d %H:%M:%S")
        return {"ticket_sla_id": 1, "ticket_response_due_at": _text(base + timedelta(minutes=60)),
                "ticket_resolution_due_at": _text(base + timedelta(minutes=480))}

    tickets = [
        ticket(1, 1, 1, at(2), **gold(at(2))),
        ticket(2, 1, 4, at(3), **gold(at(3)), ticket_first_response_at=at(2.5), ticket_response_sla_met=1,
               ticket_resolved_at=at(1), ticket_resolution_sla_met=1),
        ticket(3, 1, 2, at(10), **gold(at(10)), ticket_first_response_at=at(9.5), ticket_response_sla_met=1),
        ticket(4, 2, 4, at(5), ticket_first_response_at=at(4), ticket_resolved_at=at(0.5)),
        ticket(5, 0, 1, at(1)),
        ticket(6, 1, 4, at(10), **gold(at(10)), ticket_first_response_at=at(9.9), ticket_response_sla_met=1,
               ticket_resolved_at=at(1), ticket_resolution_sla_met=0, ticket_resolution_sla_alert_stage=2),
    ]
    return {
        "settings": {"config_business_days": "", "config_timezone": "UTC"},
        "user_roles": [{"role_id": 1, "role_name": "Administrator", "role_is_admin": 1}],
        "users": [{"user_id": 1, "user_name": "Agent Smith", "user_email": "smith@example.com", "user_password": "x",
                   "user_role_id": 1},
                  {"user_id": 2, "user_name": "Bea Tech", "user_email": "bea@example.com", "user_password": "x",
                   "user_role_id": 1}],
        "clients": [{"client_id": 1, "client_name": "Acme"}, {"client_id": 2, "client_name": "Beta"}],
        "slas": [{"sla_id": 1, "sla_name": "Gold", "sla_response_minutes": 60, "sla_resolution_minutes": 480}],
        "tickets": tickets,
        "sla_history": [
            {"sla_history_started_at": at(2), "sla_history_ended_at": None, "sla_history_ticket_id": 1},
            {"sla_history_started_at": at(3), "sla_history_ended_at": at(1), "sla_history_minutes": 120,
             "sla_history_ticket_id": 2},
            {"sla_history_started_at": at(10), "sla_history_ended_at": None, "sla_history_ticket_id": 3},
            {"sla_history_started_at": at(10), "sla_history_ended_at": at(1), "sla_history_minutes": 540,
             "sla_history_ticket_id": 6},
        ],
    }


def main(itflow_root, database):
    plan = seed(datetime.utcnow().replace(microsecond=0))
    connection = recording.prepare(database, plan, RESET, SEEDED, settings=plan["settings"])
    steps = []
    env = recording.page_env(itflow_root, database)
    for label, action, ticket_id, user in STEPS:
        args = [action, str(ticket_id)] + ([] if user is None else [str(user)])
        instant, _ = recording.run_page("page_action.php", args, env, label)
        steps.append({"step": label, "action": action, "ticket_id": ticket_id, "user": user, "instant": instant})
    return {"about": "ITFlow 26.08 (database 2.6.7), agent/post/ticket.php close_ticket, reopen_ticket and "
                     "assign_ticket run with php-cli by record_ticket_actions.py as agent user 1",
            "seed": plan, "steps": steps, "rows": recording.dump(connection, TABLES)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2]), indent=1))
