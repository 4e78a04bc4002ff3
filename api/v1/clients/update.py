from itflow_api.lib.crud import Update
from itflow_api.lib.modules.clients import MODULE

endpoint = Update(MODULE)
