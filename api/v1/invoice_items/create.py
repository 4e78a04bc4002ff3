from itflow_api.lib.modules.invoice_items import MODULE, AddItem

endpoint = AddItem(MODULE)
