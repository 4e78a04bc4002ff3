"""POST webhooks/replay.php: send an event again (event_id), or everything after a cursor
(after). Replayed messages carry the same webhook-id as the first time."""
from itflow_api.lib.core import envelope
from itflow_api.lib.core.endpoint import Call, function_endpoint
from itflow_api.lib.core.envelope import Refused
from itflow_api.lib.events import webhooks

from ._common import feed, owned, whole


@function_endpoint(method="POST", summary="Send one event again, or every event after a cursor",
                   parameters="`webhook_id`; `event_id` (one event) or `after` (a cursor: every event after it)")
def endpoint(call: Call) -> envelope.Body:
    row = owned(call)
    db, webhook_id, cursor = call.db, int(row["webhook_id"]), int(row["webhook_event_seq"])
    event_id, after = whole(call, "event_id"), whole(call, "after")
    if (event_id is None) == (after is None):
        raise Refused("send either event_id (one event) or after (every event after this cursor)")
    oldest = feed().oldest_seq(db)
    if event_id is not None:
        if event_id < 1 or event_id > cursor:
            raise Refused(f"event {event_id} has not been delivered to this webhook yet (it is delivered up to "
                          f"{cursor}); it will be sent in its turn")
        if oldest is None or event_id < int(oldest):
            raise Refused(f"event {event_id} is no longer kept (the oldest is {oldest})")
        if row["webhook_replay_seq"] is not None:
            raise Refused(f"a replay of event {row['webhook_replay_seq']} is still waiting to be sent")
        return envelope.changed(webhooks.update(db, webhook_id, {"webhook_replay_seq": event_id}))
    assert after is not None
    if after > cursor:
        raise Refused(f"after must be at most {cursor}, the cursor this webhook is delivered up to")
    if after + 1 < int(oldest if oldest is not None else cursor + 1):
        raise Refused(f"events after {after} are no longer all kept: the oldest is {oldest} "
                      f"(replay from after={int(oldest or 1) - 1})")
    return envelope.changed(webhooks.update(db, webhook_id, {"webhook_event_seq": after}))
