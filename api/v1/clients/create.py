from itflow_api.lib.modules._tags import UntaggedCreate
from itflow_api.lib.modules.clients import MODULE

endpoint = UntaggedCreate(MODULE)
