from itflow_api.lib.crud import Delete
from itflow_api.lib.modules.tickets import MODULE

endpoint = Delete(MODULE)
