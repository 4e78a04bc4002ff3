from itflow_api.lib.crud import Archive
from itflow_api.lib.modules.software import MODULE

endpoint = Archive(MODULE)
