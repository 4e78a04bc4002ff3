from itflow_api.lib.core.crud import Create
from itflow_api.lib.modules.documents import MODULE

endpoint = Create(MODULE)
