from itflow_api.lib.crud import Unarchive
from itflow_api.lib.modules.clients import MODULE

endpoint = Unarchive(MODULE)
