from itflow_api.lib.modules.expenses import MODULE, ExpenseCreate

endpoint = ExpenseCreate(MODULE)
