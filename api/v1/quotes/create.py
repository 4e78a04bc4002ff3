from itflow_api.lib.modules.quotes import MODULE, CreateQuote

endpoint = CreateQuote(MODULE)
