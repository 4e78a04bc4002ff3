from itflow_api.lib.crud import Unarchive
from itflow_api.lib.modules.certificates import MODULE

endpoint = Unarchive(MODULE)
