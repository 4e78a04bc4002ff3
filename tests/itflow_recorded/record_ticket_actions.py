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
import os
import subprocess
import sys
from datetime import datetime, timedelta

import pymysql
import pymysql.converters

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, os.pardir, os.pardir))

from itflow_api.lib.itflow import schema  # noqa: E402

RESET = ["companies", "settings", "modules", "ticket_statuses", "users", "user_roles", "clients", "slas",
         "sla_assignments", "tickets", "ticket_replies", "ticket_history", "sla_history", "logs", "notifications"]

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


def _connect(database):
    return pymysql.connect(host="127.0.0.1", user="root", password="", database=database, autocommit=True,
                           conv=dict(pymysql.converters.encoders))  # values as MySQL's text, like PHP's mysqli


def _insert(cursor, table, row):
    names = ", ".join(row)
    cursor.execute(f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(row))})", list(row.values()))


def fill(connection, plan):
    """Each seed row with ITFlow's empty value ('' or 0) in every NOT NULL column that has no
    default, as ITFlow's own inserts leave them (the rows are stored filled, for both sides)."""
    with connection.cursor() as cursor:
        for table in ("user_roles", "users", "clients", "slas", "tickets", "sla_history"):
            cursor.execute("SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                           "DATABASE() AND TABLE_NAME = %s AND IS_NULLABLE = 'NO' AND COLUMN_DEFAULT IS NULL "
                           "AND EXTRA NOT LIKE '%%auto_increment%%'", [table])
            needed = cursor.fetchall()
            for row in plan[table]:
                for name, kind in needed:
                    row.setdefault(name, 0 if kind in ("int", "tinyint", "decimal", "bigint", "smallint") else "")


def write_seed(connection, plan):
    with connection.cursor() as cursor:
        for table in RESET:
            cursor.execute(f"DELETE FROM {table}")
            cursor.execute(f"ALTER TABLE {table} AUTO_INCREMENT = 1")
        for table, _, row in schema.seed_rows(schema.NEWEST_VERSION):
            _insert(cursor, table, row)
        cursor.execute("UPDATE settings SET config_business_days = %s, config_timezone = %s WHERE company_id = 1",
                       [plan["settings"]["config_business_days"], plan["settings"]["config_timezone"]])
        for table in ("user_roles", "users", "clients", "slas", "tickets", "sla_history"):
            for row in plan[table]:
                _insert(cursor, table, row)


def dump(connection):
    def rows(sql):
        with connection.cursor() as cursor:
            cursor.execute(sql)
            names = [d[0] for d in cursor.description]
            return [{n: (None if v is None else str(v)) for n, v in zip(names, row, strict=True)}
                    for row in cursor.fetchall()]
    return {
        "tickets": rows("SELECT * FROM tickets ORDER BY ticket_id"),
        "ticket_replies": rows("SELECT * FROM ticket_replies ORDER BY ticket_reply_id"),
        "ticket_history": rows("SELECT * FROM ticket_history ORDER BY ticket_history_id"),
        "sla_history": rows("SELECT * FROM sla_history ORDER BY sla_history_id"),
        "logs": rows("SELECT * FROM logs ORDER BY log_id"),
        "notifications": rows("SELECT * FROM notifications ORDER BY notification_id"),
    }


def main(itflow_root, database):
    connection = _connect(database)
    start = datetime.utcnow().replace(microsecond=0)
    plan = seed(start)
    fill(connection, plan)
    write_seed(connection, plan)
    steps = []
    env = {**os.environ, "ITFLOW_ROOT": itflow_root, "ITFLOW_DB": database}
    for label, action, ticket_id, user in STEPS:
        args = ["php", os.path.join(HERE, "page_action.php"), action, str(ticket_id)]
        if user is not None:
            args.append(str(user))
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        if done.returncode != 0 or done.stdout.count("\n") < 1:
            raise SystemExit(f"{label}: php answered {done.returncode}\n{done.stdout}\n{done.stderr}")
        steps.append({"step": label, "action": action, "ticket_id": ticket_id, "user": user,
                      "instant": done.stdout.splitlines()[0].strip()})
    return {"about": "ITFlow 26.08 (database 2.6.7), agent/post/ticket.php close_ticket, reopen_ticket and "
                     "assign_ticket run with php-cli by record_ticket_actions.py as agent user 1",
            "seed": plan, "steps": steps, "rows": dump(connection)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2]), indent=1))
