from itflow_api.lib.modules.recurring_invoices import MODULE, Resume

endpoint = Resume(MODULE)
