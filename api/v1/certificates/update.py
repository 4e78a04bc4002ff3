from itflow_api.lib.crud import Update
from itflow_api.lib.modules.certificates import MODULE

endpoint = Update(MODULE)
