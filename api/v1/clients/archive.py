from itflow_api.lib.core.crud import Archive
from itflow_api.lib.modules.clients import MODULE

endpoint = Archive(MODULE)
