from itflow_api.lib.modules.document_folders import MODULE, Rename

endpoint = Rename(MODULE)
