"""Rows in ITFlow's `logs` table: the one place that writes them.

Descriptions name records and keys, never secrets (no api_key, no decrypt password).
"""

# Column widths of logs.log_ip / log_user_agent / log_description (MySQL strict mode
# refuses longer values, so they are cut here rather than failing the request).
_IP_MAX, _AGENT_MAX, _DESCRIPTION_MAX = 200, 250, 1000


def _row(caller, log_type, action, description, client_id=0, entity_id=0, user_id=0):
    return {
        "log_type": log_type,
        "log_action": action,
        "log_description": description[:_DESCRIPTION_MAX],
        "log_ip": (caller.ip or "")[:_IP_MAX],
        "log_user_agent": (caller.user_agent or "")[:_AGENT_MAX],
        "log_client_id": _id(client_id),
        "log_entity_id": _id(entity_id),
        "log_user_id": _id(user_id),
    }


def _id(value):
    """An id as a number; an id not known yet (a row held back: lib/db/connections.py
    PendingId) is kept, and the database layer writes its number once the row is in."""
    if value is None or isinstance(value, (int, str, float)):
        return int(value or 0)
    return value


def write(db, caller, log_type, action, description, client_id=0, entity_id=0, user_id=0):
    db.insert("logs", _row(caller, log_type, action, description, client_id, entity_id, user_id))


def auth_failed(db, caller, path):
    write(db, caller, "API", "Failed", f"Incorrect or expired key (endpoint: {path})")


def _html_escaped(name):
    # ITFlow passes the key name through htmlentities() before it reaches a log line.
    return (name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#039;"))


def record_change(db, caller, key, entity, action, name, client_id, entity_id, api_description):
    """The two rows every successful write leaves: one for the record, one for the API call."""
    key_name, user_id = _html_escaped(key.name), key.user_id or 0
    # Nothing reads them back before the commit: they go in with the transaction's other logs
    # rows in one statement (lib/db/connections.py, insert_later).
    db.insert_later("logs", _row(caller, entity, action, f"{name} via API ({key_name})", client_id, entity_id, user_id))
    db.insert_later("logs", _row(caller, "API", "Success", f"{api_description} via API ({key_name})", client_id, 0,
                                 user_id))
