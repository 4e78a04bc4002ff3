from itflow_api.lib.modules.expenses import MODULE, ExpenseUpdate

endpoint = ExpenseUpdate(MODULE)
