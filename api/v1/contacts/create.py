from itflow_api.lib.modules._tags import UntaggedCreate
from itflow_api.lib.modules.contacts import MODULE

endpoint = UntaggedCreate(MODULE)
