from itflow_api.lib.modules.invoices import MODULE, CreateInvoice

endpoint = CreateInvoice(MODULE)
