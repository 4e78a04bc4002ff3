"""credentials: passwords kept for a client, username and password stored encrypted.

The caller proves it may decrypt by sending api_key_decrypt_password (body, query or the
X-API-Decrypt-Password header): it opens the key's decrypt hash, which yields the site's
master key. Without it nothing is read or written. With a wrong one a read shows `false`
for the two encrypted fields, as ITFlow does, and a write is refused (HTTP 200, "False")
so that nothing undecryptable is ever stored.
"""
import re

from ..core.definitions import CHECKED_BY_HOOKS, Hooks, Lookup, Module, table_fields
from ..core.envelope import NotFound, Refused
from ..core.messages import NO_RESOURCE
from ..core.values import now
from ..itflow import crypto, schema
from ..itflow import version as itflow_version


def _column_width(db, column):
    # ITFlow 2.6.5 widened credential_password from varbinary(200) to varchar(500).
    widened = itflow_version.at_least(itflow_version.of(db).version, itflow_version.CREDENTIAL_PASSWORD_WIDENED)
    found = next(c for c in schema.tables(schema.NEWEST_VERSION if widened else None)["credentials"]
                 if c.name == column)
    return int(re.search(r"\((\d+)\)", found.type).group(1))


class CredentialHooks(Hooks):
    def master_key(self, call, missing):
        """The site's master key for this request; `missing` raised without a password,
        Refused when the key cannot decrypt or the password is wrong."""
        if "master_key" in call.memo:
            return call.memo["master_key"]
        password = call.params.decrypt_password
        if not password:
            raise missing
        if not call.key.decrypt_hash:
            raise Refused("This API key was created without a decrypt password, so it cannot use credentials.")
        try:
            master = crypto.open_decrypt_hash(call.key.decrypt_hash, password)
        except crypto.WrongPassword:
            raise Refused("Wrong api_key_decrypt_password for this API key: nothing was written.") from None
        call.memo["master_key"] = master
        return master

    def _need(self, call):
        return self.master_key(call, Refused(
            "Missing api_key_decrypt_password: credentials are encrypted and need the key's decrypt password."))

    def _encrypt(self, call, module, values):
        master = self._need(call)
        for name in module.secret_columns:
            if name in values and values[name]:  # ITFlow stores an empty one as '', not encrypted
                stored = crypto.encrypt_field(values[name], master) if len(values[name].encode()) <= \
                    crypto.MAX_FIELD_BYTES else None
                if stored is None or len(stored) > _column_width(call.db, name):
                    raise Refused(f"{name} is too long to store.")  # ITFlow's words (26.08), nothing written
                values[name] = stored

    def before_create(self, call, module, values, client=None):
        self._encrypt(call, module, values)

    def before_update(self, call, module, current, values):
        self._encrypt(call, module, values)
        if "credential_password" in values:
            values["credential_password_changed_at"] = now()

    def before_delete(self, call, module, current):
        self._need(call)

    def on_archive(self, call, module, current, archived):
        self._need(call)  # raising here undoes the archive: the request is one transaction

    def before_read(self, call, module):
        try:
            # ITFlow answers "No resource" without a password; ours opens the same way (scripts
            # may match it) and says what is missing.
            self.master_key(call, NotFound(f"{NO_RESOURCE} Credentials are encrypted: send the key's "
                                           "api_key_decrypt_password (or an X-API-Decrypt-Password header)."))
        except Refused as refusal:
            if isinstance(refusal, NotFound):
                raise
            call.memo["master_key"] = None  # wrong password: rows come back, secrets as false

    def read_row(self, call, module, row):
        master = call.memo["master_key"]
        for name in module.secret_columns:
            row[name] = False if master is None else crypto.decrypt_field(row[name], master)
        return row


MODULE = Module(
    name="credentials", table="credentials", id_column="credential_id", client_column="credential_client_id",
    entity="Credential", name_column="credential_name", archived_column="credential_archived_at",
    hooks=CredentialHooks(),
    # credentials/update.php:20, model credentials/credential_model.php
    update_model=("credential_name", "credential_description", "credential_uri", "credential_uri_2",
                  "credential_username", "credential_password", "credential_otp_secret", "credential_note",
                  "credential_favorite", "credential_contact_id", "credential_asset_id"),
    description="Stored passwords; every call needs api_key_decrypt_password. The password column "
                "(varbinary(200) in ITFlow's layout) holds about 120 bytes of clear text once encrypted.",
    fields=table_fields("credentials", "credential_client_id", skip=("credential_password_changed_at",), references={
        "credential_contact_id": "contacts", "credential_asset_id": "assets",
    }, overrides={
        "credential_name": {"required": True},
        "credential_username": {"kind": "html", "description": "stored encrypted", "limits": CHECKED_BY_HOOKS,
                                "secret": True},
        "credential_password": {"kind": "html", "description": "stored encrypted", "limits": CHECKED_BY_HOOKS,
                                "secret": True},
    }),
    lookups=[Lookup("credential_id", "int", single=True)],
)
