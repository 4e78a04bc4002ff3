from itflow_api.lib.modules.clients import MODULE, ClientUpdate

endpoint = ClientUpdate(MODULE)
