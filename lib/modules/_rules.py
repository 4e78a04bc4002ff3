"""Small value rules several modules share."""
import re

from ..core.crud import require_table
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


# ITFlow's tag types (tags.tag_type): the records whose edit forms offer tags of that type.
TAG_TYPES = {"clients": 1, "locations": 2, "contacts": 3, "credentials": 4, "assets": 5}
MAX_TAGS = 100


def tag_ids(call, raw, tag_type, what, field="tags"):
    """The tag ids `raw` names, in the order sent (each once): a JSON list or "a,b,c" of tag
    ids or names of the tags of `tag_type` (what the record's edit form offers: every tag of
    that type, archived or not); [] or "" is none. `what` names the tags ("client tag"). An
    unknown name or id is refused with the valid ones (id_named)."""
    require_table(call, "tags", "tags")
    if raw is None or raw == "" or raw == []:
        return []
    items = raw if isinstance(raw, list) else str(raw).split(",") if isinstance(raw, str) else [raw]
    items = [item for item in items if not (isinstance(item, str) and not item.strip())]
    if len(items) > MAX_TAGS:
        raise Refused(f"At most {MAX_TAGS} tags in {field} ({len(items)} sent).")
    rows = call.db.rows("SELECT tag_id, tag_name FROM tags WHERE tag_type = :type ORDER BY tag_name, tag_id",
                        {"type": tag_type})
    known = {int(row["tag_id"]) for row in rows}
    ids = []
    for item in items:
        if isinstance(item, (dict, list, bool, float)) or item is None:
            raise Refused(f"{field} takes tag ids or names (a JSON list or \"a,b,c\"), not {str(item)[:40]!r}.")
        if is_name(item):
            tag_id = id_named(rows, "tag_id", "tag_name", item, field, what)
        else:
            tag_id = int(str(item).strip())
            if tag_id not in known:
                names = ", ".join(f"{row['tag_name']} ({row['tag_id']})" for row in rows) or "none"
                raise Refused(f"No {what} with tag_id {tag_id}: {field} takes a tag id or one of: {names}.")
        if tag_id not in ids:
            ids.append(tag_id)
    return ids


def replace_tags(call, link_table, record_column, record_id, ids, tag_column="tag_id"):
    """The record's link rows replaced by `ids`, as ITFlow's edit pages do (delete, then insert
    each; asset_tags names its columns asset_tag_asset_id and asset_tag_tag_id). Whether that
    changed them."""
    before = sorted(int(r["tag"]) for r in call.db.rows(
        f"SELECT {tag_column} AS tag FROM {link_table} WHERE {record_column} = :record", {"record": record_id}))
    call.db.delete(link_table, {record_column: record_id})
    for tag_id in ids:
        call.db.insert(link_table, {record_column: record_id, tag_column: tag_id})
    return before != sorted(ids)
