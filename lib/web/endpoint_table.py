"""Documentation generated from the module definitions and the route table, so that what
the README lists is what the server serves."""
from collections import defaultdict

from ..itflow import schema


def _lookups(module):
    parts = []
    for lookup in module.lookups:
        note = f" ({lookup.description})" if lookup.description else ""
        parts.append(f"`{lookup.param}`{note}")
    text = ", ".join(parts) or "—"
    return f"{text}; {module.read_notes}" if module.read_notes else text


def _create_needs(module, functions):
    if "create" not in functions:
        return "— (read only)" if set(functions) <= {"read"} else "— (no create)"
    needs = [f"`{name}`" for name in module.required]
    own_client_column = module.client_column in {c.name for c in schema.columns(module.table)}
    if own_client_column and module.client_column != module.id_column and not module.client_optional:
        needs.append("a client")
    if module.create_needs_all_clients_key:
        needs.append("an all-clients key")
    return ", ".join(needs) or "—"


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
        ordered = [f for f, _ in sorted(functions, key=lambda item: _ORDER.get(item[0], 99))]
        names = ", ".join(ordered)
        if definition is None:  # hand-written endpoints describe their own parameters
            parameters = "; ".join(f"{f}: {getattr(e, 'parameters', '') or 'see the endpoint'}" for f, e in functions)
            writes = any(getattr(e, "method", "GET") != "GET" for _, e in functions)
            lines.append(f"| {module_name} | {names} | {parameters} | {'as its parameters say' if writes else '— (read only)'} |")
            continue
        lines.append(f"| {module_name} | {names} | {_lookups(definition)} | {_create_needs(definition, ordered)} |")
    return "\n".join(lines)


_ORDER = {name: i for i, name in enumerate(("read", "create", "update", "delete", "archive", "unarchive", "resolve"))}
