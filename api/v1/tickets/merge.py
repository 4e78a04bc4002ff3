from itflow_api.lib.modules.tickets import MODULE, Merge

endpoint = Merge(MODULE)
