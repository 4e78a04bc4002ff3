from itflow_api.lib.core.crud import Archive
from itflow_api.lib.modules.software import MODULE

endpoint = Archive(MODULE)
