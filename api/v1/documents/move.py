from itflow_api.lib.modules.documents import MODULE, Move

endpoint = Move(MODULE)
