"""GET webhooks/deliveries.php: a subscription's delivery log, newest first."""
from itflow_api.lib.core import envelope
from itflow_api.lib.core.endpoint import Call, function_endpoint
from itflow_api.lib.events import webhooks

from ._common import owned, whole


@function_endpoint(method="GET", summary="A webhook's delivery log (newest first)",
                   parameters="`webhook_id`; `event_id` (optional); `limit`, `offset`")
def endpoint(call: Call) -> envelope.Body:
    row = owned(call)
    limit, offset = call.paging()
    return envelope.read_ok(webhooks.deliveries(call.db, int(row["webhook_id"]), limit, offset,
                                                whole(call, "event_id")))
