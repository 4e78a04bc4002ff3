from itflow_api.lib.modules.recurring_invoices import ITEMS_MODULE, DeleteItem

endpoint = DeleteItem(ITEMS_MODULE)
