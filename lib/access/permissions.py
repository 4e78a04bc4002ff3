"""Keys that act as a user (ITFlow 2.4.7+, api_keys.api_key_user_id): who the user is, what
their role may do per module, and which clients they may reach (docs/contract.md section 8)."""
from dataclasses import dataclass, field

from ..core.envelope import Forbidden
from ..core.messages import BAD_USER, NO_CLIENT_ACCESS, NO_PERMISSION, NOT_TIED, UNMAPPED  # noqa: F401 (re-exported)

# Which ITFlow permission module guards each API module.
PERMISSION_MODULE = {
    **dict.fromkeys(("assets", "certificates", "documents", "document_folders", "domains", "files", "networks", "software",
                     "tickets", "ticket_replies", "technicians", "time_entries", "recurring_tickets"), "module_support"),
    **dict.fromkeys(("clients", "contacts", "locations", "tags", "vendors"), "module_client"),
    **dict.fromkeys(("invoices", "invoice_items", "quotes", "products", "recurring_invoices", "recurring_invoice_items"),
                   "module_sales"),
    **dict.fromkeys(("expenses", "payments"), "module_financial"),
    "credentials": "module_credential",
}
# API modules whose ITFlow page checks a second permission module at the same level: the
# payment page asks for module_sales and module_financial (agent/post/payment.php).
ALSO_REQUIRED = {"payments": ("module_sales",)}
# API modules every user key may call whatever its role: what each key sees there is filtered
# by its own role and clients (lib/events/feed.py visibility), not refused as a whole.
FILTERED_PER_KEY = frozenset({"events"})
# API modules whose records belong to the key itself (webhook subscriptions: a key sees and
# changes only its own, and what they deliver is filtered by the key's own visibility), so
# every user key may use all of their functions.
OWNED_BY_KEY = frozenset({"webhooks"})
READ, MODIFY, FULL = 1, 2, 3
AGENT = 1


def required_level(method, function):
    """ITFlow's rule (enforce_api_rbac.php, 2.4.7 to 26.08): by the endpoint's file name, read
    needs 1, delete 3, and everything else 2 (create, update, archive, resolve, and also
    technicians/time, a GET). `method` is not what decides."""
    if function == "read":
        return READ
    return FULL if function == "delete" else MODIFY


@dataclass
class UserAccess:
    user_id: int
    role_id: int
    is_admin: bool
    allowed: set = field(default_factory=set)
    denied: set = field(default_factory=set)

    @property
    def unrestricted(self):
        return self.is_admin or (not self.allowed and not self.denied)

    def may_write_to(self, client_id):
        if self.is_admin:
            return True
        if client_id in self.denied:
            return False
        return not self.allowed or client_id in self.allowed


def load_access(db, key):
    """The UserAccess behind a user key, or Forbidden with ITFlow's message."""
    if not key.user_id:
        raise Forbidden(NOT_TIED)
    user = db.row(
        "SELECT user_id, user_type, user_status, user_archived_at, user_role_id, role_is_admin "
        "FROM users LEFT JOIN user_roles ON role_id = user_role_id WHERE user_id = :user",
        {"user": key.user_id})
    if user is None or user["user_type"] != str(AGENT) or user["user_status"] != "1" or user["user_archived_at"]:
        raise Forbidden(BAD_USER)
    access = UserAccess(key.user_id, int(user["user_role_id"] or 0), user["role_is_admin"] == "1")
    for row in db.rows("SELECT client_id, permission_type FROM user_client_permissions WHERE user_id = :user",
                       {"user": key.user_id}):
        (access.allowed if row["permission_type"] == "allow" else access.denied).add(int(row["client_id"]))
    return access


def authorize(db, access, api_module, level):
    """Forbidden unless the user's role reaches `level` on the API module's permission module."""
    if access.is_admin or (api_module in FILTERED_PER_KEY and level == READ) or api_module in OWNED_BY_KEY:
        return
    permission_module = PERMISSION_MODULE.get(api_module)
    if permission_module is None:
        raise Forbidden(UNMAPPED)
    for needed in (permission_module, *ALSO_REQUIRED.get(api_module, ())):
        granted = db.scalar(
            "SELECT MAX(user_role_permission_level) AS level FROM user_role_permissions "
            "JOIN modules ON modules.module_id = user_role_permissions.module_id "
            "WHERE user_role_id = :role AND module_name = :module",
            {"role": access.role_id, "module": needed})
        if granted is None or int(granted) < level:
            raise Forbidden(NO_PERMISSION)
