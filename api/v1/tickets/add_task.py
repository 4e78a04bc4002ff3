from itflow_api.lib.modules.tickets import MODULE, AddTask

endpoint = AddTask(MODULE)
