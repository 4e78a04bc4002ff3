from itflow_api.lib.crud import Create
from itflow_api.lib.modules.networks import MODULE

endpoint = Create(MODULE)
