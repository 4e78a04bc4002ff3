from itflow_api.lib.modules.tickets import MODULE, UncompleteTask

endpoint = UncompleteTask(MODULE)
