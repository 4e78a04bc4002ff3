"""The route table, built once at start-up by scanning api/v1/ for endpoint files.

api/v1/<module>/<function>.py answers /api/v1/<module>/<function>.php: adding a file adds
an endpoint. Files whose name starts with '_' are helpers, not endpoints.
"""
import importlib
import importlib.util
import os

_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
API_ROOT = os.path.join(_PACKAGE_ROOT, "api", "v1")
PACKAGE = __name__.split(".")[0]  # "itflow_api"


def _endpoint_files(root):
    if not os.path.isdir(root):
        return
    for module in sorted(os.listdir(root)):
        folder = os.path.join(root, module)
        if not os.path.isdir(folder) or module.startswith(("_", ".")):
            continue
        for filename in sorted(os.listdir(folder)):
            if filename.endswith(".py") and not filename.startswith("_"):
                yield module, filename[:-3], os.path.join(folder, filename)


def _load(module, function, path, root):
    if root == API_ROOT:
        loaded = importlib.import_module(f"{PACKAGE}.api.v1.{module}.{function}")
    else:
        spec = importlib.util.spec_from_file_location(f"{PACKAGE}_extra.{module}.{function}", path)
        loaded = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loaded)
    found = getattr(loaded, "endpoint", None)
    if found is None or getattr(found, "method", None) not in ("GET", "POST"):
        raise RuntimeError(f"{path} must define `endpoint` with method GET or POST")
    return found


def discover(extra_roots=()):
    """{url path: endpoint} for every endpoint file under api/v1/ (and any extra roots)."""
    routes = {}
    for root in extra_roots:
        if not os.path.isdir(root):
            raise RuntimeError(f"custom_endpoints folder {root} does not exist")
    for root in (API_ROOT, *extra_roots):
        for module, function, path in _endpoint_files(root):
            routes[f"/api/v1/{module}/{function}.php"] = _load(module, function, path, root)
    return routes
