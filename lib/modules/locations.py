"""locations: a client's sites; one of them may be primary."""
from ..core.definitions import Hooks, Lookup, Module, table_fields
from ._rules import keep_flag_exclusive


class LocationHooks(Hooks):
    def _primary(self, call, client_id, values):
        keep_flag_exclusive(call.db, "locations", "location_primary", "location_client_id", client_id, values)

    def before_create(self, call, module, values, client=None):
        self._primary(call, values["location_client_id"], values)

    def before_update(self, call, module, current, values):
        self._primary(call, int(current["location_client_id"]), values)


MODULE = Module(
    name="locations", table="locations", id_column="location_id", client_column="location_client_id",
    entity="Location", name_column="location_name", archived_column="location_archived_at",
    hooks=LocationHooks(),
    description="Sites; location_primary = 1 clears the client's other primary location.",
    fields=table_fields("locations", "location_client_id", references={"location_contact_id": "contacts"},
                        overrides={"location_name": {"required": True}}),
    lookups=[Lookup("location_id", "int", single=True)],
)
