from itflow_api.lib.modules.recurring_invoices import ITEMS_MODULE, AddItem

endpoint = AddItem(ITEMS_MODULE)
