"""API keys: hashing, authentication, creation, listing and revocation.

ITFlow stores `api_key_secret` in clear text. Keys this server creates are stored only as
HMAC-SHA256(server secret, key), marked by HASH_PREFIX so both kinds share the table; the
clear-text rows ITFlow wrote keep working. Every comparison is constant-time: the hashed
form is looked up by its (unguessable) hash, clear-text rows are compared in Python.
"""
import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import date

from ..itflow import crypto
from ..itflow.schema import LAYOUT_CLIENT_KEYS as LAYOUT_CLIENT
from ..itflow.schema import LAYOUT_USER_KEYS as LAYOUT_USER
from .secret import KeyManagementError

HASH_PREFIX = "$hmac-sha256$"
KEY_LENGTH = 32  # what ITFlow generates


@dataclass(frozen=True)
class Key:
    id: int
    name: str
    client_id: int          # 0: all clients (client layout)
    decrypt_hash: str
    user_id: int | None = None  # set on the user layout

    @property
    def all_clients(self):
        return self.client_id == 0


FINGERPRINT = "key_hash_secret_fingerprint"  # its row in itflow_api_meta


def secret_fingerprint(secret):
    """An HMAC of a fixed text under the secret: tells secrets apart, reveals nothing of it."""
    return "hmac-sha256:" + hmac.new(secret, b"itflow-api key hash secret fingerprint", hashlib.sha256).hexdigest()


def check_secret(db, secret):
    """Refuse a secret other than the one the database's hashed keys were made with (they
    would all answer 401 for no visible reason); record it where nothing is recorded yet,
    or when no hashed key is left to protect."""
    from ..db import meta
    mine, stored = secret_fingerprint(secret), meta.get(db, FINGERPRINT)
    if stored == mine:
        return
    with db.transaction():
        hashed = int(db.scalar("SELECT COUNT(*) AS n FROM api_keys WHERE api_key_secret LIKE :prefix",
                               {"prefix": HASH_PREFIX + "%"}) or 0)
    if stored is not None and hashed:
        raise KeyManagementError(
            f"the key hash secret is not the one the {hashed} key(s) created by itflow-api in this database "
            "were hashed with, so every one of them would be refused: configure the original "
            "[security] key_hash_secret or secret_file (the same on every server), or revoke those keys "
            "(`itflow-api keys list`, `keys revoke ID`) to start over with this secret")
    meta.put(db, FINGERPRINT, mine)


def detect_layout(db):
    columns = db.columns_of("api_keys")
    return LAYOUT_USER if "api_key_user_id" in columns else LAYOUT_CLIENT


class KeyStore:
    """Finds keys by what callers present. With `cache_seconds` > 0, a key found is
    remembered by this process for that long: the bound on how long a revoked or changed key
    can keep working here. Unknown keys are never cached (each failure is logged)."""

    CACHE_SIZE = 1024

    def __init__(self, db, secret, layout=None, cache_seconds=0, clock=time.monotonic):
        self.db = db
        self._secret = secret
        self.layout = layout or detect_layout(db)
        self._owner = "api_key_user_id" if self.layout == LAYOUT_USER else "api_key_client_id"
        self._cache_seconds = cache_seconds
        self._cache = {}  # hashed key → (Key, expiry date, cached until)
        self._clock = clock

    @property
    def secret(self):
        """The server's key hash secret (what other secrets of ours are derived from)."""
        return self._secret

    def hash(self, presented):
        digest = hmac.new(self._secret, presented.encode("utf-8"), hashlib.sha256).hexdigest()
        return HASH_PREFIX + digest

    def _key(self, row):
        owner = int(row[self._owner])
        if self.layout == LAYOUT_USER:
            return Key(int(row["api_key_id"]), row["api_key_name"], 0, row["api_key_decrypt_hash"], owner)
        return Key(int(row["api_key_id"]), row["api_key_name"], owner, row["api_key_decrypt_hash"])

    def authenticate(self, presented):
        """The Key for `presented`, or None when it is unknown or expired.

        Valid while api_key_expire > NOW(): a key stops at 00:00 on its expiry date.
        """
        if not presented or len(presented) > 255:
            return None
        hashed = self.hash(presented)
        today = date.today().isoformat()
        cached = self._cache.get(hashed)
        if cached is not None and cached[2] > self._clock():
            key, expire, _ = cached
            return key if expire > today else None
        rows = self.db.rows(
            "SELECT api_key_id, api_key_name, api_key_secret, api_key_decrypt_hash, api_key_expire, "
            f"{self._owner} FROM api_keys "
            "WHERE api_key_secret = :hashed OR api_key_secret NOT LIKE :prefix",
            {"hashed": hashed, "prefix": HASH_PREFIX + "%"},
        )
        match = None
        for row in rows:
            stored = row["api_key_secret"]
            candidate = hashed if stored.startswith(HASH_PREFIX) else presented
            if hmac.compare_digest(stored.encode("utf-8"), candidate.encode("utf-8")):
                match = match or row
        if match is None:
            return None
        key, expire = self._key(match), str(match["api_key_expire"])
        if self._cache_seconds > 0:
            if len(self._cache) >= self.CACHE_SIZE:
                self._cache.clear()
            self._cache[hashed] = (key, expire, self._clock() + self._cache_seconds)
        return key if expire > today else None

    # --- management (CLI) --------------------------------------------------------------

    def _master_key(self, unlock_key, unlock_password):
        """The site's master key: opened with an existing key + its decrypt password, or
        generated when the database has none yet (a fresh schema of our own)."""
        if unlock_key:
            key = self.authenticate(unlock_key)
            if key is None:
                raise KeyManagementError("the unlock key is invalid or expired")
            try:
                return crypto.open_decrypt_hash(key.decrypt_hash, unlock_password or "")
            except crypto.WrongPassword:
                raise KeyManagementError("wrong decrypt password for the unlock key") from None
        in_use = self.db.scalar(
            "SELECT COUNT(*) AS n FROM api_keys WHERE api_key_decrypt_hash <> ''") or "0"
        users = self.db.scalar(
            "SELECT COUNT(*) AS n FROM users WHERE user_specific_encryption_ciphertext IS NOT NULL "
            "AND user_specific_encryption_ciphertext <> ''") or "0"
        if int(in_use) or int(users):
            raise KeyManagementError(
                "this database already has a master key: pass --unlock-key with an existing key "
                "that can decrypt (and its decrypt password) to create another one")
        return crypto.new_master_key()

    def create(self, name, expire, owner_id=0, decrypt_password=None,
               unlock_key=None, unlock_password=None):
        """Create a key; returns (clear-text key, key id). The clear text is never stored."""
        decrypt_hash = ""
        if decrypt_password:
            master = self._master_key(unlock_key, unlock_password)
            decrypt_hash = crypto.make_decrypt_hash(master, decrypt_password)
        presented = crypto.random_token(KEY_LENGTH, crypto.ALPHANUMERIC)
        with self.db.transaction(write=True):
            key_id = self.db.insert("api_keys", {
                "api_key_name": name,
                "api_key_secret": self.hash(presented),
                "api_key_decrypt_hash": decrypt_hash,
                "api_key_expire": expire,
                self._owner: int(owner_id),
            })
        return presented, key_id

    def list(self):
        with self.db.transaction():
            return self.db.rows(
                f"SELECT api_key_id, api_key_name, api_key_created_at, api_key_expire, {self._owner}, "
                "api_key_secret, api_key_decrypt_hash FROM api_keys ORDER BY api_key_id")

    def revoke(self, key_id):
        with self.db.transaction(write=True):
            return self.db.delete("api_keys", {"api_key_id": int(key_id)}) > 0
