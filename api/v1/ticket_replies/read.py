from itflow_api.lib.modules.ticket_replies import MODULE, ReplyRead

endpoint = ReplyRead(MODULE)
