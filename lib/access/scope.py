"""Client scope, decided once per request and applied to every query (docs/contract.md sections 3 and 8).

Keys scoped per client (ITFlow <= 2.4.6):

| key           | reads                                   | writes                           |
| all clients   | every client; client_id narrows         | client_id from the request, or 0 |
| client N      | only client N; client_id is ignored     | always client N                  |

Keys acting as a user (ITFlow 2.4.7+): reads see the user's allowed clients plus client 0
and never a denied one (admins and users without lists see all); writes must target a
client the user may reach, else 403.

A record outside the scope must look exactly like one that does not exist, so endpoints
only ever add `filter()` to their WHERE clause and never check ownership after the fact.
"""
from ..core.envelope import Forbidden
from ..core.values import parse_int
from .permissions import NO_CLIENT_ACCESS


def _requested_client(params):
    requested = params.values.get("client_id")
    if requested in (None, ""):
        requested = params.query.get("client_id")
    return None if requested in (None, "") else parse_int("client_id", requested)


class _Scope:
    def restrict(self, column, where, params):
        """Add the scope condition on `column` to a WHERE list and its binds to `params`."""
        condition, binds = self.filter(column)
        if condition:
            where.append(condition)
            params.update(binds)

    def restrict_write(self, column, where, params):
        """As restrict(), for finding the record a write will change; check_write() then
        judges the client of what was found."""
        self.restrict(column, where, params)


class ClientKeyScope(_Scope):
    def __init__(self, key, params):
        self.key = key
        self.requested_client = _requested_client(params) if key.all_clients else key.client_id

    @property
    def read_client(self):
        """The one client reads are limited to, or None for all."""
        return self.requested_client

    @property
    def write_client(self):
        """The client a write goes to: the key's own, or the request's (0 when absent)."""
        return self.requested_client or 0

    def filter(self, column):
        """(SQL condition, bind params) limiting `column` to the scope; ("", {}) for all."""
        if self.read_client is None:
            return "", {}
        return f"{column} = :scope_client", {"scope_client": self.read_client}

    def check_write(self, client_id):
        """Writes to an existing record: the filter already proved it is in scope."""


class UserKeyScope(_Scope):
    def __init__(self, key, params, access):
        self.key = key
        self.access = access
        self.requested_client = _requested_client(params)

    @property
    def write_client(self):
        client_id = self.requested_client or 0
        self.check_write(client_id)
        return client_id

    def filter(self, column):
        conditions, binds = [], {}
        if self.requested_client is not None:
            conditions.append(f"{column} = :scope_client")
            binds["scope_client"] = self.requested_client
        if not self.access.is_admin:
            if self.access.allowed:
                names = self._bind(binds, "scope_allow", sorted(self.access.allowed | {0}))
                conditions.append(f"{column} IN ({names})")
            if self.access.denied:
                names = self._bind(binds, "scope_deny", sorted(self.access.denied))
                conditions.append(f"{column} NOT IN ({names})")
        return " AND ".join(conditions), binds

    def check_write(self, client_id):
        if not self.access.may_write_to(int(client_id or 0)):
            raise Forbidden(NO_CLIENT_ACCESS)

    def restrict_write(self, column, where, params):
        """A write to an existing record of a client the user may not reach is the 403 of
        ITFlow's client gate (new: api/v1/enforce_api_rbac.php:153-159), not "no such record":
        a client named in the request is judged first, then the record is found within that
        client only (not the user's read lists) and check_write() judges its client. Ours
        applies it to every write, archive, unarchive, resolve and replies included (ITFlow
        gates only create/update/delete.php)."""
        if self.requested_client is not None:
            self.check_write(self.requested_client)
            where.append(f"{column} = :scope_client")
            params["scope_client"] = self.requested_client

    @staticmethod
    def _bind(binds, prefix, values):
        names = []
        for i, value in enumerate(values):
            binds[f"{prefix}_{i}"] = value
            names.append(f":{prefix}_{i}")
        return ", ".join(names)


def scope_for(key, params, access=None):
    return UserKeyScope(key, params, access) if access is not None else ClientKeyScope(key, params)
