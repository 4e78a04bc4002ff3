from itflow_api.lib.modules.invoices import MODULE, Cancel

endpoint = Cancel(MODULE)
