from itflow_api.lib.crud import Read
from itflow_api.lib.modules.software import MODULE

endpoint = Read(MODULE)
