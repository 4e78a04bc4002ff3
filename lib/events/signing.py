"""Webhook messages signed as the Standard Webhooks specification says
(https://www.standardwebhooks.com), with its reference package `standardwebhooks`.

Each message carries three headers: webhook-id (stable for one event sent to one
subscription, so a receiver can drop a repeat), webhook-timestamp (seconds since the epoch)
and webhook-signature ("v1," + base64 HMAC-SHA256 over "id.timestamp.body" under the
subscription's secret). The body is {"type": "<module>.<action>", "timestamp": ISO 8601,
"data": {the event's fields}}.

A secret is "whsec_" + base64 of 24 random bytes; it is shown once, when the subscription
is created, and stored encrypted (lib/events/webhooks.py).
"""
from __future__ import annotations

import base64
import json
import os
import secrets
from datetime import datetime, timezone
from typing import Any

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode("ascii")


def message_id(webhook_id: int, event_id: int) -> str:
    """The same for every attempt (and replay) of one event to one subscription."""
    return f"msg_{webhook_id}_{event_id}"


def test_message_id() -> str:
    return f"msg_test_{secrets.token_hex(8)}"


def event_payload(event: dict[str, Any]) -> dict[str, Any]:
    """The body for an event row of lib/events/feed.events_after()."""
    return {
        "type": f"{event['event_module']}.{event['event_action']}",
        "timestamp": _iso(event.get("event_at")),
        "data": {
            "event_id": int(event["event_id"]),
            "module": event["event_module"],
            "action": event["event_action"],
            "record_id": int(event["event_record_id"] or 0),
            "client_id": int(event["event_client_id"] or 0),
            "at": event.get("event_at"),
        },
    }


def test_payload(webhook_id: int) -> dict[str, Any]:
    return {"type": "webhooks.test", "timestamp": _iso(None),
            "data": {"event_id": 0, "module": "webhooks", "action": "test", "record_id": int(webhook_id),
                     "client_id": 0, "at": datetime.now().strftime("%Y-%m-%d %H:%M:%S")}}


def _iso(at: str | None) -> str:
    """The event's time as ISO 8601. Stored times are the database's local time (ITFlow's
    convention); they are sent as written, with the zone of this server."""
    if at:
        try:
            return datetime.strptime(at, "%Y-%m-%d %H:%M:%S").astimezone().isoformat()
        except ValueError:
            pass
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=False).encode("utf-8")


def headers(secret: str, msg_id: str, body: bytes, now: datetime | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for `body`, signed now."""
    now = now or datetime.now(timezone.utc)
    signature = Webhook(secret).sign(msg_id, now, body.decode("utf-8"))
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature}
