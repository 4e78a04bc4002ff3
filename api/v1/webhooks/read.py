"""GET webhooks/read.php: this key's subscriptions (one by webhook_id, or all); never the secret."""
from itflow_api.lib.core import envelope
from itflow_api.lib.core.endpoint import Call, function_endpoint
from itflow_api.lib.events import webhooks

from ._common import require_installed, whole


@function_endpoint(method="GET", summary="This key's webhook subscriptions",
                   parameters="`webhook_id` (optional: one subscription); `limit`, `offset`")
def endpoint(call: Call) -> envelope.Body:
    require_installed(call)
    rows = webhooks.read(call.db, call.key, whole(call, "webhook_id"))
    limit, offset = call.paging()
    return envelope.read_ok(rows[offset:offset + limit])
