from itflow_api.lib.modules.recurring_invoices import ITEMS_MODULE, UpdateItem

endpoint = UpdateItem(ITEMS_MODULE)
