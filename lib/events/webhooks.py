"""Webhook subscriptions: their tables, their secrets, and creating, reading, changing and
deleting them for the key that owns them.

itflow_api_webhooks, one row per subscription:
  webhook_id, webhook_key_id (the key that created it: the only one that sees or changes it,
  and whose visibility filters what it is sent), webhook_url, webhook_modules and
  webhook_actions (comma lists, '' = all), webhook_client_id (0 = every client the key sees),
  webhook_secret (encrypted), webhook_enabled, webhook_disabled_reason,
  webhook_event_seq (the delivered cursor: every event up to it is done),
  webhook_replay_seq (one event to send again before going on, or NULL),
  webhook_failures (failed attempts in a row), webhook_next_at (ms since the epoch: no
  attempt before), webhook_lease_owner / webhook_lease_until (the worker that holds it, and
  until when, ms since the epoch), created/updated times.
itflow_api_webhook_deliveries, one row per attempt: the event, the attempt number, the
  receiver's status, how long it took, the start of its answer, the error.

The secret is stored as AES-256-GCM under a key derived (HKDF-SHA256) from the server's key
hash secret ([security] key_hash_secret or secret_file), so a copy of the database alone does
not reveal it; it is shown once, when the subscription is created, and never logged.
"""
from __future__ import annotations

import base64
import functools
import os
import threading
import weakref
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from ..access.keys import Key, detect_layout
from ..core.envelope import NotFound, Refused
from ..itflow.schema import LAYOUT_USER_KEYS
from . import outbound, signing

if TYPE_CHECKING:
    from ..db.database import Database

TABLE = "itflow_api_webhooks"
DELIVERIES = "itflow_api_webhook_deliveries"
MODULES = ("clients", "contacts", "assets", "tickets", "ticket_replies", "locations", "documents", "credentials",
           "domains", "certificates", "software", "networks", "vendors", "invoices", "payments", "webhooks")
ACTIONS = ("created", "updated", "archived", "unarchived", "deleted", "disabled")

_WEBHOOKS_COLUMNS = (
    "webhook_key_id INT NOT NULL",
    "webhook_url VARCHAR(2048) NOT NULL",
    "webhook_modules VARCHAR(512) NOT NULL DEFAULT ''",
    "webhook_actions VARCHAR(128) NOT NULL DEFAULT ''",
    "webhook_client_id INT NOT NULL DEFAULT 0",
    "webhook_secret VARCHAR(255) NOT NULL",
    "webhook_enabled INT NOT NULL DEFAULT 1",
    "webhook_disabled_reason VARCHAR(255) NOT NULL DEFAULT ''",
    "webhook_event_seq BIGINT NOT NULL DEFAULT 0",
    "webhook_replay_seq BIGINT NULL DEFAULT NULL",
    "webhook_failures INT NOT NULL DEFAULT 0",
    "webhook_next_at BIGINT NOT NULL DEFAULT 0",
    "webhook_lease_owner VARCHAR(64) NOT NULL DEFAULT ''",
    "webhook_lease_until BIGINT NOT NULL DEFAULT 0",
    "webhook_created_at DATETIME NOT NULL",
    "webhook_updated_at DATETIME NULL DEFAULT NULL",
)
_DELIVERIES_COLUMNS = (
    "delivery_webhook_id INT NOT NULL",
    "delivery_event_id BIGINT NOT NULL",
    "delivery_msg_id VARCHAR(64) NOT NULL",
    "delivery_attempt INT NOT NULL",
    "delivery_status INT NULL DEFAULT NULL",
    "delivery_duration_ms INT NOT NULL DEFAULT 0",
    "delivery_response VARCHAR(200) NOT NULL DEFAULT ''",
    "delivery_error VARCHAR(255) NOT NULL DEFAULT ''",
    "delivery_at DATETIME NOT NULL",
)


def create_statements(dialect: str) -> list[str]:
    """The DDL of both tables (idempotent), for "mysql" or "sqlite"."""
    def table(name: str, key: str, columns: tuple[str, ...]) -> str:
        if dialect == "sqlite":
            first = f"{key} INTEGER PRIMARY KEY AUTOINCREMENT"
            tail = ")"
        else:
            first = f"{key} BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY"
            tail = ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        return f"CREATE TABLE IF NOT EXISTS {name} ({first}, {', '.join(columns)}{tail}"
    statements = [table(TABLE, "webhook_id", _WEBHOOKS_COLUMNS), table(DELIVERIES, "delivery_id", _DELIVERIES_COLUMNS)]
    indexes = (("itflow_api_webhooks_key", TABLE, "webhook_key_id"),
               ("itflow_api_webhook_deliveries_hook", DELIVERIES, "delivery_webhook_id, delivery_id"),
               ("itflow_api_webhook_deliveries_at", DELIVERIES, "delivery_at"))
    for name, on, cols in indexes:
        statements.append(f"CREATE INDEX IF NOT EXISTS {name} ON {on} ({cols})")  # SQLite, MariaDB
    return statements


def install(db: Database) -> None:
    """Create the tables when missing (part of `init-db --events`; safe to repeat)."""
    tables = db.table_names()
    if TABLE in tables and DELIVERIES in tables:
        return
    with db.transaction(write=True):
        for sql in create_statements(db.dialect):
            db.execute(sql)


def installed(db: Database) -> bool:
    return TABLE in db.table_names()


# --- what the web layer hands over: the secret's key and the [events] settings ------------------

@dataclass
class Settings:
    """What webhooks need from the server's configuration, per database (set by the app)."""
    secret: bytes                       # the key hash secret
    allow_private_targets: str = ""
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    max_failures: int = 40
    allowed: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.allowed = outbound.parse_networks(self.allow_private_targets)

    @functools.cached_property
    def _aead(self) -> Any:
        """The AES-GCM of the secrets, made on first use: a server that never touches a webhook
        does not load the cryptography library."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                           info=b"itflow-api webhook secrets v1").derive(self.secret))

    @classmethod
    def from_config(cls, secret: bytes, events: Any) -> Settings:
        return cls(secret, events.allow_private_targets, events.connect_timeout, events.read_timeout,
                   events.max_failures)

    def seal(self, plain: str) -> str:
        nonce = os.urandom(12)
        return "v1:" + base64.b64encode(nonce + self._aead.encrypt(nonce, plain.encode(), b"webhook")).decode()

    def open(self, sealed: str) -> str:
        raw = base64.b64decode(sealed.removeprefix("v1:"))
        return self._aead.decrypt(raw[:12], raw[12:], b"webhook").decode()


_settings: weakref.WeakKeyDictionary[Any, Settings] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def configure(db: Database, settings: Settings) -> None:
    """Called by the app factory and the `deliver` command for their database."""
    with _lock:
        _settings[db] = settings


def settings_for(db: Database) -> Settings:
    found = _settings.get(db)
    if found is None:
        raise RuntimeError("webhooks are not configured for this database (lib/events/webhooks.configure)")
    return found


# --- the creating key, as it is now ----------------------------------------------------------------

def current_key(db: Database, key_id: int) -> Key | None:
    """The key with this id as the database has it now; None when it was revoked (deleted)
    or has expired."""
    layout = detect_layout(db)
    owner = "api_key_user_id" if layout == LAYOUT_USER_KEYS else "api_key_client_id"
    row = db.row(f"SELECT api_key_id, api_key_name, api_key_decrypt_hash, api_key_expire, {owner} AS owner "
                 "FROM api_keys WHERE api_key_id = :id", {"id": int(key_id)})
    if row is None or str(row["api_key_expire"]) <= date.today().isoformat():
        return None
    if layout == LAYOUT_USER_KEYS:
        return Key(int(row["api_key_id"]), row["api_key_name"], 0, row["api_key_decrypt_hash"], int(row["owner"]))
    return Key(int(row["api_key_id"]), row["api_key_name"], int(row["owner"]), row["api_key_decrypt_hash"])


# --- reading the request's filters --------------------------------------------------------------

def names(value: Any, known: tuple[str, ...], what: str) -> str:
    """A comma list (or JSON list) of module/action names → the stored text ('' = all)."""
    if value is None or value == "" or value == []:
        return ""
    items = value if isinstance(value, list) else str(value).split(",")
    picked: list[str] = []
    for item in items:
        name = str(item).strip().lower()
        if not name:
            continue
        if name not in known:
            raise Refused(f"{what}: unknown name {name!r} (known: {', '.join(known)})")
        if name not in picked:
            picked.append(name)
    return ",".join(picked)


def client_filter(value: Any, key: Key) -> int:
    if value in (None, ""):
        return 0
    try:
        client_id = int(str(value).strip())
    except ValueError:
        raise Refused("client_id must be a whole number (0 or empty: every client this key sees)") from None
    if client_id < 0:
        raise Refused("client_id must be 0 or a client id")
    if client_id and not key.all_clients and client_id != key.client_id:
        raise Refused(f"client_id {client_id}: this key is limited to client {key.client_id}")
    return client_id


def checked_url(db: Database, url: Any) -> str:
    url = "" if url is None else str(url).strip()
    try:
        outbound.resolve(url, settings_for(db).allowed)
    except outbound.UnsafeTarget as exc:
        raise Refused(str(exc)) from None
    return url


def _now() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S")


# --- CRUD (inside the caller's transaction) ---------------------------------------------------------

def create(db: Database, key: Key, url: str, modules: str = "", actions: str = "", client_id: int = 0,
           start_seq: int = 0) -> tuple[int, str]:
    """A new subscription for `key`, starting after event `start_seq`; returns (id, secret)."""
    secret = signing.new_secret()
    webhook_id = db.insert(TABLE, {
        "webhook_key_id": key.id, "webhook_url": url, "webhook_modules": modules, "webhook_actions": actions,
        "webhook_client_id": client_id, "webhook_secret": settings_for(db).seal(secret),
        "webhook_enabled": 1, "webhook_disabled_reason": "", "webhook_event_seq": int(start_seq),
        "webhook_failures": 0, "webhook_next_at": 0, "webhook_lease_owner": "", "webhook_lease_until": 0,
        "webhook_created_at": _now(),
    })
    return int(webhook_id), secret


_PUBLIC = ("webhook_id, webhook_url, webhook_modules, webhook_actions, webhook_client_id, webhook_enabled, "
           "webhook_disabled_reason, webhook_event_seq, webhook_replay_seq, webhook_failures, webhook_next_at, "
           "webhook_created_at, webhook_updated_at")


def read(db: Database, key: Key, webhook_id: int | None = None) -> list[dict[str, Any]]:
    """This key's subscriptions (one, or all), never with the secret."""
    sql = f"SELECT {_PUBLIC} FROM {TABLE} WHERE webhook_key_id = :key"
    binds: dict[str, Any] = {"key": key.id}
    if webhook_id is not None:
        sql += " AND webhook_id = :id"
        binds["id"] = int(webhook_id)
    rows = db.rows(sql + " ORDER BY webhook_id", binds)
    for row in rows:
        next_at = int(row.pop("webhook_next_at") or 0)
        row["webhook_next_attempt_at"] = (datetime.fromtimestamp(next_at / 1000).strftime("%Y-%m-%d %H:%M:%S")
                                          if next_at and row["webhook_failures"] != "0" else None)
    return rows


def owned(db: Database, key: Key, webhook_id: Any) -> dict[str, Any]:
    """The key's subscription with this id (the full row), or NotFound."""
    try:
        wanted = int(str(webhook_id))
    except (TypeError, ValueError):
        raise Refused("webhook_id is required: the id create.php answered") from None
    row = db.row(f"SELECT * FROM {TABLE} WHERE webhook_id = :id AND webhook_key_id = :key",
                 {"id": wanted, "key": key.id})
    if row is None:
        raise NotFound()
    return row


def update(db: Database, webhook_id: int, values: dict[str, Any]) -> int:
    if not values:
        return 0
    values = {**values, "webhook_updated_at": _now()}
    return db.update(TABLE, values, {"webhook_id": int(webhook_id)})


def delete(db: Database, webhook_id: int) -> int:
    db.delete(DELIVERIES, {"delivery_webhook_id": int(webhook_id)})
    return db.delete(TABLE, {"webhook_id": int(webhook_id)})


def secret_of(db: Database, row: dict[str, Any]) -> str:
    return settings_for(db).open(row["webhook_secret"])


def log_delivery(db: Database, webhook_id: int, event_id: int, msg_id: str, attempt: int,
                 outcome: outbound.Outcome) -> None:
    db.insert(DELIVERIES, {
        "delivery_webhook_id": int(webhook_id), "delivery_event_id": int(event_id), "delivery_msg_id": msg_id,
        "delivery_attempt": int(attempt), "delivery_status": outcome.status,
        "delivery_duration_ms": int(outcome.duration_ms), "delivery_response": outcome.excerpt[:200],
        "delivery_error": outcome.error[:255], "delivery_at": _now(),
    })


def deliveries(db: Database, webhook_id: int, limit: int, offset: int,
               event_id: int | None = None) -> list[dict[str, Any]]:
    sql = ("SELECT delivery_id, delivery_event_id, delivery_msg_id, delivery_attempt, delivery_status, "
           f"delivery_duration_ms, delivery_response, delivery_error, delivery_at FROM {DELIVERIES} "
           "WHERE delivery_webhook_id = :id")
    binds: dict[str, Any] = {"id": int(webhook_id), "limit": int(limit), "offset": int(offset)}
    if event_id is not None:
        sql += " AND delivery_event_id = :event"
        binds["event"] = int(event_id)
    return db.rows(sql + " ORDER BY delivery_id DESC LIMIT :limit OFFSET :offset", binds)


def prune_deliveries(db: Database, retention_days: int) -> int:
    cutoff = datetime.fromtimestamp(datetime.now().timestamp() - retention_days * 86400).strftime("%Y-%m-%d %H:%M:%S")
    return db.execute(f"DELETE FROM {DELIVERIES} WHERE delivery_at < :cutoff", {"cutoff": cutoff})
