from itflow_api.lib.crud import Delete
from itflow_api.lib.modules.certificates import MODULE

endpoint = Delete(MODULE)
