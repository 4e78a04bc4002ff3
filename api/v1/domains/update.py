from itflow_api.lib.crud import Update
from itflow_api.lib.modules.domains import MODULE

endpoint = Update(MODULE)
