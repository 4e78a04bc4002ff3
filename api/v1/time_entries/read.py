from itflow_api.lib.modules.time_entries import MODULE, TimeEntryRead

endpoint = TimeEntryRead(MODULE)
