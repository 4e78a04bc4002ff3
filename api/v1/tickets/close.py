from itflow_api.lib.modules.tickets import MODULE, Close

endpoint = Close(MODULE)
