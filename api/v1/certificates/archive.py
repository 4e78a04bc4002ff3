from itflow_api.lib.crud import Archive
from itflow_api.lib.modules.certificates import MODULE

endpoint = Archive(MODULE)
