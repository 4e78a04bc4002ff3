from itflow_api.lib.crud import Archive
from itflow_api.lib.modules.assets import MODULE

endpoint = Archive(MODULE)
