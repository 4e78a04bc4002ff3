"""Documentation generated from the module definitions and the route table, so that what
the README lists is what the server serves."""
from collections import defaultdict


def _lookups(module):
    parts = []
    for lookup in module.lookups:
        note = f" ({lookup.description})" if lookup.description else ""
        parts.append(f"`{lookup.param}`{note}")
    return ", ".join(parts) or "—"


def endpoint_table(routes):
    """Markdown: one row per module with its functions, read look-ups and create requirements."""
    by_module = defaultdict(list)
    for path, endpoint in sorted(routes.items()):
        module_name, function = path.split("/")[3], path.split("/")[4][:-4]
        by_module[module_name].append((function, endpoint))
    lines = ["| module | functions (GET: read; others POST) | read look-ups | create requires |",
             "|---|---|---|---|"]
    for module_name, functions in sorted(by_module.items()):
        definition = next((getattr(e, "module", None) for _, e in functions if getattr(e, "module", None)), None)
        names = ", ".join(f for f, _ in sorted(functions, key=lambda item: _ORDER.get(item[0], 99)))
        if definition is None:
            lines.append(f"| {module_name} | {names} | see the endpoint | — |")
            continue
        required = [f"`{name}`" for name in definition.required]
        if definition.client_column and definition.client_column != definition.id_column \
                and not definition.client_optional:
            required.append("a client")
        if definition.create_needs_all_clients_key:
            required.append("an all-clients key")
        lines.append(f"| {module_name} | {names} | {_lookups(definition)} | {', '.join(required) or '—'} |")
    return "\n".join(lines)


_ORDER = {name: i for i, name in enumerate(("read", "create", "update", "delete", "archive", "unarchive", "resolve"))}
