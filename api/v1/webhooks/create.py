"""POST webhooks/create.php: subscribe a URL to this key's events. Answers the new id and,
this once only, the signing secret."""
from itflow_api.lib.core import envelope
from itflow_api.lib.core.endpoint import Call, function_endpoint
from itflow_api.lib.events import webhooks

from ._common import feed, raw, require_installed


@function_endpoint(method="POST", summary="Subscribe a URL to events (answers the signing secret once)",
                   parameters="`url` (http/https, public unless allowed), `modules`, `actions` (lists or "
                              "comma lists; empty: all), `client_id` (0: every client the key sees)")
def endpoint(call: Call) -> envelope.Body:
    require_installed(call)
    db = call.db
    url = webhooks.checked_url(db, raw(call, "url"))
    modules = webhooks.names(raw(call, "modules"), webhooks.MODULES, "modules")
    actions = webhooks.names(raw(call, "actions"), webhooks.ACTIONS, "actions")
    client_id = webhooks.client_filter(raw(call, "client_id"), call.key)
    start = int(feed().sequence(db) or 0)  # events from now on
    webhook_id, secret = webhooks.create(db, call.key, url, modules, actions, client_id, start)
    body = envelope.created(webhook_id)
    body["data"][0]["webhook_secret"] = secret
    return body
