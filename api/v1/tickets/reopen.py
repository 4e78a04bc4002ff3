from itflow_api.lib.modules.tickets import MODULE, Reopen

endpoint = Reopen(MODULE)
