from itflow_api.lib.core.crud import Read
from itflow_api.lib.modules.recurring_invoices import MODULE

endpoint = Read(MODULE)
