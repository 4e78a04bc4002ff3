"""Which ITFlow a database is, read once at start, and the rules that follow from it.

ITFlow keeps its schema version in `settings.config_current_database_version` (company 1),
raised by each migration in its admin/database_updates/. The rule sets that changed what
the v1 API does:

- 2.4.6 and earlier: keys scoped to a client (api_keys.api_key_client_id).
- 2.4.7+: keys act as a user (api_keys.api_key_user_id), with the user's role and clients.
- 2.5.0+: SLAs (slas, sla_assignments, the tickets' due/met columns, business hours);
  2.5.1 added the paused clock (sla_history, ticket_statuses.ticket_status_pauses_sla).

A database this server created itself carries no version (''); then the tables decide. A
version newer than the newest one known here starts with a warning: its rules are taken to
be the newest known ones.
"""
import logging
import weakref
from dataclasses import dataclass

from . import schema

log = logging.getLogger("itflow_api")

USER_KEYS_SINCE = "2.4.7"
SLAS_SINCE = "2.5.0"
SLA_PAUSING_SINCE = "2.5.1"
CREDENTIAL_PASSWORD_WIDENED = "2.6.5"  # varbinary(200) -> varchar(500)
NEWEST_KNOWN = schema.NEWEST_VERSION


def parse(version):
    """'2.6.7' -> (2, 6, 7); None for anything that is not dotted numbers."""
    parts = str(version or "").strip().split(".")
    if not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)


def at_least(version, floor):
    found = parse(version)
    return found is not None and found >= parse(floor)


@dataclass(frozen=True)
class ItflowDatabase:
    version: str          # settings.config_current_database_version, '' when none
    user_keys: bool       # api_keys.api_key_user_id (2.4.7+)
    slas: bool            # the SLA tables and columns are there (2.5.0+)
    sla_pausing: bool     # sla_history and ticket_status_pauses_sla are there (2.5.1+)

    @property
    def unknown_newer(self):
        return parse(self.version) is not None and parse(self.version) > parse(NEWEST_KNOWN)

    @property
    def rules(self):
        """The rule set in force, named by the version that introduced it."""
        if self.slas:
            return SLAS_SINCE + "+"
        return USER_KEYS_SINCE + "+" if self.user_keys else "2.4.6"

    @property
    def warning(self):
        if self.unknown_newer:
            return (f"ITFlow database version {self.version} is newer than {NEWEST_KNOWN}, the newest this "
                    f"server knows; it applies the {NEWEST_KNOWN} rules.")
        if self.version and at_least(self.version, SLAS_SINCE) and not self.slas:
            return f"ITFlow database version {self.version} should have SLA tables but has none: SLAs are off."
        return None

    def describe(self):
        """One line for the start-up message and `itflow-api version`."""
        name = f"ITFlow database {self.version}" if self.version else "ITFlow schema (no version recorded)"
        parts = ["keys act as users" if self.user_keys else "keys scoped to a client"]
        if self.slas:
            parts.append("SLAs with paused statuses" if self.sla_pausing else "SLAs")
        return f"{name}: {', '.join(parts)} (rules: {self.rules})"

    def health(self):
        """What /api/v1/health reports about the database."""
        return {"itflow_database_version": self.version or None, "rules": self.rules,
                "user_keys": self.user_keys, "slas": self.slas, "warning": self.warning}


def detect(db):
    """Read the database once (version and tables) and remember the answer for `db`."""
    with db.transaction():
        names = db.table_names()
        version = ""
        if "settings" in names and "config_current_database_version" in db.columns_of("settings"):
            version = (db.scalar("SELECT config_current_database_version AS v FROM settings "
                                 "WHERE company_id = 1") or "").strip()
        user_keys = "api_keys" in names and "api_key_user_id" in db.columns_of("api_keys")
        ticket_columns = set(db.columns_of("tickets")) if "tickets" in names else set()
        status_columns = set(db.columns_of("ticket_statuses")) if "ticket_statuses" in names else set()
    slas = {"slas", "sla_assignments"} <= names and "ticket_sla_id" in ticket_columns
    pausing = slas and "sla_history" in names and "ticket_status_pauses_sla" in status_columns
    found = ItflowDatabase(version, user_keys, slas, pausing)
    if found.warning:
        log.warning(found.warning)
    _detected[db] = found
    return found


_detected: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def of(db):
    """What detect() found for `db` (detecting now if nothing has yet)."""
    found = _detected.get(db)
    return found if found is not None else detect(db)
