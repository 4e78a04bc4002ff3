"""software: licences and installed software."""
from ..core.definitions import Lookup, Module, table_fields

MODULE = Module(
    independent_writes=True,  # a batch may run its writes side by side (lib/web/batch.py)
    name="software", table="software", id_column="software_id", client_column="software_client_id",
    entity="Software", name_column="software_name", archived_column="software_archived_at",
    description="Software and licences.",
    fields=table_fields("software", "software_client_id", references={"software_vendor_id": "vendors"},
                        overrides={
        "software_name": {"required": True},
    }),
    lookups=[
        Lookup("software_id", "int", single=True),
        Lookup("software_key"),
        Lookup("software_name"),
        Lookup("software_type"),
    ],
)
