from itflow_api.lib.core.crud import Archive
from itflow_api.lib.modules.documents import MODULE

endpoint = Archive(MODULE)
