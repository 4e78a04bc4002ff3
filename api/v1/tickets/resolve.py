from itflow_api.lib.modules.tickets import MODULE, Resolve

endpoint = Resolve(MODULE)
