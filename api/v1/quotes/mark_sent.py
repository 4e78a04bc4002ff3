from itflow_api.lib.modules.quotes import MODULE, MarkQuoteSent

endpoint = MarkQuoteSent(MODULE)
