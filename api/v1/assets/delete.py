from itflow_api.lib.crud import Delete
from itflow_api.lib.modules.assets import MODULE

endpoint = Delete(MODULE)
