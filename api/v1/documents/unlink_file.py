from itflow_api.lib.modules.documents import MODULE, FileLink

endpoint = FileLink(MODULE, link=False)
