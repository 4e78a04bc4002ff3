from itflow_api.lib.modules._tags import TaggedUpdate
from itflow_api.lib.modules.contacts import MODULE

endpoint = TaggedUpdate(MODULE, ("contact_tags", "contact_id", "tag_id"), "contact tag", "a contact's tags")
