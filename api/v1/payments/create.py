from itflow_api.lib.modules.payments import MODULE, AddPayment

endpoint = AddPayment(MODULE)
