from itflow_api.lib.core.crud import Create
from itflow_api.lib.modules.clients import MODULE

endpoint = Create(MODULE)
