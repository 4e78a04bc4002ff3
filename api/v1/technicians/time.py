from itflow_api.lib.core.endpoint import function_endpoint
from itflow_api.lib.modules.technicians import time_report

endpoint = function_endpoint(
    method="GET", summary="Time worked per technician and ticket",
    parameters="`year` (default this year), `month` (1-12), `technician_id`; rows per ticket and technician; "
               "archived replies count, as in ITFlow; `include_archived=0` leaves them out",
)(time_report)
