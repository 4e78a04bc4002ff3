from itflow_api.lib.crud import Update
from itflow_api.lib.modules.assets import MODULE

endpoint = Update(MODULE)
