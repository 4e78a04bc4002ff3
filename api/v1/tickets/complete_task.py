from itflow_api.lib.modules.tickets import MODULE, CompleteTask

endpoint = CompleteTask(MODULE)
