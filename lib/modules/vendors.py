"""vendors: suppliers, per client (client 0: shared by all)."""
from ..core.definitions import Lookup, Module, table_fields

MODULE = Module(
    independent_writes=True,  # a batch may run its writes side by side (lib/web/batch.py)
    name="vendors", table="vendors", id_column="vendor_id", client_column="vendor_client_id",
    entity="Vendor", name_column="vendor_name", archived_column="vendor_archived_at", client_optional=True,
    description="Suppliers and service providers.",
    fields=table_fields("vendors", "vendor_client_id", skip=("vendor_template_id",),
                        overrides={"vendor_name": {"required": True}}),
    lookups=[Lookup("vendor_id", "int", single=True)],
)
