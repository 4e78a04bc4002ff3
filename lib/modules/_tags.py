"""`tags` on a record's update, as ITFlow's edit forms set them: the record's link rows
(client_tags, contact_tags, ...) deleted, then one written per tag chosen. The tags are named
by id or by name (_rules.tag_ids); the write goes through the module's own update."""
from ..core.crud import Update, require_table
from ._rules import TAG_TYPES, replace_tags, tag_ids


class TaggedUpdate(Update):
    """update.php, and `tags` when sent: `link` is (link table, its record column, its tag
    column), `what` names the tags in refusals ("client tag")."""

    def __init__(self, module, link, what, held):
        super().__init__(module)
        self.link, self.what, self.held = link, what, held

    def apply(self, call, record_id, current):
        tags = None
        if call.params.has("tags"):
            require_table(call, self.link[0], self.held)
            tags = tag_ids(call, call.params.values.get("tags"), TAG_TYPES[self.module.name], self.what)
        count, values = super().apply(call, record_id, current)
        table, record_column, tag_column = self.link
        if tags is not None and replace_tags(call, table, record_column, record_id, tags, tag_column):
            count = count or 1  # the tags changed, if the record's own row did not
        return count, values

