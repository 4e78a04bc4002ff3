from itflow_api.lib.core.crud import Archive
from itflow_api.lib.modules.credentials import MODULE

endpoint = Archive(MODULE)
