from itflow_api.lib.core.crud import Create
from itflow_api.lib.modules.assets import MODULE

endpoint = Create(MODULE)
