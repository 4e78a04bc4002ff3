from itflow_api.lib.core.crud import Read
from itflow_api.lib.modules.tags import MODULE

endpoint = Read(MODULE)
