from itflow_api.lib.modules.tickets import MODULE, RemoveWatcher

endpoint = RemoveWatcher(MODULE)
