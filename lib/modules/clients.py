"""clients: the MSP's customers. The client column is the id itself."""
import re

from ..module import Field, Hooks, Lookup, Module


def strip_scheme(website):
    return re.sub(r"^https?://", "", website, flags=re.IGNORECASE)


class ClientHooks(Hooks):
    def before_create(self, call, module, values):
        from ..fields import now
        values["client_accessed_at"] = now()

    def on_archive(self, call, module, current, archived):
        if archived:
            # Archiving a client stops its active recurring invoices, as ITFlow does.
            call.db.execute(
                "UPDATE recurring_invoices SET recurring_invoice_status = 0 "
                "WHERE recurring_invoice_client_id = :client AND recurring_invoice_status = 1",
                {"client": int(current["client_id"])})


MODULE = Module(
    name="clients", table="clients", id_column="client_id", client_column="client_id",
    entity="Client", name_column="client_name", archived_column="client_archived_at",
    create_needs_all_clients_key=True, hooks=ClientHooks(),
    description="The MSP's customers; every other record belongs to one.",
    fields=[
        Field("client_name", required=True, description="Client name"),
        Field("client_type", description="Industry or kind of client"),
        Field("client_website", transform=strip_scheme, description="Website; a leading http:// or https:// is removed"),
        Field("client_referral", description="How the client was referred"),
        Field("client_rate", "decimal", description="Hourly rate"),
        Field("client_currency_code", default="USD", description="Currency code (default USD)"),
        Field("client_net_terms", "int", description="Payment terms in days"),
        Field("client_tax_id_number", description="Tax id number"),
        Field("client_is_lead", "flag", column="client_lead", description="1 if the client is a lead"),
        Field("client_abbreviation", transform=lambda v: v[:6], description="Short name, first 6 characters kept"),
        Field("client_notes", description="Notes"),
    ],
    lookups=[
        Lookup("client_name", description="Clients with exactly this name"),
    ],
)
