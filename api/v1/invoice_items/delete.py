from itflow_api.lib.modules.invoice_items import MODULE, RemoveItem

endpoint = RemoveItem(MODULE)
