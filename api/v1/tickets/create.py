from itflow_api.lib.crud import Create
from itflow_api.lib.modules.tickets import MODULE

endpoint = Create(MODULE)
