from itflow_api.lib.core.crud import Update
from itflow_api.lib.modules.recurring_tickets import MODULE

endpoint = Update(MODULE)
