from itflow_api.lib.core.crud import Create
from itflow_api.lib.modules.recurring_invoices import MODULE

endpoint = Create(MODULE)
