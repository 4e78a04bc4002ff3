from itflow_api.lib.modules.payments import MODULE, DeletePayment

endpoint = DeletePayment(MODULE)
