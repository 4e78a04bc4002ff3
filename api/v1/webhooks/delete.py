"""POST webhooks/delete.php: end a subscription (its delivery log goes with it)."""
from itflow_api.lib.core import envelope
from itflow_api.lib.core.endpoint import Call, function_endpoint
from itflow_api.lib.events import webhooks

from ._common import owned


@function_endpoint(method="POST", summary="Delete a webhook subscription", parameters="`webhook_id`")
def endpoint(call: Call) -> envelope.Body:
    row = owned(call)
    return envelope.changed(webhooks.delete(call.db, int(row["webhook_id"])))
