"""assets: devices. Each has a primary interface (asset_interfaces) that carries its IP,
MAC and network; list reads join it in."""
from ..core.definitions import Field, Hooks, Lookup, Module, table_fields
from ._rules import ucfirst

PRIMARY_INTERFACE_JOIN = ("assets LEFT JOIN asset_interfaces "
                          "ON interface_asset_id = asset_id AND interface_primary = 1")
# Request fields stored on the primary interface, and the column each goes to.
INTERFACE_FIELDS = {"asset_ip": "interface_ip", "asset_mac": "interface_mac", "asset_network_id": "interface_network_id"}


class AssetHooks(Hooks):
    def after_create(self, call, module, record_id, values):
        call.db.insert_later("asset_interfaces", {
            "interface_name": "1", "interface_primary": 1, "interface_asset_id": record_id,
            **{column: values[name] for name, column in INTERFACE_FIELDS.items()},
        })

    def after_update(self, call, module, current, values):
        asset_id = int(current["asset_id"])
        changes = {column: values[name] for name, column in INTERFACE_FIELDS.items() if name in values}
        if changes:
            where = {"interface_asset_id": asset_id, "interface_primary": 1}
            # Counted first: update() reports rows *changed*, which is 0 for an unchanged one.
            if call.db.count("asset_interfaces", where):
                call.db.update("asset_interfaces", changes, where)
            else:
                call.db.insert("asset_interfaces", {"interface_name": "1", **where, **changes})
        name = values.get("asset_name", current["asset_name"])
        call.db.insert_later("asset_history", {
            "asset_history_status": values.get("asset_status", current["asset_status"]) or "",
            "asset_history_description": f"API updated {name} ({call.key.name})"[:255],
            "asset_history_asset_id": asset_id,
        })

    def before_delete(self, call, module, current):
        # Only the interfaces of the asset being deleted, which the scope check already found.
        asset_id = int(current["asset_id"])
        call.db.delete("asset_interfaces", {"interface_asset_id": asset_id})
        call.db.delete("asset_history", {"asset_history_asset_id": asset_id})


MODULE = Module(
    independent_writes=True,  # a batch may run its writes side by side (lib/web/batch.py)
    name="assets", table="assets", id_column="asset_id", client_column="asset_client_id",
    entity="Asset", name_column="asset_name", archived_column="asset_archived_at",
    list_from=PRIMARY_INTERFACE_JOIN, hooks=AssetHooks(),
    # assets/update.php:21 (2.4.6), model assets/asset_model.php
    update_model=("asset_name", "asset_description", "asset_type", "asset_make", "asset_model", "asset_serial",
                  "asset_os", "asset_uri", "asset_uri_2", "asset_status", "asset_location_id", "asset_vendor_id",
                  "asset_contact_id", "asset_purchase_date", "asset_warranty_expire", "asset_install_date",
                  "asset_notes"),
    description="Devices; asset_ip, asset_mac and asset_network_id live on the primary interface.",
    fields=table_fields("assets", "asset_client_id", references={
        "asset_contact_id": "contacts", "asset_location_id": "locations", "asset_vendor_id": "vendors",
    }, overrides={
        "asset_name": {"required": True},
    }, extra=[
        Field("asset_ip", stored=False, limits="interface_ip", description="primary interface IP"),
        Field("asset_mac", stored=False, limits="interface_mac", description="primary interface MAC"),
        Field("asset_network_id", "int", stored=False, limits="interface_network_id", references="networks",
              description="primary interface network"),
        Field("tags", "lines", stored=False,
              description="update only (create ignores it): "
                          "the asset's tags (asset_tags), tag ids or names of asset tags as a JSON "
                          "list or \"a,b,c\"; they replace the ones it has (\"\" or [] removes them all). Newest "
                          "ITFlow layout only"),
    ]),
    lookups=[
        Lookup("asset_id", "int", single=True),
        Lookup("asset_type", transform=ucfirst, description="first letter upper-cased"),
        Lookup("asset_name"),
        Lookup("asset_serial"),
        Lookup("asset_mac", column="interface_mac", source=PRIMARY_INTERFACE_JOIN,
               description="MAC of the primary interface"),
        Lookup("asset_uri"),
        Lookup("asset_uri_2"),
    ],
)
