from itflow_api.lib.core.crud import Create
from itflow_api.lib.modules.document_folders import MODULE

endpoint = Create(MODULE)
