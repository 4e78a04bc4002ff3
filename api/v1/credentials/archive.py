from itflow_api.lib.crud import Archive
from itflow_api.lib.modules.credentials import MODULE

endpoint = Archive(MODULE)
