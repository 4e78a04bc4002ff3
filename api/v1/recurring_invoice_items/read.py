from itflow_api.lib.core.crud import Read
from itflow_api.lib.modules.recurring_invoices import ITEMS_MODULE

endpoint = Read(ITEMS_MODULE)
