from itflow_api.lib.crud import Update
from itflow_api.lib.modules.tickets import MODULE

endpoint = Update(MODULE)
