"""Send the SLA / ticket-history sequence to a running server and print what it stored.

Used to record tests/itflow_recorded/itflow-newest-sla.json from a real ITFlow (26.08.2,
database 2.6.7) and to run the same sequence against itflow-api side by side:

    python tests/itflow_recorded/record_sla_sequence.py http://127.0.0.1:8091 KEY DBNAME > out.json

The database must hold the plan of SEED (clients 1 and 2, contact 1, the two SLAs, their
assignments, business hours Mon-Fri 09:00-17:00, status 3 pausing the clock) and be empty of
tickets. tests/test_newest_itflow.py replays the same STEPS in-process, with the clock set
to the instants ITFlow recorded, and compares the rows column by column.
"""
import json
import sys
import time
import urllib.request

import pymysql
import pymysql.converters

# What both databases carry before the sequence (columns as in ITFlow 2.6.7).
SEED = {
    "clients": [{"client_id": 1, "client_name": "Acme SLA"}, {"client_id": 2, "client_name": "Beta NoSLA"}],
    "contacts": [{"contact_id": 1, "contact_name": "Alice", "contact_email": "alice@acme.example",
                  "contact_primary": 1, "contact_client_id": 1}],
    "slas": [{"sla_id": 1, "sla_name": "Gold", "sla_response_minutes": 60, "sla_resolution_minutes": 480},
             {"sla_id": 2, "sla_name": "Response only", "sla_response_minutes": 30, "sla_resolution_minutes": None}],
    "sla_assignments": [
        {"sla_assignment_client_id": 1, "sla_assignment_priority": "High", "sla_assignment_sla_id": 1},
        {"sla_assignment_client_id": 0, "sla_assignment_priority": "Medium", "sla_assignment_sla_id": 2},
        {"sla_assignment_client_id": 2, "sla_assignment_priority": "Medium", "sla_assignment_sla_id": 0},
    ],
    "settings": {"config_business_days": "1,2,3,4,5", "config_business_hours_start": "09:00:00",
                 "config_business_hours_end": "17:00:00"},
    "pausing_status": 3,
}

# (label, endpoint, body). "T<n>" in a body is the id of the n-th ticket created.
STEPS = [
    ("t1 create High (client SLA Gold)", "tickets/create",
     {"client_id": 1, "ticket_subject": "Printer down", "ticket_priority": "High", "ticket_details": "It jams"}),
    ("t1 internal note, no status", "ticket_replies/create",
     {"client_id": 1, "ticket_id": "T1", "ticket_reply": "Looking", "ticket_reply_type": "Internal"}),
    ("t1 public reply, status Open", "ticket_replies/create",
     {"client_id": 1, "ticket_id": "T1", "ticket_reply": "On it", "ticket_reply_type": "Public",
      "ticket_status": 2, "ticket_reply_time_worked": "00:15:00"}),
    ("t1 public reply, status stays Open", "ticket_replies/create",
     {"client_id": 1, "ticket_id": "T1", "ticket_reply": "Still on it", "ticket_reply_type": "public",
      "ticket_status": 2}),
    ("t1 resolve", "tickets/resolve", {"client_id": 1, "ticket_id": "T1"}),
    ("t2 create Low (no SLA)", "tickets/create",
     {"client_id": 1, "ticket_subject": "Mouse", "ticket_priority": "Low"}),
    ("t2 public reply resolving", "ticket_replies/create",
     {"client_id": 1, "ticket_id": "T2", "ticket_reply": "Fixed", "ticket_reply_type": "Public", "ticket_status": 4}),
    ("t3 create Medium (global response-only SLA)", "tickets/create",
     {"client_id": 1, "ticket_subject": "VPN", "ticket_priority": "Medium"}),
    ("t3 internal note, status On Hold (pauses)", "ticket_replies/create",
     {"client_id": 1, "ticket_id": "T3", "ticket_reply": "Waiting on vendor", "ticket_status": 3}),
    ("t3 resolve (sets first response)", "tickets/resolve", {"client_id": 1, "ticket_id": "T3"}),
    ("t4 create Medium for client 2 (explicit no-SLA override)", "tickets/create",
     {"client_id": 2, "ticket_subject": "Email", "ticket_priority": "Medium"}),
    ("t5 create High (Gold)", "tickets/create",
     {"client_id": 1, "ticket_subject": "Server", "ticket_priority": "High"}),
    ("t5 internal note, status On Hold (pauses)", "ticket_replies/create",
     {"client_id": 1, "ticket_id": "T5", "ticket_reply": "Parts ordered", "ticket_status": 3}),
    ("t5 public reply, status Open (resumes)", "ticket_replies/create",
     {"client_id": 1, "ticket_id": "T5", "ticket_reply": "Parts here", "ticket_reply_type": "Public",
      "ticket_status": 2}),
    ("t5 resolve", "tickets/resolve", {"client_id": 1, "ticket_id": "T5"}),
]

TICKET_COLUMNS = [
    "ticket_id", "ticket_prefix", "ticket_number", "ticket_source", "ticket_subject", "ticket_details",
    "ticket_priority", "ticket_status", "ticket_sla_id", "ticket_created_at", "ticket_resolved_at",
    "ticket_first_response_at", "ticket_response_due_at", "ticket_resolution_due_at", "ticket_response_sla_met",
    "ticket_resolution_sla_met", "ticket_response_sla_alert_stage", "ticket_resolution_sla_alert_stage",
    "ticket_closed_at", "ticket_created_by", "ticket_contact_id", "ticket_client_id",
]
REPLY_COLUMNS = ["ticket_reply_id", "ticket_reply", "ticket_reply_type", "ticket_reply_time_worked",
                 "ticket_reply_by", "ticket_reply_ticket_id", "ticket_reply_created_at", "ticket_reply_archived_at"]


def resolve_ids(body, ticket_ids):
    return {k: (ticket_ids[int(v[1:]) - 1] if isinstance(v, str) and v[:1] == "T" and v[1:].isdigit() else v)
            for k, v in body.items()}


def post(base, key, endpoint, body):
    data = json.dumps({"api_key": key, **body}).encode()
    request = urllib.request.Request(f"{base}/api/v1/{endpoint}.php", data=data,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def dump(connection, ticket_ids):
    def rows(sql, args=()):
        with connection.cursor() as cursor:
            cursor.execute(sql, args)
            names = [d[0] for d in cursor.description]
            return [{n: (None if v is None else str(v)) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]
    marks = ",".join(["%s"] * len(ticket_ids))
    return {
        "tickets": rows(f"SELECT {', '.join(TICKET_COLUMNS)} FROM tickets WHERE ticket_id IN ({marks}) "
                        "ORDER BY ticket_id", ticket_ids),
        "ticket_replies": rows(f"SELECT {', '.join(REPLY_COLUMNS)} FROM ticket_replies "
                               f"WHERE ticket_reply_ticket_id IN ({marks}) ORDER BY ticket_reply_id", ticket_ids),
        "ticket_history": rows(f"SELECT * FROM ticket_history WHERE ticket_history_ticket_id IN ({marks}) "
                               "ORDER BY ticket_history_id", ticket_ids),
        "sla_history": rows(f"SELECT * FROM sla_history WHERE sla_history_ticket_id IN ({marks}) "
                            "ORDER BY sla_history_id", ticket_ids),
    }


def main(base, key, database, pause=1.1):
    ticket_ids, answers = [], []
    for label, endpoint, body in STEPS:
        answer = post(base, key, endpoint, resolve_ids(body, ticket_ids))
        answers.append({"step": label, "answer": answer})
        if endpoint == "tickets/create":
            ticket_ids.append(int(answer["data"][0]["insert_id"]))
        time.sleep(pause)  # one step per second, so every stamp is distinct
    connection = pymysql.connect(host="127.0.0.1", user="root", password="", database=database,
                                 conv=dict(pymysql.converters.encoders))  # values as MySQL's text, like PHP's mysqli
    return {"answers": answers, "rows": dump(connection, ticket_ids)}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4]), indent=1))
