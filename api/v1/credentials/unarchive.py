from itflow_api.lib.core.crud import Unarchive
from itflow_api.lib.modules.credentials import MODULE

endpoint = Unarchive(MODULE)
