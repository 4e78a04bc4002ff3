"""clients: the MSP's customers. The client column is the id itself."""
from ..core.definitions import Field, Hooks, Lookup, Module, table_fields
from ..core.envelope import Refused
from ..core.values import now
from ._rules import strip_scheme

# Tables whose rows belong to a client, and the column that says which.
OWNED_BY_CLIENT = (
    ("assets", "asset_client_id"), ("certificates", "certificate_client_id"), ("contacts", "contact_client_id"),
    ("credentials", "credential_client_id"), ("documents", "document_client_id"), ("domains", "domain_client_id"),
    ("expenses", "expense_client_id"), ("invoices", "invoice_client_id"), ("locations", "location_client_id"),
    ("networks", "network_client_id"), ("quotes", "quote_client_id"),
    ("recurring_invoices", "recurring_invoice_client_id"), ("software", "software_client_id"),
    ("tickets", "ticket_client_id"), ("vendors", "vendor_client_id"),
)


class ClientHooks(Hooks):
    def before_create(self, call, module, values, client=None):
        values["client_accessed_at"] = now()

    def before_delete(self, call, module, current):
        # A client's records would be left pointing at nothing; refuse instead of cascading.
        client_id = int(current["client_id"])
        owned = [(table, call.db.count(table, {column: client_id})) for table, column in OWNED_BY_CLIENT]
        owned = [f"{count} {table}" for table, count in owned if count]
        if owned:
            raise Refused(f"Client {client_id} still has {', '.join(owned)}: delete those first, "
                          "or archive the client instead.")

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
    # clients/update.php:22-37, model clients/client_model.php
    update_model=("client_name", "client_type", "client_website", "client_referral", "client_rate",
                  "client_currency_code", "client_net_terms", "client_abbreviation", "client_tax_id_number",
                  "client_lead", "client_notes"),
    description="The MSP's customers; every other record belongs to one. Create needs an all-clients key.",
    fields=table_fields("clients", skip=("client_lead",), overrides={
        "client_name": {"required": True},
        "client_website": {"transform": strip_scheme, "description": "a leading http:// or https:// is removed"},
        "client_abbreviation": {"transform": lambda v: v[:6], "description": "first 6 characters kept"},
    }, extra=[Field("client_is_lead", "flag", column="client_lead", description="stored as client_lead"),
              Field("tags", "lines", stored=False,
                    description="update only (create ignores it): "
                                "the client's tags (client_tags), tag ids or names of client tags "
                                "as a JSON list or \"a,b,c\"; they replace the ones it has (\"\" or [] removes "
                                "them all). Newest ITFlow layout only")]),
    lookups=[Lookup("client_name")],
)

