from itflow_api.lib.crud import Create
from itflow_api.lib.modules.assets import MODULE

endpoint = Create(MODULE)
