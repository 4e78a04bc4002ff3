"""domains: registered domains and their expiry.

domain_registrar and domain_webhost take a vendor id, or the name of one of the domain
client's vendors, as ITFlow's domain page offers them (its client's unarchived vendors);
an unknown name is refused with the names there are.
"""
from ..core.crud import Create, Update
from ..core.definitions import Lookup, Module, table_fields
from ..core.envelope import Refused
from ._rules import strip_scheme

VENDOR_FIELDS = ("domain_registrar", "domain_webhost")

MODULE = Module(
    independent_writes=True,  # a batch may run its writes side by side (lib/web/batch.py)
    name="domains", table="domains", id_column="domain_id", client_column="domain_client_id",
    entity="Domain", name_column="domain_name", archived_column="domain_archived_at",
    description="Domains. DNS and WHOIS fields are stored as sent (no lookups are made). "
                "domain_registrar and domain_webhost take a vendor id or the name of one of the client's vendors.",
    fields=table_fields("domains", "domain_client_id", references={
        "domain_registrar": "vendors", "domain_webhost": "vendors",
    }, overrides={
        "domain_name": {"required": True, "transform": strip_scheme},
        "domain_registrar": {"description": "a vendor id, or the name of one of the client's vendors"},
        "domain_webhost": {"description": "a vendor id, or the name of one of the client's vendors"},
    }),
    lookups=[Lookup("domain_id", "int", single=True), Lookup("domain_name", transform=strip_scheme)],
)


def _is_name(raw):
    if raw is None or isinstance(raw, (bool, int, float)):
        return False
    text = str(raw).strip()
    return bool(text) and not text.lstrip("+-").replace(".", "", 1).isdigit()


def vendor_by_name(call, field, name, client_id):
    """The id of the client's unarchived vendor called `name` (case-insensitive)."""
    vendors = call.db.rows("SELECT vendor_id, vendor_name FROM vendors WHERE vendor_client_id = :client "
                           "AND vendor_archived_at IS NULL ORDER BY vendor_name, vendor_id", {"client": client_id})
    wanted = name.strip().lower()
    found = [int(v["vendor_id"]) for v in vendors if str(v["vendor_name"]).strip().lower() == wanted]
    if len(found) == 1:
        return found[0]
    if found:
        raise Refused(f"Client {client_id} has {len(found)} vendors named {name.strip()!r} "
                      f"(vendor_id {', '.join(map(str, found))}): send {field} as the vendor id.")
    names = ", ".join(str(v["vendor_name"]) for v in vendors) or "none"
    raise Refused(f"No vendor named {name.strip()!r} for client {client_id}: {field} takes a vendor id or "
                  f"the name of one of the client's vendors ({names}).")


def parse_with_vendor_names(operation, call, client_of):
    """The request's fields, a vendor field sent as a name replaced by its vendor id
    (`client_of()`: the domain's client, asked only when a name was sent)."""
    named = {name: vendor_by_name(call, name, str(call.params.get(name)), client_of())
             for name in VENDOR_FIELDS if call.params.has(name) and _is_name(call.params.get(name))}
    return {f.name: named[f.name] if f.name in named else f.parse(call.params.get(f.name))
            for f in operation.module.fields if call.params.has(f.name)}


class DomainCreate(Create):
    def parse_given(self, call):
        return parse_with_vendor_names(self, call, lambda: call.scope.write_client or 0)


class DomainUpdate(Update):
    def apply(self, call, record_id, current):
        call.memo["domain_client"] = int(current["domain_client_id"] or 0)
        return super().apply(call, record_id, current)

    def parse_given(self, call):
        return parse_with_vendor_names(self, call, lambda: call.memo.get("domain_client", 0))
