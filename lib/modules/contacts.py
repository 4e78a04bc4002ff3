"""contacts: people at a client. Phones keep digits only; a create refuses an email the
client already has (an update does not check, as in ITFlow)."""
from ..core.definitions import Field, Hooks, Lookup, Module, table_fields
from ..core.envelope import Refused
from ..core.values import now
from ._rules import keep_flag_exclusive


class ContactHooks(Hooks):
    def _client(self, call, current=None):
        return int(current["contact_client_id"]) if current else call.scope.write_client

    def _check_email(self, call, client_id, email, own_id=0):
        if not email:
            return
        taken = call.db.row(
            "SELECT contact_id FROM contacts WHERE contact_email = :email AND contact_client_id = :client "
            "AND contact_id <> :own", {"email": email, "client": client_id, "own": own_id})
        if taken:
            raise Refused(f"A contact with contact_email {email} already exists for this client "
                          f"(contact_id {taken['contact_id']}).")

    def _primary(self, call, client_id, values):
        keep_flag_exclusive(call.db, "contacts", "contact_primary", "contact_client_id", client_id, values)

    def before_create(self, call, module, values, client=None):
        self._check_email(call, values["contact_client_id"], values["contact_email"])
        self._primary(call, values["contact_client_id"], values)

    def before_update(self, call, module, current, values):
        # ITFlow checks for a duplicate email on create only; an update may share one.
        self._primary(call, int(current["contact_client_id"]), values)

    def on_archive(self, call, module, current, archived):
        if archived:
            call.db.update("contacts", {"contact_important": 0, "contact_billing": 0, "contact_technical": 0},
                           {"contact_id": int(current["contact_id"])})
        user_id = int(current["contact_user_id"] or 0)
        if user_id:  # the contact's client-portal login follows the contact
            call.db.update("users", {"user_archived_at": now() if archived else None}, {"user_id": user_id})


PHONE = {"kind": "phone", "description": "digits only"}

MODULE = Module(
    name="contacts", table="contacts", id_column="contact_id", client_column="contact_client_id",
    entity="Contact", name_column="contact_name", archived_column="contact_archived_at",
    hooks=ContactHooks(),
    # contacts/update.php:26, model contacts/contact_model.php
    update_model=("contact_name", "contact_title", "contact_department", "contact_email", "contact_phone",
                  "contact_extension", "contact_mobile", "contact_notes", "contact_primary", "contact_important",
                  "contact_billing", "contact_technical", "contact_location_id"),
    description="People at a client. contact_primary = 1 clears the flag on the client's other contacts.",
    fields=table_fields("contacts", "contact_client_id", skip=("contact_user_id",), references={
        "contact_location_id": "locations", "contact_vendor_id": "vendors",
    }, overrides={
        "contact_name": {"required": True},
        "contact_email": {"required": True, "description": "unique within the client"},
        "contact_phone": PHONE, "contact_extension": PHONE, "contact_mobile": PHONE,
    }, extra=[Field("tags", "lines", stored=False,
                    description="update only (create ignores it): "
                                "the contact's tags (contact_tags), tag ids or names of contact tags "
                                "as a JSON list or \"a,b,c\"; they replace the ones it has (\"\" or [] removes "
                                "them all). Newest ITFlow layout only")]),
    lookups=[
        Lookup("contact_id", "int", single=True),
        Lookup("contact_email"),
        Lookup("contact_phone_or_mobile", "phone", first_only=True,
               condition="(contact_phone = :lookup OR contact_mobile = :lookup)",
               description="one contact whose phone or mobile matches"),
    ],
)
