from itflow_api.lib.modules.invoices import MODULE, UpdateInvoice

endpoint = UpdateInvoice(MODULE)
