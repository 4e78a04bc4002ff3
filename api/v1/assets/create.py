from itflow_api.lib.modules._tags import UntaggedCreate
from itflow_api.lib.modules.assets import MODULE

endpoint = UntaggedCreate(MODULE)
