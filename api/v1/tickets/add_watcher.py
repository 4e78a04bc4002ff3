from itflow_api.lib.modules.tickets import MODULE, AddWatcher

endpoint = AddWatcher(MODULE)
