from itflow_api.lib.modules._tags import TaggedUpdate
from itflow_api.lib.modules.clients import MODULE

endpoint = TaggedUpdate(MODULE, ("client_tags", "client_id", "tag_id"), "client tag", "a client's tags")
