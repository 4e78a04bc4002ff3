"""networks: a client's subnets and VLANs."""
from ..core.definitions import Lookup, Module, table_fields

MODULE = Module(
    independent_writes=True,  # a batch may run its writes side by side (lib/web/batch.py)
    name="networks", table="networks", id_column="network_id", client_column="network_client_id",
    entity="Network", name_column="network_name", archived_column="network_archived_at",
    description="Networks (network is the CIDR, e.g. 10.0.0.0/24).",
    fields=table_fields("networks", "network_client_id", references={"network_location_id": "locations"},
                        overrides={
        "network_name": {"required": True},
        "network": {"required": True, "description": "address range in CIDR notation"},
    }),
    lookups=[Lookup("network_id", "int", single=True), Lookup("network_name")],
)
