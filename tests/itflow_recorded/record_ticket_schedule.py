"""Run the scheduling handlers of ITFlow's own agent ticket page and record what they store.

    python tests/itflow_recorded/record_ticket_schedule.py /path/to/itflow-newest DBNAME > itflow-newest-ticket-schedule.json

As record_ticket_actions.py (whose seed and tables it uses): DBNAME is a MariaDB database
created from that release's db.sql; its tables are emptied and the seed written; each step
posts the page's schedule form (edit_ticket_schedule) or follows its cancel link
(cancel_ticket_schedule) with php-cli (page_action_schedule.php, the database clock held on one
second); the rows are read back at the end. tests/test_ticket_schedule.py sends each step's
`body` to our tickets/update and compares. The page also queues calendar invitations in
email_queue; those are not read (the API sends none).
"""
import json
import os
import sys
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import record_ticket_actions as base  # noqa: E402
import recording  # noqa: E402

TABLES = {"tickets": "ticket_id", "ticket_history": "ticket_history_id", "ticket_replies": "ticket_reply_id",
          "logs": "log_id"}

# (label, the page's handler, the form it posts (or the ticket its cancel link names), what our
# tickets/update is sent)
STEPS = [
    ("a New ticket scheduled, remote", "edit_ticket_schedule",
     {"ticket_id": 1, "scheduled_date_time": "2030-01-02T09:30", "onsite": 0},
     {"ticket_id": 1, "ticket_schedule": "2030-01-02T09:30", "ticket_onsite": 0}),
    ("its time changed, and onsite now", "edit_ticket_schedule",
     {"ticket_id": 1, "scheduled_date_time": "2030-01-03T14:05", "onsite": 1},
     {"ticket_id": 1, "ticket_schedule": "2030-01-03T14:05", "ticket_onsite": 1}),
    ("an Open ticket scheduled an hour after it (the page warns of the other)", "edit_ticket_schedule",
     {"ticket_id": 3, "scheduled_date_time": "2030-01-03T15:05", "onsite": 1},
     {"ticket_id": 3, "ticket_schedule": "2030-01-03T15:05", "ticket_onsite": 1}),
    ("the same time, remote instead of onsite", "edit_ticket_schedule",
     {"ticket_id": 3, "scheduled_date_time": "2030-01-03T15:05", "onsite": 0},
     {"ticket_id": 3, "ticket_onsite": 0}),
    ("a ticket of no client scheduled at midnight", "edit_ticket_schedule",
     {"ticket_id": 5, "scheduled_date_time": "2030-02-28T00:00", "onsite": 0},
     {"ticket_id": 5, "ticket_schedule": "2030-02-28 00:00:00", "ticket_onsite": 0}),
    ("the first ticket's schedule cancelled", "cancel_ticket_schedule", 1,
     {"ticket_id": 1, "ticket_schedule": ""}),
    ("the no-client ticket's schedule cancelled", "cancel_ticket_schedule", 5,
     {"ticket_id": 5, "ticket_schedule": ""}),
]


def main(itflow_root, database):
    plan = base.seed(datetime.utcnow().replace(microsecond=0))
    connection = recording.prepare(database, plan, base.RESET, base.SEEDED, settings=plan["settings"])
    steps = []
    env = recording.page_env(itflow_root, database)
    for label, handler, form, body in STEPS:
        argument = json.dumps(form) if isinstance(form, dict) else str(form)
        instant, _ = recording.run_page("page_action_schedule.php", [handler, argument], env, label)
        steps.append({"step": label, "handler": handler, "form": form, "body": body, "instant": instant})
    return {"about": "ITFlow 26.08 (database 2.6.7): agent/post/ticket.php edit_ticket_schedule and "
                     "cancel_ticket_schedule, run with php-cli by record_ticket_schedule.py as agent user 1",
            "seed": plan, "steps": steps, "rows": recording.dump(connection, TABLES)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2]), indent=1))
