from itflow_api.lib.crud import Unarchive
from itflow_api.lib.modules.domains import MODULE

endpoint = Unarchive(MODULE)
