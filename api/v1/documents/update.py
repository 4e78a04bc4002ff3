from itflow_api.lib.core.crud import Update
from itflow_api.lib.modules.documents import MODULE

endpoint = Update(MODULE)
