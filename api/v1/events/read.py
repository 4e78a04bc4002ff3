from itflow_api.lib.core.endpoint import function_endpoint
from itflow_api.lib.events.feed import read_feed

endpoint = function_endpoint(
    method="GET", summary="Change feed: every committed change to the served tables, after a cursor",
    parameters="`after` (cursor, default 0), `limit` (default 50), `module`, `action` (comma-separated), "
               "`client_id`; rows `event_id` (the cursor), `event_module`, `event_action`, "
               "`event_record_id`, `event_client_id`, `event_at`",
)(read_feed)
