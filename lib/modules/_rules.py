"""Small value rules several modules share."""
import re


def strip_scheme(value):
    """ITFlow stores websites and domains without a leading http:// or https://."""
    return re.sub(r"^https?://", "", value, flags=re.IGNORECASE)


def ucfirst(value):
    return value[:1].upper() + value[1:]


def keep_flag_exclusive(db, table, flag, client_column, client_id, values):
    """Setting `flag` = 1 on one record clears it on the client's other records (a client
    has one primary contact, one primary location)."""
    if values.get(flag) == 1:
        db.execute(f"UPDATE {table} SET {flag} = 0 WHERE {client_column} = :client", {"client": client_id})
