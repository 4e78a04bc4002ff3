from itflow_api.lib.modules.recurring_invoices import MODULE, Pause

endpoint = Pause(MODULE)
