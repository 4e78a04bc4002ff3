from itflow_api.lib.core.crud import Read
from itflow_api.lib.modules.document_folders import MODULE

endpoint = Read(MODULE)
