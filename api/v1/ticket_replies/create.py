from itflow_api.lib.modules.ticket_replies import MODULE, AddReply

endpoint = AddReply(MODULE)
