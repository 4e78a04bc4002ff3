from itflow_api.lib.core.crud import Update
from itflow_api.lib.modules.locations import MODULE

endpoint = Update(MODULE)
