from itflow_api.lib.modules.quotes import MODULE, Accept

endpoint = Accept(MODULE)
