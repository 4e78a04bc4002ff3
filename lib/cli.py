"""The `itflow-api` command: init-db, keys, serve, endpoints, openapi, version.

This is the entry point, so it is the one place that reads environment variables
(ITFLOW_API_CONFIG, ITFLOW_API_<SECTION>_<KEY>, and the password variables below).
Secrets are never taken as command-line arguments, where `ps` would show them.

Every refusal is one line on stderr and a non-zero exit (2: the command or a setting is
wrong; 1: the start failed, e.g. the port is taken or the database cannot be reached); a
start that fails leaves nothing behind.
"""
import argparse
import contextlib
import getpass
import logging
import os
import sys
from datetime import date, timedelta

from .. import __version__
from .access.keys import HASH_PREFIX, LAYOUT_USER, KeyStore, check_secret
from .access.secret import KeyManagementError, load_secret
from .db import meta
from .db.database import Database
from .db.drivers import driver_errors
from .db.errors import DatabaseError
from .itflow import schema
from .web import config as config_module
from .web import servers as server

DECRYPT_ENV = "ITFLOW_API_DECRYPT_PASSWORD"
UNLOCK_ENV = "ITFLOW_API_UNLOCK_PASSWORD"
EXAMPLE_KEY_NAME = "example key (itflow-api serve)"


class StartFailed(Exception):
    """The command could not do its work for a reason outside the command line: exit 1."""


def _fail(message, code=2):
    print(f"itflow-api: {message}", file=sys.stderr)
    return code


def _config_path(args):
    return args.config or os.environ.get("ITFLOW_API_CONFIG")


def _load_config(args):
    return config_module.load(_config_path(args), environ=os.environ)


def _describe(cfg):
    d = cfg.database
    if d.backend == "sqlite":
        return f"SQLite file {os.path.abspath(d.path)}"
    from .db.drivers import mysql_driver
    try:
        driver = mysql_driver(d.driver)
    except DatabaseError:
        driver = d.driver
    hint = ""
    if driver == "pymysql" and d.driver == "auto":
        from .db.drivers import CONNECTOR_PROBLEM
        hint = (f" (the faster mysql-connector C extension does not load here: {CONNECTOR_PROBLEM}; "
                "pip install 'mysql-connector-python>=9.4,<26')")
    return f"MySQL {d.user}@{d.host}:{d.port}/{d.name} via {driver}{hint}"


def _connect(cfg):
    """The database and its table names; a database that cannot be reached is a StartFailed."""
    try:
        db = Database.from_config(cfg.database)
        return db, db.table_names()
    except (DatabaseError, *driver_errors()) as exc:
        raise StartFailed(f"cannot reach the database ({_describe(cfg)}): {exc}") from None


def _open(cfg, create_sqlite_schema=False):
    db, tables = _connect(cfg)
    if "api_keys" not in tables:
        if cfg.database.backend == "sqlite" and create_sqlite_schema:
            db.create_schema()
            meta.put(db, meta.SCHEMA_OWNER, "itflow-api")
        else:
            raise StartFailed(f"the database ({_describe(cfg)}) has no ITFlow tables: run `itflow-api init-db` first")
    return db


@contextlib.contextmanager
def _nothing_left_on_failure(cfg):
    """Files this command creates (the SQLite database, the secret file) are removed again
    when it fails before it is up."""
    candidates = [cfg.security.secret_file] if not cfg.security.key_hash_secret else []
    if cfg.database.backend == "sqlite":
        candidates += [cfg.database.path + suffix for suffix in ("", "-journal", "-wal", "-shm")]
    absent = [path for path in candidates if not os.path.exists(path)]
    try:
        yield
    except BaseException:
        for path in absent:
            with contextlib.suppress(OSError):
                os.remove(path)
        raise


def _secret_from(env_name, prompt):
    value = os.environ.get(env_name)
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise KeyManagementError(f"no terminal to ask for the {prompt}: set {env_name}")
    return getpass.getpass(f"{prompt}: ")


# --- init-db ------------------------------------------------------------------------------

def cmd_init_db(args, cfg):
    if args.events and args.no_events:
        return _fail("choose one of --events and --no-events")
    db, tables = _connect(cfg)
    _init_schema(args, cfg, db, tables)
    if args.events or args.no_events:
        from .events import capture
        try:
            if args.events:
                done = capture.install(db)
                from .events import webhooks
                webhooks.install(db)  # the subscriptions' tables (lib/events/webhooks.py)
                print(f"Events on: capture triggers on {len(done)} tables ({', '.join(done)}); "
                      f"events in {capture.EVENTS}.")
            else:
                dropped = capture.uninstall(db)
                print(f"Events off: {len(dropped)} capture triggers removed; {capture.EVENTS} is kept "
                      "(drop it by hand if no longer wanted).")
        except capture.CaptureError as exc:
            raise StartFailed(f"cannot {'install' if args.events else 'remove'} the event capture triggers: "
                              f"{exc}") from None
    return 0


def _init_schema(args, cfg, db, tables):
    itflow_tables = set(schema.tables())
    ours = meta.get(db, meta.SCHEMA_OWNER) == "itflow-api"
    if tables & itflow_tables and not ours and not args.add_missing:
        # ITFlow's own database: its tables and rows are ITFlow's to change, never ours.
        missing_tables = sorted(itflow_tables - tables)
        missing_rows = [f"{table} {row[key]}" for table, key, row in schema.seed_rows()
                        if table in tables and not _has_row(db, table, key, row[key])]
        meta.ensure(db)
        print(f"{_describe(cfg)} is an existing ITFlow database: its tables and rows are left as they are.")
        print(f"Added only this server's own table {meta.TABLE}.")
        if missing_tables or missing_rows:
            print("Compared with the schema this server knows, it lacks "
                  + "; ".join(filter(None, [
                      f"tables {', '.join(missing_tables)}" if missing_tables else "",
                      f"seed rows {', '.join(missing_rows)}" if missing_rows else ""]))
                  + ". `itflow-api init-db --add-missing` would add them (ITFlow's own update normally does).")
        return
    db.create_schema("user" if args.user_keys else "client")
    meta.ensure(db)
    if ours or not tables & itflow_tables:
        meta.put(db, meta.SCHEMA_OWNER, "itflow-api")
    print(f"Schema ready in {_describe(cfg)} ({len(db.table_names())} tables).")


def _has_row(db, table, key, value):
    with db.transaction():
        return db.count(table, {key: value}) > 0


# --- keys -------------------------------------------------------------------------------

def _default_expiry():
    return (date.today() + timedelta(days=365)).isoformat()


def _check_owner(db, layout, args):
    """The client or user a new key is for must exist, in the layout the database has."""
    if layout == LAYOUT_USER:
        if args.client_id:
            raise KeyManagementError("this database ties keys to users (ITFlow 2.4.7+ layout): "
                                     "pass --user-id, not --client-id (a user's client list limits the key)")
        if not args.user_id:
            raise KeyManagementError("this database ties keys to users (ITFlow 2.4.7+ layout): pass --user-id")
        table, column, owner = "users", "user_id", args.user_id
    else:
        if args.user_id:
            raise KeyManagementError("this database scopes keys to clients (ITFlow 2.4.6 layout), so a key "
                                     "cannot act as a user: pass --client-id, or none for all clients")
        if not args.client_id:
            return 0
        table, column, owner = "clients", "client_id", args.client_id
    with db.transaction():
        if not db.count(table, {column: owner}):
            raise KeyManagementError(f"there is no {table[:-1]} with id {owner}")
    return owner


def cmd_keys(args, cfg):
    expire = None
    if args.keys_command == "create":
        try:
            expire = date.fromisoformat(args.expire)
        except ValueError:
            return _fail(f"--expire must be a date YYYY-MM-DD, got {args.expire!r}")
        if expire <= date.today():
            return _fail(f"--expire {expire.isoformat()} is not in the future: the key would never work")
    if args.keys_command not in ("create", "list", "revoke"):
        return _fail("choose one of: keys create, keys list, keys revoke")
    if args.keys_command != "create" and cfg.database.backend == "sqlite" and not os.path.exists(cfg.database.path):
        # Looking is not creating: no database file, no secret file left behind.
        if args.keys_command == "list":
            print(f"No API keys: there is no database at {cfg.database.path} yet "
                  "(`itflow-api init-db` or `itflow-api serve` creates it; --config FILE names another).")
            return 0
        return _fail(f"no key with id {args.key_id}: there is no database at {cfg.database.path} yet")
    with _nothing_left_on_failure(cfg):
        db = _open(cfg, create_sqlite_schema=True)
        secret = load_secret(cfg.security)
        keys = KeyStore(db, secret)
        if args.keys_command == "create":
            check_secret(db, secret)
            return _create_key(args, keys, _check_owner(db, keys.layout, args), expire)
    if args.keys_command == "list":
        return _list_keys(keys)
    if keys.revoke(args.key_id):
        print(f"Revoked key {args.key_id}.")
        return 0
    return _fail(f"no key with id {args.key_id} (see `itflow-api keys list`)")


def _create_key(args, keys, owner, expire):
    decrypt_password = unlock_password = None
    if args.with_decrypt_password:
        decrypt_password = _secret_from(DECRYPT_ENV, "Decrypt password for the new key")
        if not decrypt_password:
            raise KeyManagementError("the decrypt password cannot be empty")
        if args.unlock_key:
            unlock_password = _secret_from(UNLOCK_ENV, "Decrypt password of the unlock key")
    presented, key_id = keys.create(args.name, expire.isoformat(), owner, decrypt_password,
                                    args.unlock_key, unlock_password)
    scope = f"user {owner}" if keys.layout == LAYOUT_USER else (f"client {owner}" if owner else "all clients")
    print(f"Created key {key_id} '{args.name}' for {scope}, valid until {expire} (exclusive).")
    print("The key is shown once; store it now:")
    print(presented)
    return 0


def _list_keys(keys):
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


# --- serve ------------------------------------------------------------------------------

def open_app(cfg):
    """(app, database, key hash secret) for a checked configuration: what `serve` and a WSGI
    host of one's own (itflow_api.wsgi) both start from. An SQLite file is created with its
    schema; any other database must already hold one (init-db)."""
    from .web.app import create_app

    db = _open(cfg, create_sqlite_schema=True)
    meta.ensure(db)
    secret = load_secret(cfg.security)
    check_secret(db, secret)
    return create_app(cfg, db, KeyStore(db, secret, cache_seconds=cfg.security.key_cache_seconds)), db, secret


def _serve_config(args, cfg):
    """`cfg` with serve's command-line options applied, checked."""
    return server.apply_serve_options(cfg, _serve_options(args))


def _serve_options(args):
    return {name: getattr(args, name) for name in server.SERVE_OPTIONS if getattr(args, name, None) is not None}


def cmd_serve(args, cfg):
    _serve_config(args, cfg)
    s = cfg.server
    if s.http_server == "granian" and not server.granian_available():
        return _fail("granian is not installed here (it is a wheel for Linux, macOS and Windows on x86-64 and "
                     "ARM): pip install granian, or use --server waitress")
    previous_handlers = server.catch_stop_signals()
    try:
        handed = server.inherited()  # a reload's re-execution keeps the socket it had
        if handed:
            listener, s.host, s.port = handed
        else:
            listener = server.bind(s.host, s.port)  # first: a port in use must not leave a database or key
    except BaseException:
        server.restore_signals(previous_handlers)
        raise
    try:
        with _nothing_left_on_failure(cfg):
            app, db, secret = open_app(cfg)
    except BaseException:
        listener.close()
        server.restore_signals(previous_handlers)
        raise
    workers = s.workers if hasattr(os, "fork") or s.http_server == "granian" else 1
    print(f"itflow-api {__version__}: {len(app.routes)} endpoints on {_describe(cfg)}; "
          f"{s.http_server}, {workers} worker(s) x {s.threads} threads", flush=True)
    print(f"database: {app.service.itflow.describe()}", flush=True)
    _print_key_hint(cfg, app.service.keys)
    if server.supervises_lightly(cfg):  # every check has passed: the light supervisor serves from here
        db.close()
        listener.close()
        if server.stopping():
            return 0
        server.hand_over_to_supervisor(cfg, _config_path(args), _serve_options(args), secret)
    reload = server.reloader(_config_path(args), _serve_options(args))
    return server.serve(cfg, listener, app=app, cleanup=db.close, build=server.app_builder(cfg, secret), reload=reload)


def _print_key_hint(cfg, keys):
    """A zero-configuration start on a database with no key prints a ready request with a
    fresh key; every other start only says how to make or list keys."""
    with keys.db.transaction():
        count = keys.db.count("api_keys", {})
    zero_config = cfg.source == "defaults" and cfg.database.backend == "sqlite" and keys.layout != LAYOUT_USER
    if zero_config and not count:
        presented, _ = keys.create(EXAMPLE_KEY_NAME, (date.today() + timedelta(days=30)).isoformat())
        host = server._url_host(cfg.server.host)
        print("A fresh all-clients key for trying it out (valid 30 days; `itflow-api keys revoke` removes it):")
        print(f'  curl "http://{host}:{cfg.server.port}/api/v1/clients/read.php?api_key={presented}"', flush=True)
    elif count:
        print(f"{count} API key(s) in the database: `itflow-api keys list` shows them, "
              "`itflow-api keys create --name NAME` makes another.", flush=True)
    else:
        print("No API keys yet: make one with `itflow-api keys create --name NAME`.", flush=True)


# --- deliver ----------------------------------------------------------------------------

def cmd_deliver(args, cfg):
    """Run the webhook delivery worker in the foreground until SIGTERM/SIGINT. Any number may
    run beside the serve processes, on any host: a lease on each subscription shares the work."""
    import signal
    import threading

    from .events import delivery, webhooks
    config_module.check(cfg)
    db = _open(cfg)
    secret = load_secret(cfg.security)
    check_secret(db, secret)
    webhooks.configure(db, webhooks.Settings.from_config(secret, cfg.events))
    worker = delivery.Worker(db, webhooks.settings_for(db), retention_days=cfg.events.retention_days)
    previous = {sig: signal.signal(sig, lambda signum, frame: worker.stop()) for sig in server.STOP_SIGNALS}
    print(f"delivering webhooks from {_describe(cfg)} as {worker.owner}", flush=True)
    try:
        if args.once:
            if worker.ready():
                print(f"{worker.run_once()} attempt(s)")
            return 0
        thread = threading.Thread(target=worker.run, name="webhook-delivery", daemon=True)
        thread.start()
        while thread.is_alive():
            thread.join(0.5)
    finally:
        server.restore_signals(previous)
        db.close()
    return 0


def _webhooks_db(cfg):
    """The database, configured for webhooks (the secret's key, [events]); events must be on."""
    from .events import feed, webhooks
    db = _open(cfg)
    secret = load_secret(cfg.security)
    check_secret(db, secret)
    webhooks.configure(db, webhooks.Settings.from_config(secret, cfg.events))
    if not feed.installed(db):
        raise StartFailed("events are not installed in this database: run `itflow-api init-db --events`")
    webhooks.install(db)
    return db


def cmd_webhooks(args, cfg):
    """Subscriptions of every key: list, create (for a key, by its id), delete, test."""
    from .core.envelope import ApiError
    from .events import delivery, feed, webhooks
    action = args.webhooks_command
    if action not in ("list", "create", "delete", "test"):
        return _fail("choose one of: webhooks list, webhooks create, webhooks delete, webhooks test")
    db = _webhooks_db(cfg)
    try:
        if action == "list":
            with db.transaction():
                rows = db.rows(f"SELECT * FROM {webhooks.TABLE} ORDER BY webhook_id")
            print(f"{'id':>4}  {'key':>4}  {'state':<8} {'cursor':>8} {'fails':>5}  url  [modules / actions / client]")
            for r in rows:
                state = "on" if r["webhook_enabled"] == "1" else "off"
                filters = " / ".join((r["webhook_modules"] or "all", r["webhook_actions"] or "all",
                                      r["webhook_client_id"] if r["webhook_client_id"] != "0" else "all"))
                print(f"{r['webhook_id']:>4}  {r['webhook_key_id']:>4}  {state:<8} {r['webhook_event_seq']:>8} "
                      f"{r['webhook_failures']:>5}  {r['webhook_url']}  [{filters}]")
                if r["webhook_disabled_reason"]:
                    print(f"      disabled: {r['webhook_disabled_reason']}")
            if not rows:
                print("(no webhooks: create one with `itflow-api webhooks create --key-id ID --url URL`)")
            return 0
        if action == "create":
            with db.transaction(write=True):
                key = webhooks.current_key(db, args.key_id)
                if key is None:
                    return _fail(f"no active key with id {args.key_id} (see `itflow-api keys list`)")
                url = webhooks.checked_url(db, args.url)
                modules = webhooks.names(args.modules, webhooks.MODULES, "--modules")
                actions = webhooks.names(args.actions, webhooks.ACTIONS, "--actions")
                client_id = webhooks.client_filter(args.client_id, key)
                webhook_id, secret = webhooks.create(db, key, url, modules, actions, client_id, feed.sequence(db))
            print(f"Created webhook {webhook_id} for key {key.id}. Its signing secret (shown only now):")
            print(secret, flush=True)
            return 0
        with db.transaction():
            row = db.row(f"SELECT * FROM {webhooks.TABLE} WHERE webhook_id = :id", {"id": args.webhook_id})
        if row is None:
            return _fail(f"no webhook with id {args.webhook_id} (see `itflow-api webhooks list`)")
        if action == "delete":
            with db.transaction(write=True):
                webhooks.delete(db, args.webhook_id)
            print(f"Deleted webhook {args.webhook_id}.")
            return 0
        outcome = delivery.send_test(db, webhooks.settings_for(db), row)
        said = f"HTTP {outcome.status}" if outcome.status is not None else "no answer"
        print(f"{'delivered' if outcome.ok else 'NOT delivered'}: {said} in {outcome.duration_ms} ms"
              + (f" ({outcome.error})" if outcome.error else ""))
        return 0 if outcome.ok else 1
    except ApiError as exc:
        return _fail(exc.message)
    finally:
        db.close()


# --- the rest ---------------------------------------------------------------------------

def cmd_endpoints(args, cfg):
    from .core import routing
    from .web import endpoint_table as docs
    print(docs.endpoint_table(routing.discover()))
    return 0


def cmd_openapi(args, cfg):
    from .core import routing
    from .web import openapi
    extra = [cfg.server.custom_endpoints] if cfg.server.custom_endpoints else []
    sys.stdout.write(openapi.encoded(routing.discover(extra), cfg.server).decode("utf-8") + "\n")
    return 0


def cmd_example_config(args, cfg):
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "config.example.ini")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if args.state_dir:
        # Relative paths are relative to the ini file's folder; a service's config lives in a
        # folder it may not write (/etc under systemd's ProtectSystem=strict): name the state
        # folder instead, for the SQLite file and the secret file.
        state = os.path.abspath(args.state_dir)
        for name in ("itflow-api.sqlite3", "itflow-api.secret"):
            text = text.replace(f" = {name}\n", f" = {os.path.join(state, name)}\n", 1)
    sys.stdout.write(text)
    return 0


def cmd_version(args, cfg):
    """The version and the database; exit 1 when the database cannot be reached."""
    print(f"itflow-api {__version__}")
    if cfg.database.backend == "sqlite" and not os.path.exists(cfg.database.path):
        print(f"database: {_describe(cfg)} does not exist yet (`itflow-api serve` or `init-db` creates it)")
        return 0
    try:
        db, tables = _connect(cfg)
    except StartFailed as exc:
        print(f"database: {_describe(cfg)}: not reachable", flush=True)
        return _fail(str(exc), 1)
    if "api_keys" in tables:
        from .itflow import version as itflow_version
        print(f"database: {_describe(cfg)}, {len(tables)} tables; {itflow_version.detect(db).describe()}")
        from .events import capture
        print(capture.status(db))
    else:
        print(f"database: {_describe(cfg)}, no ITFlow schema yet (run `itflow-api init-db`)")
    return 0


def build_parser():
    # Global options are accepted before the command and after it: each subparser has them
    # too, with SUPPRESS defaults so that an absent one does not undo one given earlier.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS,
                        help="ini file (default: ITFLOW_API_CONFIG, else built-in SQLite settings)")
    parser = argparse.ArgumentParser(
        prog="itflow-api", parents=[common],
        description="ITFlow-compatible v1 API server. With no configuration it serves an "
                    "embedded SQLite database in the current directory.",
        epilog="Configuration: --config FILE or ITFLOW_API_CONFIG (`itflow-api example-config` prints a "
               "documented one); any setting can be overridden as ITFLOW_API_<SECTION>_<KEY>, e.g. "
               "ITFLOW_API_DATABASE_BACKEND=mysql.",
    )
    parser.add_argument("--version", action="version", version=f"itflow-api {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name, **kwargs):
        return sub.add_parser(name, parents=[common], **kwargs)

    init = command("init-db", help="create the ITFlow tables and seed rows on a new database (safe to repeat)",
                   description="Create the ITFlow schema on an empty database. On an existing ITFlow "
                               "database nothing of ITFlow's is changed: it says what differs and adds "
                               f"only this server's own table {meta.TABLE}.")
    init.add_argument("--user-keys", action="store_true",
                      help="make api_keys tie keys to users (ITFlow 2.4.7+) instead of clients (2.4.6)")
    init.add_argument("--add-missing", action="store_true",
                      help="on an existing ITFlow database, add the tables and seed rows it lacks anyway")
    init.add_argument("--events", action="store_true",
                      help="also install the event capture triggers (change feed and webhooks; docs/events.md); "
                           "safe to repeat, and needed again after an ITFlow upgrade that recreated a table")
    init.add_argument("--no-events", action="store_true",
                      help="remove the event capture triggers (the event tables and rows are kept)")

    keys = command("keys", help="create, list or revoke API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION")
    create = keys_sub.add_parser("create", parents=[common], help="create a key and print it once",
                                 description=f"Create an API key. With --with-decrypt-password the key "
                                             f"can read and write credentials; the password is read from "
                                             f"{DECRYPT_ENV} or asked for. A database that already has a "
                                             f"master key needs --unlock-key (its password from {UNLOCK_ENV} "
                                             f"or asked for).")
    create.add_argument("--name", required=True, help="a name that shows in logs")
    create.add_argument("--expire", default=_default_expiry(),
                        help="expiry date YYYY-MM-DD, in the future; the key stops at 00:00 that day "
                             "(default: in one year)")
    create.add_argument("--client-id", type=int, default=0,
                        help="limit the key to one client (ITFlow 2.4.6 layout; default: all clients)")
    create.add_argument("--user-id", type=int, default=0, help="the user the key acts as (ITFlow 2.4.7+ layout)")
    create.add_argument("--with-decrypt-password", action="store_true", help="let the key decrypt credentials")
    create.add_argument("--unlock-key", help="an existing key that can decrypt, to unlock the master key")
    keys_sub.add_parser("list", parents=[common], help="list keys (never shows them)")
    revoke = keys_sub.add_parser("revoke", parents=[common], help="delete a key")
    revoke.add_argument("key_id", type=int)

    serve = command("serve", help="run the API server")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080)")
    serve.add_argument("--threads", type=int,
                       help="threads per process (default 12; at most [server] read_threads = 4 of them read at once)")
    serve.add_argument("--workers", type=int,
                       help="processes sharing the port (default: one per core on Linux/macOS, 1 elsewhere)")
    serve.add_argument("--server", dest="http_server", choices=("auto", "granian", "waitress"),
                       help="HTTP server: auto (default: granian where installed, else waitress), granian "
                            "(Rust, the faster), or waitress (pure Python, portable)")

    deliver = command("deliver", help="send webhooks in the foreground (besides or instead of the serve processes)")
    deliver.add_argument("--once", action="store_true", help="one pass over the subscriptions with work due, then exit")

    hooks = command("webhooks", help="list, create, delete or test webhook subscriptions (of every key)")
    hooks_sub = hooks.add_subparsers(dest="webhooks_command", metavar="ACTION")
    hooks_sub.add_parser("list", parents=[common], help="every subscription (never the secrets)")
    hook_create = hooks_sub.add_parser("create", parents=[common], help="subscribe a URL for a key; prints the secret once")
    hook_create.add_argument("--key-id", type=int, required=True, help="the key whose events (and visibility) it gets")
    hook_create.add_argument("--url", required=True)
    hook_create.add_argument("--modules", default="", help="comma list (default: all)")
    hook_create.add_argument("--actions", default="", help="comma list (default: all)")
    hook_create.add_argument("--client-id", default="", help="only this client's events")
    for name, text in (("delete", "delete a subscription"), ("test", "send a signed test event now")):
        hooks_sub.add_parser(name, parents=[common], help=text).add_argument("webhook_id", type=int)

    command("endpoints", help="print the table of endpoints, look-ups and required fields (Markdown)")
    command("openapi", help="print the OpenAPI 3.1 document (also served at /api/v1/openapi.json)")
    example = command("example-config", help="print the documented example configuration (config.example.ini)")
    example.add_argument("--state-dir", metavar="DIR",
                         help="put the SQLite file and the secret file in DIR (absolute paths), e.g. "
                              "/var/lib/itflow-api for the systemd unit, whose /etc is read-only to it")
    command("version", help="show the version and the database it would use (exit 1 if unreachable)")
    return parser


COMMANDS = {"init-db": cmd_init_db, "keys": cmd_keys, "serve": cmd_serve, "deliver": cmd_deliver,
            "webhooks": cmd_webhooks, "endpoints": cmd_endpoints, "version": cmd_version, "openapi": cmd_openapi,
            "example-config": cmd_example_config}


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    args.config = getattr(args, "config", None)
    if not args.command:
        parser.print_help()
        return 0
    if args.command == "keys" and not args.keys_command:
        parser.parse_args(["keys", "--help"])
    if args.command == "webhooks" and not args.webhooks_command:
        parser.parse_args(["webhooks", "--help"])
    logging.basicConfig(level=logging.INFO, format=server.LOG_FORMAT)
    try:
        cfg = _load_config(args)
    except config_module.ConfigError as exc:
        return _fail(str(exc))
    server.set_log_level(cfg.log.level)
    try:
        return COMMANDS[args.command](args, cfg)
    except (config_module.ConfigError, KeyManagementError) as exc:
        return _fail(str(exc))
    except (StartFailed, server.ServeError, DatabaseError) as exc:
        return _fail(str(exc), 1)
    except driver_errors() as exc:
        return _fail(f"cannot use the database ({_describe(cfg)}): {exc}", 1)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`itflow-api endpoints | head`): nothing left to say, and no
        # traceback when the interpreter flushes stdout on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
