from itflow_api.lib.modules.invoices import MODULE, MarkSent

endpoint = MarkSent(MODULE)
