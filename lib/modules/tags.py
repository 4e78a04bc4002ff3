"""tags: the tags ITFlow's edit forms offer (the `tags` table of the newest layout), read only.

A tag has a type, the kind of record it is for (tag_type: 1 client, 2 location, 3 contact,
4 credential, 5 asset); clients/update and contacts/update take `tags` as ids or names of the
tags of their type (lib/modules/_tags.py). Tags belong to no client: every key that may read
clients (module_client) reads them all.
"""
from ..core.definitions import Field, Lookup, Module

MODULE = Module(
    name="tags", table="tags", id_column="tag_id", client_column=None, entity="Tag", name_column="tag_name",
    archived_column="tag_archived_at", order_by="tag_type, tag_name, tag_id", not_in_every_database="tags",
    description="The tags records can have (read only), by type: 1 client, 2 location, 3 contact, 4 credential, "
                "5 asset. Needs a database with ITFlow's tags table (the newest layout).",
    fields=[
        Field("tag_name", description="the tag's name, as the edit forms offer it"),
        Field("tag_type", "int", description="1 client, 2 location, 3 contact, 4 credential, 5 asset"),
        Field("tag_color", description="the colour ITFlow shows it in"),
        Field("tag_icon", description="the icon ITFlow shows beside it"),
    ],
    lookups=[
        Lookup("tag_id", "int", single=True),
        Lookup("tag_type", "int", description="one type: 1 client, 3 contact, ..."),
    ],
)
