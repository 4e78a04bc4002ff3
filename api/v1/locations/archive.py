from itflow_api.lib.core.crud import Archive
from itflow_api.lib.modules.locations import MODULE

endpoint = Archive(MODULE)
