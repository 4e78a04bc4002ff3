from itflow_api.lib.modules.time_entries import MODULE, TimeEntryDelete

endpoint = TimeEntryDelete(MODULE)
