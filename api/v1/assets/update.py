from itflow_api.lib.modules._tags import TaggedUpdate
from itflow_api.lib.modules.assets import MODULE

endpoint = TaggedUpdate(MODULE, ("asset_tags", "asset_tag_asset_id", "asset_tag_tag_id"), "asset tag", "an asset's tags")
