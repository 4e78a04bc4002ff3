"""The `itflow-api` command: init-db, keys, serve, version.

This is the entry point, so it is the one place that reads environment variables
(ITFLOW_API_CONFIG, ITFLOW_API_<SECTION>_<KEY>, and the password variables below).
Secrets are never taken as command-line arguments, where `ps` would show them.
"""
import argparse
import getpass
import logging
import os
import sys
from datetime import date, timedelta

from .. import __version__
from . import config as config_module
from .auth import LAYOUT_USER, HASH_PREFIX, KeyManagementError, KeyStore, load_secret
from .db import Database, DatabaseError

DECRYPT_ENV = "ITFLOW_API_DECRYPT_PASSWORD"
UNLOCK_ENV = "ITFLOW_API_UNLOCK_PASSWORD"


def _fail(message):
    print(f"itflow-api: {message}", file=sys.stderr)
    return 2


def _load_config(args):
    path = args.config or os.environ.get("ITFLOW_API_CONFIG")
    return config_module.load(path, environ=os.environ)


def _open(cfg, create_sqlite_schema=False):
    db = Database.from_config(cfg.database)
    tables = db.table_names()
    if "api_keys" not in tables:
        if cfg.database.backend == "sqlite" and create_sqlite_schema:
            db.create_schema()
        else:
            raise config_module.ConfigError(
                f"the database ({_describe(cfg)}) has no ITFlow tables: run `itflow-api init-db` first")
    return db


def _describe(cfg):
    d = cfg.database
    if d.backend == "sqlite":
        return f"SQLite file {os.path.abspath(d.path)}"
    from .db import mysql_driver
    try:
        driver = mysql_driver(d.driver)
    except Exception:
        driver = d.driver
    return f"MySQL {d.user}@{d.host}:{d.port}/{d.name} via {driver}"


def _secret_from(env_name, prompt):
    value = os.environ.get(env_name)
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise KeyManagementError(f"no terminal to ask for the {prompt}: set {env_name}")
    first = getpass.getpass(f"{prompt}: ")
    return first


def cmd_init_db(args, cfg):
    db = Database.from_config(cfg.database)
    db.create_schema("user" if args.user_keys else "client")
    print(f"Schema ready in {_describe(cfg)} ({len(db.table_names())} tables).")
    return 0


def _default_expiry():
    return (date.today() + timedelta(days=365)).isoformat()


def cmd_keys(args, cfg):
    db = _open(cfg, create_sqlite_schema=True)
    keys = KeyStore(db, load_secret(cfg.security))
    if args.keys_command == "create":
        try:
            expire = date.fromisoformat(args.expire).isoformat()
        except ValueError:
            return _fail(f"--expire must be a date YYYY-MM-DD, got {args.expire!r}")
        owner = args.user_id if keys.layout == LAYOUT_USER else args.client_id
        if keys.layout == LAYOUT_USER and not owner:
            return _fail("this database ties keys to users (ITFlow 2.4.7+): pass --user-id")
        decrypt_password = unlock_password = None
        if args.with_decrypt_password:
            decrypt_password = _secret_from(DECRYPT_ENV, "Decrypt password for the new key")
            if not decrypt_password:
                return _fail("the decrypt password cannot be empty")
            if args.unlock_key:
                unlock_password = _secret_from(UNLOCK_ENV, "Decrypt password of the unlock key")
        presented, key_id = keys.create(args.name, expire, owner or 0, decrypt_password,
                                        args.unlock_key, unlock_password)
        scope = f"user {owner}" if keys.layout == LAYOUT_USER else (f"client {owner}" if owner else "all clients")
        print(f"Created key {key_id} '{args.name}' for {scope}, valid until {expire} (exclusive).")
        print("The key is shown once; store it now:")
        print(presented)
        return 0
    if args.keys_command == "list":
        rows = keys.list()
        owner_col = "api_key_user_id" if keys.layout == LAYOUT_USER else "api_key_client_id"
        print(f"{'id':>4}  {'name':<24} {'owner':<10} {'expires':<10}  {'storage':<9} decrypt  status")
        today = date.today().isoformat()
        for r in rows:
            storage = "hashed" if r["api_key_secret"].startswith(HASH_PREFIX) else "clear"
            status = "active" if r["api_key_expire"] > today else "expired"
            owner = r[owner_col]
            owner = ("user " + owner) if keys.layout == LAYOUT_USER else ("all" if owner == "0" else "client " + owner)
            print(f"{r['api_key_id']:>4}  {r['api_key_name'][:24]:<24} {owner:<10} {r['api_key_expire']:<10}  "
                  f"{storage:<9} {'yes' if r['api_key_decrypt_hash'] else 'no':<8} {status}")
        if not rows:
            print("(no keys: create one with `itflow-api keys create --name NAME`)")
        return 0
    if args.keys_command == "revoke":
        if keys.revoke(args.key_id):
            print(f"Revoked key {args.key_id}.")
            return 0
        return _fail(f"no key with id {args.key_id} (see `itflow-api keys list`)")
    return _fail("choose one of: keys create, keys list, keys revoke")


def cmd_serve(args, cfg):
    from .app import create_app

    for name in ("host", "port", "threads", "workers"):
        if getattr(args, name):
            setattr(cfg.server, name, getattr(args, name))
    db = _open(cfg, create_sqlite_schema=True)
    app = create_app(cfg, db)
    print(f"itflow-api {__version__}: {len(app.routes)} endpoints on {_describe(cfg)}", flush=True)
    if cfg.source == "defaults" and cfg.database.backend == "sqlite":
        _print_example(cfg, app.service.keys)
    try:
        if cfg.server.workers > 1 and hasattr(os, "fork"):
            db.close()  # each worker opens its own pool after the fork
            return _serve_workers(cfg, lambda: create_app(cfg, Database.from_config(cfg.database)))
        _waitress(app, cfg, host=cfg.server.host, port=cfg.server.port)
    except OSError as exc:
        return _fail(f"cannot listen on {cfg.server.host}:{cfg.server.port} ({exc.strerror}): "
                     "choose another with --port")
    return 0


def _print_example(cfg, keys):
    if keys.layout == LAYOUT_USER:
        return
    presented, _ = keys.create("example key (itflow-api serve)", (date.today() + timedelta(days=30)).isoformat())
    host = "127.0.0.1" if cfg.server.host in ("0.0.0.0", "::") else cfg.server.host
    print("A fresh all-clients key for trying it out (valid 30 days; `itflow-api keys revoke` removes it):")
    print(f'  curl "http://{host}:{cfg.server.port}/api/v1/clients/read.php?api_key={presented}"', flush=True)


def _waitress(app, cfg, **where):
    import waitress
    waitress.serve(app, threads=cfg.server.threads, ident="itflow-api",
                   max_request_body_size=cfg.server.max_body_bytes + 1, clear_untrusted_proxy_headers=False,
                   **where)


def _serve_workers(cfg, build_app):
    """Pre-forked workers: the parent binds the port, every child accepts on it with its own
    waitress threads, app and database pool (never shared across the fork)."""
    import signal
    import socket

    listener = socket.create_server((cfg.server.host, cfg.server.port), backlog=1024)
    children = []
    for _ in range(cfg.server.workers):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _waitress(build_app(), cfg, sockets=[listener])
            except KeyboardInterrupt:
                pass
            except Exception:
                logging.getLogger("itflow_api").exception("worker failed")
                code = 1
            os._exit(code)
        children.append(pid)
    print(f"{cfg.server.workers} workers on http://{cfg.server.host}:{cfg.server.port}", flush=True)

    def stop(signum, frame):
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for pid in children:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    return 0


def cmd_endpoints(args, cfg):
    from . import docs, routing
    print(docs.endpoint_table(routing.discover()))
    return 0


def cmd_openapi(args, cfg):
    from . import openapi, routing
    extra = [cfg.server.custom_endpoints] if cfg.server.custom_endpoints else []
    sys.stdout.write(openapi.encoded(routing.discover(extra), cfg.server).decode("utf-8") + "\n")
    return 0


def cmd_version(args, cfg):
    print(f"itflow-api {__version__}")
    if cfg.database.backend == "sqlite" and not os.path.exists(cfg.database.path):
        print(f"database: {_describe(cfg)} does not exist yet (`itflow-api serve` or `init-db` creates it)")
        return 0
    try:
        db = Database.from_config(cfg.database)
        tables = db.table_names()
    except Exception as exc:  # the version must print even when the database is down
        print(f"database: {_describe(cfg)}: not reachable ({type(exc).__name__})")
        return 0
    if "api_keys" in tables:
        layout = KeyStore(db, b"", None).layout
        model = "keys act as users (ITFlow 2.4.7+)" if layout == LAYOUT_USER else "keys scoped to a client (ITFlow 2.4.6)"
        print(f"database: {_describe(cfg)}, {len(tables)} tables, {model}")
    else:
        print(f"database: {_describe(cfg)}, no ITFlow schema yet (run `itflow-api init-db`)")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="itflow-api",
        description="ITFlow-compatible v1 API server. With no configuration it serves an "
                    "embedded SQLite database in the current directory.",
        epilog="Configuration: --config FILE or ITFLOW_API_CONFIG (see config.example.ini); any "
               "setting can be overridden as ITFLOW_API_<SECTION>_<KEY>, e.g. ITFLOW_API_DATABASE_BACKEND=mysql.",
    )
    parser.add_argument("--config", help="ini file (default: built-in SQLite settings)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    init = sub.add_parser("init-db", help="create the ITFlow tables and seed rows (safe to repeat)")
    init.add_argument("--user-keys", action="store_true",
                      help="make api_keys tie keys to users (ITFlow 2.4.7+) instead of clients (2.4.6)")

    keys = sub.add_parser("keys", help="create, list or revoke API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION")
    create = keys_sub.add_parser("create", help="create a key and print it once",
                                 description=f"Create an API key. With --with-decrypt-password the key "
                                             f"can read and write credentials; the password is read from "
                                             f"{DECRYPT_ENV} or asked for. A database that already has a "
                                             f"master key needs --unlock-key (its password from {UNLOCK_ENV} "
                                             f"or asked for).")
    create.add_argument("--name", required=True, help="a name that shows in logs")
    create.add_argument("--expire", default=_default_expiry(),
                        help="expiry date YYYY-MM-DD; the key stops at 00:00 that day (default: in one year)")
    create.add_argument("--client-id", type=int, default=0, help="limit the key to one client (default: all clients)")
    create.add_argument("--user-id", type=int, default=0, help="the user the key acts as (ITFlow 2.4.7+ databases)")
    create.add_argument("--with-decrypt-password", action="store_true", help="let the key decrypt credentials")
    create.add_argument("--unlock-key", help="an existing key that can decrypt, to unlock the master key")
    keys_sub.add_parser("list", help="list keys (never shows them)")
    revoke = keys_sub.add_parser("revoke", help="delete a key")
    revoke.add_argument("key_id", type=int)

    serve = sub.add_parser("serve", help="run the API server (waitress)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080)")
    serve.add_argument("--threads", type=int, help="threads per process (default 8)")
    serve.add_argument("--workers", type=int, help="processes sharing the port (default 1; Linux/macOS)")

    sub.add_parser("endpoints", help="print the table of endpoints, look-ups and required fields (Markdown)")
    sub.add_parser("version", help="show the version and the database it would use")
    sub.add_parser("openapi", help="print the OpenAPI 3.1 document (also served at /api/v1/openapi.json)")
    return parser


COMMANDS = {"init-db": cmd_init_db, "keys": cmd_keys, "serve": cmd_serve, "endpoints": cmd_endpoints,
            "version": cmd_version, "openapi": cmd_openapi}


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = _load_config(args)
        if args.command == "keys" and not args.keys_command:
            parser.parse_args(["keys", "--help"])
        return COMMANDS[args.command](args, cfg)
    except (config_module.ConfigError, KeyManagementError, DatabaseError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if type(exc).__name__ == "OperationalError":
            return _fail(f"cannot use the database ({_describe(cfg)}): {getattr(exc, 'orig', exc)}")
        raise


if __name__ == "__main__":
    sys.exit(main())
