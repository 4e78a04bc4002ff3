from itflow_api.lib.crud import Read
from itflow_api.lib.modules.networks import MODULE

endpoint = Read(MODULE)
