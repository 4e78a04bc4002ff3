from itflow_api.lib.core.crud import Read
from itflow_api.lib.modules.locations import MODULE

endpoint = Read(MODULE)
