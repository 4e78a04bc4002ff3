from itflow_api.lib.core.crud import Update
from itflow_api.lib.modules.products import MODULE

endpoint = Update(MODULE)
