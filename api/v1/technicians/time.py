from itflow_api.lib.endpoint import function_endpoint
from itflow_api.lib.modules.technicians import time_report

endpoint = function_endpoint(method="GET", summary="Time worked per technician and ticket")(time_report)
