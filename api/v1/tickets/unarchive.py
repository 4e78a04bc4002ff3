from itflow_api.lib.crud import Unarchive
from itflow_api.lib.modules.tickets import MODULE

endpoint = Unarchive(MODULE)
