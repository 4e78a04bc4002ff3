from itflow_api.lib.modules.tickets import MODULE, OrderTasks

endpoint = OrderTasks(MODULE)
