from itflow_api.lib.modules.tickets import MODULE, TicketUpdate

endpoint = TicketUpdate(MODULE)
