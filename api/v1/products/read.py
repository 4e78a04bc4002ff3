from itflow_api.lib.core.crud import Read
from itflow_api.lib.modules.finance import PRODUCTS

endpoint = Read(PRODUCTS)
