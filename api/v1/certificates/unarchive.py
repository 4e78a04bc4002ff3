from itflow_api.lib.core.crud import Unarchive
from itflow_api.lib.modules.certificates import MODULE

endpoint = Unarchive(MODULE)
