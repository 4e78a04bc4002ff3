from itflow_api.lib.modules.quotes import MODULE, UpdateQuote

endpoint = UpdateQuote(MODULE)
