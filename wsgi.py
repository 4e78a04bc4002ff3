"""The WSGI entry point, `itflow_api.wsgi:application`, for running the API inside a WSGI host
of your own instead of `itflow-api serve`: Apache's mod_wsgi in ITFlow's own virtual host
(deploy/apache-mod-wsgi.conf, docs/operations.md "Inside Apache (mod_wsgi)"), or any other.

The configuration is the ini file named by ITFLOW_API_CONFIG, else /etc/itflow-api/config.ini,
overridden by ITFLOW_API_<SECTION>_<KEY> variables, as for the command. The app is built when
the module is imported (mod_wsgi imports it as its daemon process starts), the same way
`serve` builds it; a setting or database that cannot be used stops the import with the
reason, which the host writes to its error log.

mod_wsgi loads this file by its path, not as part of the package, so it imports the package
by its full name. Under `WSGIScriptAlias /api ...` a request for /api/v1/clients/read.php
arrives as SCRIPT_NAME /api and PATH_INFO /v1/clients/read.php: `application` joins them
again, because the API answers at the full path the client asked for.
"""
import atexit
import logging
import os

from itflow_api.lib import cli
from itflow_api.lib.access.keys import KeyStore, check_secret, load_secret
from itflow_api.lib.db import meta
from itflow_api.lib.web import config as config_module
from itflow_api.lib.web import servers
from itflow_api.lib.web.app import create_app

CONFIG_ENV = "ITFLOW_API_CONFIG"
DEFAULT_CONFIG = "/etc/itflow-api/config.ini"


def build(path=None, environ=None):
    """The API's WSGI app for the configuration at `path` (default: ITFLOW_API_CONFIG, else
    DEFAULT_CONFIG), with webhook delivery started when [events] deliver_in_serve asks for it;
    the database pool is closed when the process exits."""
    environ = os.environ if environ is None else environ
    cfg = config_module.load(path or environ.get(CONFIG_ENV) or DEFAULT_CONFIG, environ=environ)
    config_module.check(cfg)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cli._set_log_level(cfg.log.level)
    db = cli._open(cfg, create_sqlite_schema=True)
    meta.ensure(db)
    secret = load_secret(cfg.security)
    check_secret(db, secret)
    app = create_app(cfg, db, KeyStore(db, secret, cache_seconds=cfg.security.key_cache_seconds))
    deliverer = servers.start_delivery(app, cfg)
    atexit.register(db.close)
    if deliverer is not None:
        atexit.register(deliverer.stop)  # registered last, so it runs before the pool closes
    logging.getLogger("itflow_api.wsgi").info("%d endpoints on %s; pid %d", len(app.routes), cli._describe(cfg),
                                              os.getpid())
    return app


def mounted(app):
    """`app` answering at the full path wherever the host mounts it: SCRIPT_NAME (the mount
    point, e.g. /api) goes back in front of PATH_INFO."""
    def joined(environ, start_response):
        environ["PATH_INFO"] = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        environ["SCRIPT_NAME"] = ""
        return app(environ, start_response)
    return joined


application = mounted(build())
