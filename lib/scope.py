"""Client scope (api-v1.md section 3), decided once per request and applied to every query.

| key           | reads                                   | writes                           |
| all clients   | every client; client_id narrows         | client_id from the request, or 0 |
| client N      | only client N; client_id is ignored     | always client N                  |

A record outside the scope must look exactly like one that does not exist, so endpoints
only ever add `filter()` to their WHERE clause and never check ownership after the fact.
"""
from .fields import parse_int


class Scope:
    def __init__(self, key, params):
        self.key = key
        if key.all_clients:
            requested = params.values.get("client_id")
            self.requested_client = None if requested in (None, "") else parse_int("client_id", requested)
        else:
            self.requested_client = key.client_id

    @property
    def read_client(self):
        """The one client reads are limited to, or None for all."""
        return self.requested_client

    @property
    def write_client(self):
        """The client a write goes to: the key's own, or the request's (0 when absent)."""
        return self.requested_client or 0

    def filter(self, column):
        """(SQL condition, bind params) limiting `column` to the read scope; ("", {}) for all."""
        if self.read_client is None:
            return "", {}
        return f"{column} = :scope_client", {"scope_client": self.read_client}
