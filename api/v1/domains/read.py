from itflow_api.lib.core.crud import Read
from itflow_api.lib.modules.domains import MODULE

endpoint = Read(MODULE)
