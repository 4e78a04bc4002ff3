from itflow_api.lib.crud import Create
from itflow_api.lib.modules.vendors import MODULE

endpoint = Create(MODULE)
