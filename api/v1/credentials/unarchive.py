from itflow_api.lib.crud import Unarchive
from itflow_api.lib.modules.credentials import MODULE

endpoint = Unarchive(MODULE)
