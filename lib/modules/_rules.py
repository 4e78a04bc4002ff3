"""Small value rules several modules share."""
import re

from ..core.envelope import Refused


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


def is_name(raw):
    """Whether a request sent a name where an id is also taken ("Resolved", " Hardware "), not
    a number (read as an id, as before)."""
    if raw is None or isinstance(raw, (bool, int, float)):
        return False
    text = str(raw).strip()
    return bool(text) and not text.lstrip("+-").replace(".", "", 1).isdigit()


def id_named(rows, id_column, name_column, raw, field, what):
    """The id of the one row of `rows` whose name is `raw` (any case, surrounding spaces
    ignored). An unknown name is refused with the valid ones, "Name (id)"; a name two rows
    share, with their ids. `what` names the rows ("ticket status"), `field` the parameter."""
    text = str(raw).strip()
    found = [int(row[id_column]) for row in rows if str(row[name_column]).strip().lower() == text.lower()]
    if len(found) == 1:
        return found[0]
    if found:
        raise Refused(f"{len(found)} of the {what} choices are named {text!r} (ids {', '.join(map(str, found))}): "
                      f"send {field} as the id.")
    names = ", ".join(f"{row[name_column]} ({row[id_column]})" for row in rows) or "none"
    raise Refused(f"No {what} named {text!r}: {field} takes a {what.split()[-1]} id or one of: {names}.")


def category_named(db, raw, category_type, field):
    """The id of the unarchived category of `category_type` ("Ticket", "Expense") called
    `raw`, as ITFlow's pages offer categories by type; None when `raw` is an id."""
    if not is_name(raw):
        return None
    if not db.columns_of("categories"):
        raise Refused(f"This database has no categories table: {field} takes a category id here "
                      f"(nothing was changed).")
    rows = db.rows("SELECT category_id, category_name FROM categories WHERE category_type = :type "
                   "AND category_archived_at IS NULL ORDER BY category_order, category_name, category_id",
                   {"type": category_type})
    return id_named(rows, "category_id", "category_name", raw, field, f"{category_type} category")
