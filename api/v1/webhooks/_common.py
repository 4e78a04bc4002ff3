"""What the webhooks endpoints share: reading their fields and the change feed's functions."""
from __future__ import annotations

import importlib
from typing import Any

from itflow_api.lib.core.endpoint import Call
from itflow_api.lib.core.envelope import Refused
from itflow_api.lib.events import webhooks

NOT_INSTALLED = ("Events are not installed in this database: run `itflow-api init-db --events` "
                 "to add the change feed and webhooks.")


def feed() -> Any:
    return importlib.import_module("itflow_api.lib.events.feed")


def require_installed(call: Call) -> None:
    if not webhooks.installed(call.db) or not feed().installed(call.db):
        raise Refused(NOT_INSTALLED)


def raw(call: Call, name: str) -> Any:
    """The value as sent (a JSON list stays a list)."""
    return call.params.values.get(name)


def whole(call: Call, name: str, required: bool = False) -> int | None:
    value = raw(call, name)
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


def owned(call: Call) -> dict[str, Any]:
    """The caller's subscription named by webhook_id (NotFound for another key's)."""
    require_installed(call)
    return webhooks.owned(call.db, call.key, whole(call, "webhook_id", required=True))
