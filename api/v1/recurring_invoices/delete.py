from itflow_api.lib.core.crud import Delete
from itflow_api.lib.modules.recurring_invoices import MODULE

endpoint = Delete(MODULE)
