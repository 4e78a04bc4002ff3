"""POST webhooks/update.php: change a subscription's url, filters, or switch it on or off.
Switching a disabled one on clears its failures; it goes on from where it stopped."""
from typing import Any

from itflow_api.lib.core import envelope
from itflow_api.lib.core.endpoint import Call, function_endpoint
from itflow_api.lib.core.envelope import Refused
from itflow_api.lib.events import webhooks

from ._common import owned, raw


@function_endpoint(method="POST", summary="Change a webhook subscription",
                   parameters="`webhook_id`; any of `url`, `modules`, `actions`, `client_id`, `enabled` (1/0)")
def endpoint(call: Call) -> envelope.Body:
    row = owned(call)
    db = call.db
    values: dict[str, Any] = {}
    if raw(call, "url") is not None:
        values["webhook_url"] = webhooks.checked_url(db, raw(call, "url"))
    if raw(call, "modules") is not None:
        values["webhook_modules"] = webhooks.names(raw(call, "modules"), webhooks.MODULES, "modules")
    if raw(call, "actions") is not None:
        values["webhook_actions"] = webhooks.names(raw(call, "actions"), webhooks.ACTIONS, "actions")
    if raw(call, "client_id") is not None:
        values["webhook_client_id"] = webhooks.client_filter(raw(call, "client_id"), call.key)
    enabled = raw(call, "enabled")
    if enabled is not None:
        text = str(enabled).strip().lower()
        if text not in ("1", "0", "true", "false", "yes", "no"):
            raise Refused("enabled must be 1 or 0")
        on = text in ("1", "true", "yes")
        if on and row["webhook_enabled"] != "1":
            values.update(webhook_enabled=1, webhook_failures=0, webhook_next_at=0, webhook_disabled_reason="")
        elif not on and row["webhook_enabled"] == "1":
            values.update(webhook_enabled=0, webhook_disabled_reason="switched off through the API")
    if not values:
        raise Refused("nothing to change: send url, modules, actions, client_id or enabled")
    return envelope.changed(webhooks.update(db, int(row["webhook_id"]), values))
