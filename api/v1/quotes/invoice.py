from itflow_api.lib.modules.quotes import MODULE, ToInvoice

endpoint = ToInvoice(MODULE)
