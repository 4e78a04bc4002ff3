"""Run the watcher, task and merge actions through ITFlow's own agent pages and record what they store.

    python tests/itflow_recorded/record_ticket_extras.py /path/to/itflow-newest DBNAME > itflow-newest-ticket-extras.json

As record_ticket_actions.py (whose seed and tables it uses; the helpers are recording.py's): DBNAME is a MariaDB database
created from that release's db.sql; its tables are emptied and the seed written; each step
runs the page's handler with php-cli (page_action.php, the database clock held on one
second); the rows are read back at the end. tests/test_ticket_extras.py replays the steps on
our endpoints and compares.

A step names what our endpoint is sent; where the page takes something else (a watcher's
row id), the recorder looks it up before the step.
"""
import json
import os
import sys
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import record_ticket_actions as base  # noqa: E402
import recording  # noqa: E402

TABLES = {"tickets": "ticket_id", "ticket_replies": "ticket_reply_id", "ticket_history": "ticket_history_id",
          "sla_history": "sla_history_id", "ticket_watchers": "watcher_id", "tasks": "task_id", "logs": "log_id",
          "notifications": "notification_id"}

# (label, our endpoint, its body)
STEPS = [
    ("add two watchers to a ticket", "add_watcher",
     {"ticket_id": 1, "watcher_email": "alice@example.com, bob@example.com"}),
    ("add a watcher to a ticket of no client", "add_watcher", {"ticket_id": 5, "watcher_email": "carol@example.com"}),
    ("remove one watcher", "remove_watcher", {"ticket_id": 1, "watcher_email": "bob@example.com"}),
    ("add a task", "add_task", {"ticket_id": 1, "task_name": "Back up the mailbox"}),
    ("add a second task", "add_task", {"ticket_id": 1, "task_name": "Swap the toner"}),
    ("add a task with a tag and a quote in its name", "add_task",
     {"ticket_id": 2, "task_name": " Call the client's <b>office</b> "}),
    ("add a task to a ticket of no client", "add_task", {"ticket_id": 5, "task_name": "Check cabling"}),
    ("complete a task", "complete_task", {"task_id": 1}),
    ("complete the task with a quote in its name", "complete_task", {"task_id": 3}),
    ("complete the task of a ticket of no client", "complete_task", {"task_id": 4}),
    ("mark a completed task incomplete", "uncomplete_task", {"task_id": 1}),
    ("put a ticket's second task first", "order_tasks", {"ticket_id": 1, "task_ids": [2, 1]}),
    ("merge a resolved SLA ticket into another, moving its replies", "merge",
     {"ticket_id": 2, "merge_into_ticket_id": 1, "merge_comment": " Same printer, <i>again</i> ",
      "merge_move_replies": 1}),
    ("merge an Open ticket past its resolution due date, keeping its replies", "merge",
     {"ticket_id": 3, "merge_into_ticket_id": 1, "merge_comment": "", "merge_move_replies": 0}),
    ("merge a ticket of no client, without a first response, into another client's ticket", "merge",
     {"ticket_id": 5, "merge_into_ticket_id": 4, "merge_comment": "Duplicate", "merge_move_replies": 0}),
]
# The page's name for an action where it is not ours.
PAGE_ACTION = {"uncomplete_task": "undo_complete_task"}


def page_arguments(connection, action, body):
    """What page_action.php is given for the step."""
    if action == "add_watcher":
        return [str(body["ticket_id"]), body["watcher_email"]]
    if action == "remove_watcher":
        with connection.cursor() as cursor:
            cursor.execute("SELECT watcher_id FROM ticket_watchers WHERE watcher_ticket_id = %s AND watcher_email = %s",
                           [body["ticket_id"], body["watcher_email"]])
            return [str(cursor.fetchone()[0])]
    if action == "add_task":
        return [str(body["ticket_id"]), body["task_name"]]
    if action in ("complete_task", "uncomplete_task"):
        return [str(body["task_id"])]
    if action == "order_tasks":
        return [str(body["ticket_id"]), ",".join(str(i) for i in body["task_ids"])]
    if action == "merge":
        return [str(body["ticket_id"]), str(body["merge_into_ticket_id"]), body["merge_comment"],
                str(body["merge_move_replies"])]
    raise ValueError(action)


def main(itflow_root, database):
    plan = base.seed(datetime.utcnow().replace(microsecond=0))
    connection = recording.prepare(database, plan, ["ticket_watchers", "tasks", *base.RESET], base.SEEDED,
                                   settings=plan["settings"])
    steps = []
    env = recording.page_env(itflow_root, database)
    for label, action, body in STEPS:
        args = [PAGE_ACTION.get(action, action), *page_arguments(connection, action, body)]
        instant, _ = recording.run_page("page_action.php", args, env, label)
        steps.append({"step": label, "action": action, "body": body, "instant": instant})
    return {"about": "ITFlow 26.08 (database 2.6.7): agent/post/ticket.php add_ticket_watcher and "
                     "delete_ticket_watcher, agent/post/task.php add_task, complete_task and undo_complete_task, "
                     "agent/ajax.php update_ticket_tasks_order, agent/post/ticket.php merge_ticket, run with php-cli "
                     "by record_ticket_extras.py as agent user 1",
            "seed": plan, "steps": steps, "rows": recording.dump(connection, TABLES)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2]), indent=1))
