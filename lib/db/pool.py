"""Idle driver connections, kept for the next statement."""
from __future__ import annotations

import collections
import contextlib
import os
import weakref
from typing import Any

from .drivers import Connect


class Pool:
    """Idle connections, newest first. Never waits: when none is idle a new one is opened
    (the server's threads bound how many are in use); at most `size` are kept idle."""

    def __init__(self, connect: Connect, size: int) -> None:
        self.connect = connect
        self.size = size
        self._idle: collections.deque = collections.deque()  # append/pop are atomic: no lock needed
        this = weakref.ref(self)

        def after_fork() -> None:
            pool = this()
            if pool is not None:
                pool._forget()
        os.register_at_fork(after_in_child=after_fork)

    def get(self) -> Any:
        try:
            return self._idle.pop()
        except IndexError:
            return self.connect()

    def put(self, conn: Any) -> None:
        if len(self._idle) < self.size:
            self._idle.append(conn)
        else:
            close_quietly(conn)

    def drop_idle(self) -> None:
        while True:
            try:
                close_quietly(self._idle.pop())
            except IndexError:
                return

    def _forget(self) -> None:
        # A forked child must not talk on its parent's sockets: it opens its own.
        self._idle = collections.deque()


def close_quietly(conn: Any) -> None:
    with contextlib.suppress(Exception):
        conn.close()
