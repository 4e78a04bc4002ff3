"""GET /api/v1/health: for monitors and load balancers, no key needed.

200 {"status": "ok", "database": "ok", ...} while the database answers a trivial query,
503 with Retry-After when it does not. One round trip on a pooled connection, so a monitor
can ask every few seconds.
"""
import json
import time

import falcon

from ..db.errors import DatabaseError


class HealthResource:
    def __init__(self, service):
        self.service = service

    def on_get(self, req, resp):
        started = time.perf_counter()
        try:
            with self.service.db.transaction():
                self.service.db.scalar("SELECT 1 AS ok")
            database, status = "ok", 200
        except (DatabaseError, Exception) as exc:  # whatever the driver raised: unreachable
            database, status = f"unreachable ({type(exc).__name__})", 503
        body = {"status": "ok" if status == 200 else "unavailable", "database": database,
                "database_ms": round((time.perf_counter() - started) * 1000, 1)}
        body.update(self.service.itflow.health())
        resp.status = falcon.code_to_http_status(status)
        resp.content_type = "application/json"
        if status != 200:
            resp.set_header("Retry-After", "5")
        resp.data = json.dumps(body, separators=(",", ":")).encode("ascii")

    def on_head(self, req, resp):
        self.on_get(req, resp)
        resp.data = b""
