"""domains: registered domains and their expiry."""
from ..core.definitions import Lookup, Module, table_fields
from ._rules import strip_scheme

MODULE = Module(
    name="domains", table="domains", id_column="domain_id", client_column="domain_client_id",
    entity="Domain", name_column="domain_name", archived_column="domain_archived_at",
    description="Domains. DNS and WHOIS fields are stored as sent (no lookups are made).",
    fields=table_fields("domains", "domain_client_id", references={
        "domain_registrar": "vendors", "domain_webhost": "vendors",
    }, overrides={
        "domain_name": {"required": True, "transform": strip_scheme},
    }),
    lookups=[Lookup("domain_id", "int", single=True), Lookup("domain_name", transform=strip_scheme)],
)
