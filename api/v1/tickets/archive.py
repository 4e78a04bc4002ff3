from itflow_api.lib.crud import Archive
from itflow_api.lib.modules.tickets import MODULE

endpoint = Archive(MODULE)
