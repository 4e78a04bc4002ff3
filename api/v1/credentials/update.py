from itflow_api.lib.crud import Update
from itflow_api.lib.modules.credentials import MODULE

endpoint = Update(MODULE)
