"""certificates: TLS certificates tracked per client."""
from ..core.definitions import Lookup, Module, table_fields

MODULE = Module(
    independent_writes=True,  # a batch may run its writes side by side (lib/web/batch.py)
    name="certificates", table="certificates", id_column="certificate_id", client_column="certificate_client_id",
    entity="Certificate", name_column="certificate_name", archived_column="certificate_archived_at",
    description="TLS certificates and their expiry.",
    fields=table_fields("certificates", "certificate_client_id", references={"certificate_domain_id": "domains"},
                        overrides={
        "certificate_name": {"required": True},
        "certificate_domain": {"required": True},
    }),
    lookups=[Lookup("certificate_id", "int", single=True), Lookup("certificate_name")],
)
