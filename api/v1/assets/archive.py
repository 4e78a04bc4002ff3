from itflow_api.lib.core.crud import Archive
from itflow_api.lib.modules.assets import MODULE

endpoint = Archive(MODULE)
