from itflow_api.lib.core.crud import Delete
from itflow_api.lib.modules.locations import MODULE

endpoint = Delete(MODULE)
