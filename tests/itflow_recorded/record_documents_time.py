"""Run folder, document and ticket-reply actions through ITFlow's own agent pages and record
what they store.

    python tests/itflow_recorded/record_documents_time.py /path/to/itflow-newest DBNAME documents \
        > tests/itflow_recorded/itflow-newest-document-folders.json

DBNAME is a MariaDB database created from that release's db.sql (nothing else in it: the
tables below are emptied and the part's seed written). Each step runs the page's handler
with php-cli (page_action_documents.php: an agent's session and CSRF token set, the
database clock held on one second) and the rows are read back at the end.
tests/test_documents_and_time.py writes the same seed into a newest-layout database of our
own, sends the same actions to our endpoints with the clock at each recorded instant, and
compares.

Parts:
  documents  agent/post/folder.php rename_folder, agent/post/document.php move_document
             (> itflow-newest-document-folders.json)
  time       agent/post/ticket.php edit_ticket_reply (its time worked, type and text) and
             archive_ticket_reply (> itflow-newest-time-entries.json)
  files      agent/post/document.php link_file_to_document and unlink_file_from_document
             (> itflow-newest-document-files.json)
"""
import json
import sys
from datetime import datetime

import recording

RESET = [*recording.BASE_RESET, "users", "user_roles", "clients", "folders", "documents", "document_versions", "files",
         "document_files", "tickets", "ticket_replies", "ticket_history", "logs"]

USERS = {
    "user_roles": [{"role_id": 1, "role_name": "Administrator", "role_is_admin": 1}],
    "users": [{"user_id": 1, "user_name": "Agent Smith", "user_email": "smith@example.com", "user_password": "x",
               "user_role_id": 1},
              {"user_id": 2, "user_name": "Bea Tech", "user_email": "bea@example.com", "user_password": "x",
               "user_role_id": 1}],
    "clients": [{"client_id": 1, "client_name": "Acme"}, {"client_id": 2, "client_name": "Other"}],
}


def documents_seed():
    def folder(folder_id, name, client, parent=0):
        return {"folder_id": folder_id, "folder_name": name, "parent_folder": parent, "folder_location": 0,
                "folder_client_id": client}

    def document(document_id, name, client, folder_id, updated_at):
        return {"document_id": document_id, "document_name": name, "document_description": f"About {name}",
                "document_content": f"<p>{name}</p>", "document_content_raw": name, "document_folder_id": folder_id,
                "document_created_by": 1, "document_client_id": client, "document_created_at": "2026-01-02 03:04:05",
                "document_updated_at": updated_at}

    return {
        **USERS,
        "folders": [folder(1, "Network", 1), folder(2, "Firewalls", 1, parent=1), folder(3, "Policies", 1),
                    folder(4, "Theirs", 2)],
        "documents": [document(1, "Router setup", 1, 0, "2026-02-03 04:05:06"),
                      document(2, "VPN", 1, 2, None),
                      document(3, "Their runbook", 2, 0, "2026-03-04 05:06:07")],
    }


def time_seed():
    def ticket(number, client, status=2):
        return {"ticket_id": number, "ticket_prefix": "TCK-", "ticket_number": number, "ticket_source": "Agent",
                "ticket_subject": f"Case {number}", "ticket_details": "details", "ticket_priority": "High",
                "ticket_status": status, "ticket_url_key": f"key{number:029d}", "ticket_created_by": 1,
                "ticket_assigned_to": 1, "ticket_contact_id": 0, "ticket_client_id": client,
                "ticket_created_at": "2026-11-02 09:00:00", "ticket_sla_id": 0}

    def reply(reply_id, ticket_id, reply_type, by, worked, created):
        return {"ticket_reply_id": reply_id, "ticket_reply": f"<p>Reply {reply_id}</p>",
                "ticket_reply_type": reply_type, "ticket_reply_time_worked": worked,
                "ticket_reply_created_at": created, "ticket_reply_by": by, "ticket_reply_ticket_id": ticket_id}

    return {
        **USERS,
        "tickets": [ticket(1, 1), ticket(2, 2)],
        "ticket_replies": [reply(1, 1, "Internal", 1, "01:00:00", "2026-11-03 10:00:00"),
                           reply(2, 1, "Public", 2, "00:30:00", "2026-11-04 11:00:00"),
                           reply(3, 2, "Internal", 1, "02:00:00", "2026-11-05 12:00:00"),
                           reply(4, 1, "Internal", 1, "00:00:00", "2026-11-06 13:00:00"),
                           reply(5, 1, "Client", 0, None, "2026-11-07 14:00:00")],
    }


def files_seed():
    def file(file_id, name, client, folder_id=0):
        ext = name.rsplit(".", 1)[-1]
        return {"file_id": file_id, "file_reference_name": f"{file_id:04d}{'a' * 28}.{ext}", "file_name": name,
                "file_description": f"The {name}", "file_ext": ext, "file_size": 1000 * file_id,
                "file_mime_type": "application/pdf" if ext == "pdf" else "image/png", "file_created_by": 1,
                "file_folder_id": folder_id, "file_client_id": client, "file_created_at": "2026-05-06 07:08:09"}

    plan = documents_seed()
    return {
        **plan,
        "files": [file(1, "rack.png", 1), file(2, "contract.pdf", 1, folder_id=1), file(3, "theirs.pdf", 2),
                  file(4, "spare.png", 1)],
        "document_files": [{"document_id": 2, "file_id": 2}],
    }


def _edit(reply_id, text, reply_type, time):
    return {"ticket_reply_id": reply_id, "ticket_reply": text, "ticket_reply_type": reply_type, "time": time}


PARTS = {
    "documents": {
        "about": "agent/post/folder.php rename_folder and agent/post/document.php move_document",
        "seed": documents_seed,
        "tables": ["user_roles", "users", "clients", "folders", "documents"],
        # (label, page action, the fields the page's form sends)
        "steps": [
            ("rename a folder (tags in the name are stripped)", "rename_folder",
             {"folder_id": 1, "folder_name": " Network & <b>Firewalls</b> "}),
            ("rename another client's folder", "rename_folder", {"folder_id": 4, "folder_name": "Theirs (old)"}),
            ("move a document from the top level into a folder", "move_document", {"document_id": 1, "folder": 2}),
            ("move a document never edited back to the top level", "move_document", {"document_id": 2, "folder": 0}),
            ("move another client's document into its folder", "move_document", {"document_id": 3, "folder": 4}),
            ("move a document on to another folder", "move_document", {"document_id": 1, "folder": 3}),
        ],
        "dump": {"folders": "folder_id", "documents": "document_id", "document_versions": "document_version_id",
                 "logs": "log_id"},
    },
    "time": {
        "about": "agent/post/ticket.php edit_ticket_reply and archive_ticket_reply",
        "seed": time_seed,
        "tables": ["user_roles", "users", "clients", "tickets", "ticket_replies"],
        # The edit form sends the reply's text, its type and the time, prefilled with what is stored.
        "steps": [
            ("edit the time worked of an internal note", "edit_ticket_reply",
             _edit(1, "<p>Reply 1</p>", "Internal", "01:45:00")),
            ("edit a public reply: its time, its type and its text", "edit_ticket_reply",
             _edit(2, "<p>Checked the <b>logs</b></p>", "Internal", "00:15:00")),
            ("put time on a note that had none", "edit_ticket_reply",
             _edit(4, "<p>Reply 4</p>", "Internal", "00:20:00")),
            ("archive another client's reply", "archive_ticket_reply", {"ticket_reply_id": 3}),
            ("archive the edited reply", "archive_ticket_reply", {"ticket_reply_id": 2}),
        ],
        "dump": {"tickets": "ticket_id", "ticket_replies": "ticket_reply_id", "ticket_history": "ticket_history_id",
                 "logs": "log_id"},
    },
    "files": {
        "about": "agent/post/document.php link_file_to_document and unlink_file_from_document",
        "seed": files_seed,
        "tables": ["user_roles", "users", "clients", "folders", "documents", "files", "document_files"],
        "steps": [
            ("link a file to a document", "link_file_to_document", {"document_id": 1, "file_id": 1}),
            ("link a second file to the same document", "link_file_to_document", {"document_id": 1, "file_id": 2}),
            ("link a file to a document of the other client", "link_file_to_document",
             {"document_id": 3, "file_id": 3}),
            ("link a file linked elsewhere to a second document", "link_file_to_document",
             {"document_id": 2, "file_id": 1}),
            ("unlink a file", "unlink_file_from_document", {"document_id": 1, "file_id": 1}),
            ("unlink the link the seed made", "unlink_file_from_document", {"document_id": 2, "file_id": 2}),
            ("unlink a file that is not linked to the document", "unlink_file_from_document",
             {"document_id": 2, "file_id": 4}),
        ],
        "dump": {"documents": "document_id", "files": "file_id", "document_files": "document_id, file_id",
                 "logs": "log_id"},
    },
}


def main(itflow_root, database, part_name):
    part = PARTS[part_name]
    plan = part["seed"]()
    connection = recording.prepare(database, plan, RESET, part["tables"])
    steps = []
    env = recording.page_env(itflow_root, database)
    for label, action, fields in part["steps"]:
        instant, _ = recording.run_page("page_action_documents.php", [action, json.dumps(fields)], env, label)
        steps.append({"step": label, "action": action, "fields": fields, "instant": instant})
    return {"about": f"ITFlow 26.08 (database 2.6.7), {part['about']} run with php-cli by "
                     f"record_documents_time.py as agent user 1 ({part_name}), "
                     f"{datetime.utcnow().strftime('%Y-%m-%d')}",
            "seed": plan, "steps": steps, "rows": recording.dump(connection, part["dump"])}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], sys.argv[3]), indent=1))
