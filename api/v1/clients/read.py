from itflow_api.lib.crud import Read
from itflow_api.lib.modules.clients import MODULE

endpoint = Read(MODULE)
