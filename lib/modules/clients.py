"""clients: the MSP's customers. The client column is the id itself."""
from ..fields import now
from ..module import Field, Hooks, Lookup, Module, table_fields
from ._rules import strip_scheme


class ClientHooks(Hooks):
    def before_create(self, call, module, values):
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
    description="The MSP's customers; every other record belongs to one. Create needs an all-clients key.",
    fields=table_fields("clients", skip=("client_lead",), overrides={
        "client_name": {"required": True},
        "client_website": {"transform": strip_scheme, "description": "a leading http:// or https:// is removed"},
        "client_abbreviation": {"transform": lambda v: v[:6], "description": "first 6 characters kept"},
    }, extra=[Field("client_is_lead", "flag", column="client_lead", description="stored as client_lead")]),
    lookups=[Lookup("client_name")],
)
