from itflow_api.lib.core.crud import Create
from itflow_api.lib.modules.recurring_tickets import MODULE

endpoint = Create(MODULE)
