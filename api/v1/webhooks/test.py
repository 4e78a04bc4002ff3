"""POST webhooks/test.php: send a signed webhooks.test event now and answer what the receiver said."""
from itflow_api.lib.core import envelope
from itflow_api.lib.core.endpoint import Call, function_endpoint
from itflow_api.lib.events import delivery, webhooks

from ._common import owned


# writes=False: the request is sent outside a write transaction (a slow receiver must not hold
# the database's write lock); the delivery log row is a small transaction of its own.
@function_endpoint(method="POST", writes=False, summary="Send a signed test event to a webhook now",
                   parameters="`webhook_id`; answers the receiver's status, time and the start of its answer")
def endpoint(call: Call) -> envelope.Body:
    row = owned(call)
    outcome = delivery.send_test(call.db, webhooks.settings_for(call.db), row)
    result = {"webhook_id": int(row["webhook_id"]), "status": outcome.status, "duration_ms": outcome.duration_ms,
              "response": outcome.excerpt, "error": outcome.error}
    if not outcome.ok:
        said = f"HTTP {outcome.status}" if outcome.status is not None else "no answer"
        return envelope.failure(f"The test event was not delivered ({said}): {outcome.error}")
    return envelope.read_ok([result])
