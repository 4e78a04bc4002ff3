from itflow_api.lib.core.crud import Delete
from itflow_api.lib.modules.recurring_tickets import MODULE

endpoint = Delete(MODULE)
