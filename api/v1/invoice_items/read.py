from itflow_api.lib.core.crud import Read
from itflow_api.lib.modules.invoice_items import MODULE

endpoint = Read(MODULE)
