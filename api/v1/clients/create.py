from itflow_api.lib.modules.clients import MODULE, ClientCreate

endpoint = ClientCreate(MODULE)
