"""clients: the MSP's customers. The client column is the id itself."""
from ..core.crud import Create, Update, require_table
from ..core.definitions import Field, Hooks, Lookup, Module, table_fields
from ..core.envelope import Refused
from ..core.values import now
from ._rules import TAG_TYPES, replace_tags, strip_scheme, tag_ids

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
              Field("tags", stored=False,
                    description="update only: the client's tags (client_tags), tag ids or names of client tags "
                                "as a JSON list or \"a,b,c\"; they replace the ones it has (\"\" or [] removes "
                                "them all). Newest ITFlow layout only")]),
    lookups=[Lookup("client_name")],
)


class ClientCreate(Create):
    def __call__(self, call):
        if call.params.has("tags"):
            raise Refused("tags: clients/create does not set tags; send them to clients/update (nothing was created).")
        return super().__call__(call)


class ClientUpdate(Update):
    """update.php, and `tags` as the client edit form sets them (agent/post/client.php
    edit_client: the client's client_tags rows deleted, then one inserted per tag sent)."""

    def apply(self, call, record_id, current):
        tags = None
        if call.params.has("tags"):
            require_table(call, "client_tags", "a client's tags")
            tags = tag_ids(call, call.params.values.get("tags"), TAG_TYPES["clients"], "client tag")
        count, values = super().apply(call, record_id, current)
        if tags is not None and replace_tags(call, "client_tags", "client_id", record_id, tags):
            count = count or 1
        return count, values
