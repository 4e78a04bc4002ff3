from itflow_api.lib.core.crud import Read
from itflow_api.lib.modules.contacts import MODULE

endpoint = Read(MODULE)
