from itflow_api.lib.core.crud import Delete
from itflow_api.lib.modules.certificates import MODULE

endpoint = Delete(MODULE)
