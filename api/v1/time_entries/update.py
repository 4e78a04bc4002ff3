from itflow_api.lib.modules.time_entries import MODULE, TimeEntryUpdate

endpoint = TimeEntryUpdate(MODULE)
