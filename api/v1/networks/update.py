from itflow_api.lib.crud import Update
from itflow_api.lib.modules.networks import MODULE

endpoint = Update(MODULE)
