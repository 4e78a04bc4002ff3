"""The webhooks/*.php endpoints: subscriptions through the API. Each api/v1/webhooks/<name>.py
file names one of these; the rules they apply live in webhooks.py (storage, URLs, filters)
and delivery.py (sending)."""
from __future__ import annotations

from typing import Any

from ..core import envelope
from ..core.endpoint import Call, function_endpoint
from ..core.envelope import Refused
from . import delivery, feed, webhooks

NOT_INSTALLED = ("Events are not installed in this database: run `itflow-api init-db --events` "
                 "to add the change feed and webhooks.")


def _require_installed(call: Call) -> None:
    if not webhooks.installed(call.db) or not feed.installed(call.db):
        raise Refused(NOT_INSTALLED)


def _raw(call: Call, name: str) -> Any:
    """The value as sent (a JSON list stays a list)."""
    return call.params.values.get(name)


def _whole(call: Call, name: str, required: bool = False) -> int | None:
    value = _raw(call, name)
    if value in (None, ""):
        if required:
            raise Refused(f"{name} is required")
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise Refused(f"{name} must be a whole number") from None
    if number < 0:
        raise Refused(f"{name} must be 0 or more")
    return number


def _owned(call: Call) -> dict[str, Any]:
    """The caller's subscription named by webhook_id (NotFound for another key's)."""
    _require_installed(call)
    return webhooks.owned(call.db, call.key, _whole(call, "webhook_id", required=True))


@function_endpoint(method="POST", summary="Subscribe a URL to events (answers the signing secret once)",
                   parameters="`url` (http/https, public unless allowed), `modules`, `actions` (lists or "
                              "comma lists; empty: all), `client_id` (0: every client the key sees)")
def create(call: Call) -> envelope.Body:
    _require_installed(call)
    db = call.db
    url = webhooks.checked_url(db, _raw(call, "url"))
    modules = webhooks.names(_raw(call, "modules"), webhooks.MODULES, "modules")
    actions = webhooks.names(_raw(call, "actions"), webhooks.ACTIONS, "actions")
    client_id = webhooks.client_filter(_raw(call, "client_id"), call.key)
    start = int(feed.sequence(db) or 0)  # events from now on
    webhook_id, secret = webhooks.create(db, call.key, url, modules, actions, client_id, start)
    body = envelope.created(webhook_id)
    body["data"][0]["webhook_secret"] = secret
    return body


@function_endpoint(method="GET", summary="This key's webhook subscriptions",
                   parameters="`webhook_id` (optional: one subscription); `limit`, `offset`")
def read(call: Call) -> envelope.Body:
    _require_installed(call)
    rows = webhooks.read(call.db, call.key, _whole(call, "webhook_id"))
    limit, offset = call.paging()
    return envelope.read_ok(rows[offset:offset + limit])


_SWITCH = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


@function_endpoint(method="POST", summary="Change a webhook subscription",
                   parameters="`webhook_id`; any of `url`, `modules`, `actions`, `client_id`, `enabled` (1/0)")
def update(call: Call) -> envelope.Body:
    """Switching a disabled subscription on clears its failures; it goes on from where it stopped."""
    row = _owned(call)
    db = call.db
    values: dict[str, Any] = {}
    if _raw(call, "url") is not None:
        values["webhook_url"] = webhooks.checked_url(db, _raw(call, "url"))
    if _raw(call, "modules") is not None:
        values["webhook_modules"] = webhooks.names(_raw(call, "modules"), webhooks.MODULES, "modules")
    if _raw(call, "actions") is not None:
        values["webhook_actions"] = webhooks.names(_raw(call, "actions"), webhooks.ACTIONS, "actions")
    if _raw(call, "client_id") is not None:
        values["webhook_client_id"] = webhooks.client_filter(_raw(call, "client_id"), call.key)
    enabled = _raw(call, "enabled")
    if enabled is not None:
        on = _SWITCH.get(str(enabled).strip().lower())
        if on is None:
            raise Refused("enabled must be 1 or 0")
        if on and row["webhook_enabled"] != "1":
            values.update(webhook_enabled=1, webhook_failures=0, webhook_next_at=0, webhook_disabled_reason="")
        elif not on and row["webhook_enabled"] == "1":
            values.update(webhook_enabled=0, webhook_disabled_reason="switched off through the API")
    if not values:
        raise Refused("nothing to change: send url, modules, actions, client_id or enabled")
    return envelope.changed(webhooks.update(db, int(row["webhook_id"]), values))


@function_endpoint(method="POST", summary="Delete a webhook subscription", parameters="`webhook_id`")
def delete(call: Call) -> envelope.Body:
    """Its delivery log goes with it."""
    row = _owned(call)
    return envelope.changed(webhooks.delete(call.db, int(row["webhook_id"])))


# writes=False: the request is sent outside a write transaction (a slow receiver must not hold
# the database's write lock); the delivery log row is a small transaction of its own.
@function_endpoint(method="POST", writes=False, summary="Send a signed test event to a webhook now",
                   parameters="`webhook_id`; answers the receiver's status, time and the start of its answer")
def test(call: Call) -> envelope.Body:
    row = _owned(call)
    outcome = delivery.send_test(call.db, webhooks.settings_for(call.db), row)
    if not outcome.ok:
        said = f"HTTP {outcome.status}" if outcome.status is not None else "no answer"
        return envelope.failure(f"The test event was not delivered ({said}): {outcome.error}")
    return envelope.read_ok([{"webhook_id": int(row["webhook_id"]), "status": outcome.status,
                              "duration_ms": outcome.duration_ms, "response": outcome.excerpt,
                              "error": outcome.error}])


@function_endpoint(method="GET", summary="A webhook's delivery log (newest first)",
                   parameters="`webhook_id`; `event_id` (optional); `limit`, `offset`")
def deliveries(call: Call) -> envelope.Body:
    row = _owned(call)
    limit, offset = call.paging()
    return envelope.read_ok(webhooks.deliveries(call.db, int(row["webhook_id"]), limit, offset,
                                                _whole(call, "event_id")))


@function_endpoint(method="POST", summary="Send one event again, or every event after a cursor",
                   parameters="`webhook_id`; `event_id` (one event) or `after` (a cursor: every event after it)")
def replay(call: Call) -> envelope.Body:
    """Replayed messages carry the same webhook-id as the first time."""
    row = _owned(call)
    db, webhook_id, cursor = call.db, int(row["webhook_id"]), int(row["webhook_event_seq"])
    event_id, after = _whole(call, "event_id"), _whole(call, "after")
    if (event_id is None) == (after is None):
        raise Refused("send either event_id (one event) or after (every event after this cursor)")
    oldest = feed.oldest_seq(db)
    if event_id is not None:
        return envelope.changed(webhooks.update(db, webhook_id, _replay_one(row, event_id, cursor, oldest)))
    assert after is not None
    if after > cursor:
        raise Refused(f"after must be at most {cursor}, the cursor this webhook is delivered up to")
    if after + 1 < int(oldest if oldest is not None else cursor + 1):
        raise Refused(f"events after {after} are no longer all kept: the oldest is {oldest} "
                      f"(replay from after={int(oldest or 1) - 1})")
    return envelope.changed(webhooks.update(db, webhook_id, {"webhook_event_seq": after}))


def _replay_one(row: dict[str, Any], event_id: int, cursor: int, oldest: int | None) -> dict[str, Any]:
    if event_id < 1 or event_id > cursor:
        raise Refused(f"event {event_id} has not been delivered to this webhook yet (it is delivered up to "
                      f"{cursor}); it will be sent in its turn")
    if oldest is None or event_id < int(oldest):
        raise Refused(f"event {event_id} is no longer kept (the oldest is {oldest})")
    if row["webhook_replay_seq"] is not None:
        raise Refused(f"a replay of event {row['webhook_replay_seq']} is still waiting to be sent")
    return {"webhook_replay_seq": event_id}
