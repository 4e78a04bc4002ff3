"""Running a write transaction again when it lost to a concurrent one.

On a single MariaDB a conflict is rare (a deadlock); on a Galera cluster, where every node
takes writes, it is routine: two hosts that change the same row (above all the ticket
counter in `settings`) through different nodes both run, and the one certified second fails,
at COMMIT or at any statement, with a deadlock error. The database layer raises WriteConflict
for it, after rolling the transaction back whole; so running the whole block again (the key
look-up and every read it decided on included) is safe, and cannot apply half a write or
hand out a ticket number twice. After `attempts` tries the caller hears 503 with Retry-After.
"""
import logging
import random
import time

from ..db.errors import WriteConflict
from .envelope import ApiError
from .messages import WRITE_CONFLICTS

log = logging.getLogger("itflow_api")

# Pauses are random up to 50 ms, doubling, at most 400 ms: long enough for the winner's
# write set to be applied on this node, short enough that three tries stay under half a second.
FIRST_PAUSE = 0.05
LONGEST_PAUSE = 0.4
RETRY_AFTER = 1  # seconds, for the caller that still lost



class Busy(ApiError):
    """Every attempt lost: 503 with the envelope and Retry-After."""

    status = 503

    def __init__(self, attempts):
        super().__init__(WRITE_CONFLICTS.format(attempts=attempts), headers={"Retry-After": str(RETRY_AFTER)})


def run(block, attempts):
    """`block()` is one whole transaction; call it until it returns, at most `attempts` times
    in all when it raises WriteConflict, then answer 503 (Busy). Other errors pass at once."""
    try:
        return again(block, attempts)
    except WriteConflict as exc:
        log.warning("write refused %d times by concurrent changes, answering 503: %s", attempts, exc)
        raise Busy(attempts) from exc


def again(block, attempts):
    """As run(), but the last WriteConflict itself reaches the caller (for work that is not
    a request of its own, such as a rate-limit counter)."""
    for attempt in range(1, attempts):
        try:
            return block()
        except WriteConflict:
            # Random, so that two losers do not collide again in step.
            time.sleep(random.uniform(0, min(LONGEST_PAUSE, FIRST_PAUSE * 2 ** (attempt - 1))))
    return block()
