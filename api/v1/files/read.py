from itflow_api.lib.modules.files import MODULE, FileRead

endpoint = FileRead(MODULE)
