from itflow_api.lib.modules.tickets import MODULE, Assign

endpoint = Assign(MODULE)
