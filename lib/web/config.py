"""Configuration: an ini file, overridden by ITFLOW_API_<SECTION>_<KEY> environment variables.

Environment variables are read only here, and only when the entry point asks for them
(`load(..., environ=os.environ)`); the app factory receives a finished Config.

Every section is a dataclass below and every setting one of its fields: the checks at start
(unknown sections and keys, types, ranges, choices) are derived from them, so a new field is
checked without further code. A field's type (int, float, bool, str) is its annotation; ranges,
choices and "this is a path" go in its metadata through `setting(...)`. Relative paths are
relative to the config file's directory (the current directory when there is no file).
"""
import configparser
import difflib
import os
import typing
from dataclasses import dataclass, field, fields, is_dataclass

ENV_PREFIX = "ITFLOW_API_"
# Variables of ours that are not settings (read by the command itself).
OTHER_VARIABLES = frozenset({"ITFLOW_API_CONFIG", "ITFLOW_API_DECRYPT_PASSWORD", "ITFLOW_API_UNLOCK_PASSWORD"})


def setting(default=None, *, factory=None, minimum=None, maximum=None, choices=None, path=False):
    """A field with the facts the start-up check needs (see the module docstring)."""
    metadata = {"minimum": minimum, "maximum": maximum, "choices": choices, "path": path}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def cores():
    """The cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _default_workers():
    # One process per core where processes can share a port by forking; one elsewhere.
    return cores() if hasattr(os, "fork") else 1


@dataclass
class DatabaseConfig:
    backend: str = setting("sqlite", choices=("sqlite", "mysql"))
    path: str = setting("itflow-api.sqlite3", path=True)  # sqlite file
    host: str = "127.0.0.1"
    port: int = setting(3306, minimum=1, maximum=65535)
    user: str = "root"
    password: str = ""
    name: str = "itflow"
    pool_size: int = setting(12, minimum=1)
    # mysql driver: auto (the fastest installed: mysqlclient, connector, pymysql), connector
    # (mysql-connector-python's C extension, installed by default), mysqlclient or pymysql
    driver: str = setting("auto", choices=("auto", "connector", "pymysql", "mysqlclient"))
    # A write that loses to a concurrent one (deadlock, Galera certification conflict) runs
    # again whole, up to this many more times, before answering 503 with Retry-After.
    write_retries: int = setting(3, minimum=0, maximum=20)
    # Seconds to wait for a connection, and for any answer on one: a stopped or frozen
    # database is a 503 after at most this long, never a hang (SQLite: waiting for a lock).
    connect_timeout: float = setting(2.0, minimum=0.1, maximum=3600)
    read_timeout: float = setting(5.0, minimum=0.1, maximum=3600)


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = setting(8080, minimum=1, maximum=65535)
    threads: int = setting(12, minimum=1)
    # of those, how many may run a read at once (reads contend for Python's lock; writes wait
    # on the database, and more of them in flight let it group their commits)
    read_threads: int = setting(4, minimum=1)
    # processes sharing the port (POSIX; default: one per core); each has `threads` threads
    workers: int = setting(factory=_default_workers, minimum=1)
    # auto (granian where it is installed, as it is by default on Linux, macOS and Windows;
    # else waitress), granian, or waitress (pure Python, runs anywhere)
    http_server: str = setting("auto", choices=("auto", "waitress", "granian"))
    # On SIGTERM/SIGINT: seconds to let requests in flight finish before closing anyway.
    shutdown_timeout: int = setting(30, minimum=0)
    max_body_bytes: int = setting(1024 * 1024, minimum=1)
    max_limit: int = setting(1000, minimum=1)
    # Operations one /api/v1/batch.php request may carry, and the largest body it may have.
    max_batch: int = setting(1000, minimum=1)
    max_batch_bytes: int = setting(16 * 1024 * 1024, minimum=1)
    # A folder of the site's own endpoints, laid out as <module>/<function>.py.
    custom_endpoints: str = setting("", path=True)
    # Peers whose X-Forwarded-For is believed (a reverse proxy in front of us).
    trusted_proxies: str = "127.0.0.1 ::1"


@dataclass
class SecurityConfig:
    # Key used to hash the API keys this server creates. Every process serving the same
    # database must use the same one. Empty: read from (or created in) secret_file.
    key_hash_secret: str = ""
    secret_file: str = setting("itflow-api.secret", path=True)
    # How long a process remembers a key it found: a revoked key may keep working that long.
    key_cache_seconds: int = setting(5, minimum=0)


@dataclass
class LimitsConfig:
    # Rate limits (429 with Retry-After); a rate is "N/second|minute|hour|day", 0 turns one off.
    enabled: bool = True
    # Where the counters live, shared by every process and host: the served database
    # ("database", a table of our own), or redis://host:6379 / memcached://host:11211.
    storage: str = "database"
    failed_auth_per_address: str = "10/minute"  # wrong keys from one client address
    failed_auth_per_key: str = "10/minute"      # the same wrong key, from anywhere
    requests_per_key: str = "6000/minute"       # a key's quota (X-RateLimit-* headers)
    # Each process adds its count of a key's requests to the shared counter this often.
    quota_sync_seconds: float = setting(1.0, minimum=0)


@dataclass
class LogConfig:
    # One line per request in Apache's combined format, plus duration and key name; api_key
    # and decrypt passwords redacted. "-" is stderr, "off" none, anything else a file path.
    access_log: str = setting("-")
    # The server's own messages (stderr): debug, info, warning or error. waitress' "Task queue
    # depth" notes (requests waiting for a thread: routine under load) show at debug only.
    level: str = setting("info", choices=("debug", "info", "warning", "error"))


@dataclass
class EventsConfig:
    # Events (the change feed and webhooks) exist once `itflow-api init-db --events` has put
    # the capture triggers in the database; these settings shape how they are kept and sent.
    retention_days: int = setting(30, minimum=1)  # older events are deleted; older cursors refused
    # Webhook delivery runs in every serve process (several processes and hosts share the work);
    # off: only `itflow-api deliver` sends.
    deliver_in_serve: bool = True
    # Addresses a webhook may never reach unless listed here (space-separated networks, e.g.
    # "127.0.0.1/32 10.0.0.0/8"): loopback, private, link-local, metadata and reserved ranges.
    allow_private_targets: str = ""
    connect_timeout: float = setting(5.0, minimum=0.1, maximum=60)
    read_timeout: float = setting(10.0, minimum=0.1, maximum=120)
    # A subscription is disabled after this many failed attempts in a row (with back-off from
    # seconds up to an hour between tries, the default takes more than 24 hours).
    max_failures: int = setting(40, minimum=1)


@dataclass
class MetricsConfig:
    # Prometheus metrics at `path` (pip install 'itflow-api[metrics]'): requests and their
    # durations by endpoint and status, database connections in use, rate-limit refusals and
    # webhook delivery lag. Scrapes need no API key (Prometheus has none); they are answered
    # only to the addresses in `allow` and, when `token` is set, only with
    # "Authorization: Bearer <token>". No key, key name or client data is ever in them.
    enabled: bool = False
    path: str = "/metrics"
    token: str = ""
    # Addresses or CIDR ranges that may scrape, space-separated; empty: any address.
    allow: str = "127.0.0.1 ::1"


@dataclass
class Config:
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    log: LogConfig = field(default_factory=LogConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    source: str = "defaults"  # the config file's path, or "defaults"

    def sections(self):
        """{section name: its dataclass}: every field of Config that is a dataclass."""
        return {f.name: getattr(self, f.name) for f in fields(self) if is_dataclass(getattr(self, f.name))}


class ConfigError(Exception):
    """A setting that cannot be used: shown as one line, the start ends with exit code 2."""


_TRUE = {"1", "yes", "true", "on"}
_FALSE = {"0", "no", "false", "off"}


def _kind(target, name):
    hint = typing.get_type_hints(type(target)).get(name, str)
    return hint if hint in (int, float, bool) else str


def _coerce(where, raw, kind):
    if kind is bool:
        if raw.lower() in _TRUE | _FALSE:
            return raw.lower() in _TRUE
        raise ConfigError(f"{where} must be yes or no, got {raw!r}")
    if kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            noun = "a whole number" if kind is int else "a number"
            raise ConfigError(f"{where} must be {noun}, got {raw!r}") from None
    return raw


def _did_you_mean(name, known):
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(known))})"


def check(config):
    """Refuse values outside their declared range or choices (also after command-line overrides)."""
    for section, target in config.sections().items():
        for f in fields(target):
            value, meta = getattr(target, f.name), f.metadata
            where = f"[{section}] {f.name}"
            if meta.get("choices") and value not in meta["choices"]:
                raise ConfigError(f"{where} must be one of {', '.join(meta['choices'])}, got {value!r}")
            low, high = meta.get("minimum"), meta.get("maximum")
            if low is not None and value < low or high is not None and value > high:
                span = f"between {low} and {high}" if high is not None else f"at least {low}"
                raise ConfigError(f"{where} must be {span}, got {value}")


def _check_environment(sections, environ):
    """An ITFLOW_API_<SECTION>_<KEY> whose section or key does not exist would be silently
    ignored (and secrets live there): refuse it, saying what was probably meant."""
    by_length = sorted(sections, key=len, reverse=True)  # [server_x] before [server]
    for env_name in environ:
        if not env_name.startswith(ENV_PREFIX) or env_name in OTHER_VARIABLES:
            continue
        section = next((s for s in by_length if env_name.startswith(f"{ENV_PREFIX}{s.upper()}_")), None)
        if section is None:
            written = env_name[len(ENV_PREFIX):].split("_")[0].lower()
            raise ConfigError(f"environment variable {env_name}: no section [{written}]"
                              f"{_did_you_mean(written, list(sections))}")
        key = env_name[len(f"{ENV_PREFIX}{section.upper()}_"):].lower()
        known = [f.name for f in fields(sections[section])]
        if key not in known:
            raise ConfigError(f"environment variable {env_name}: [{section}] has no setting "
                              f"{key!r}{_did_you_mean(key, known)}")


def load(path=None, environ=None):
    """Build a Config from defaults, then the ini file at `path`, then the environment, and
    check it: unknown sections and keys, wrong types and values out of range are ConfigErrors."""
    config = Config()
    parser = configparser.ConfigParser(interpolation=None)
    base = os.getcwd()
    if path:
        if not os.path.exists(path):
            raise ConfigError(f"config file {path} not found (copy config.example.ini to start one)")
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} cannot be read: {str(exc).splitlines()[0]}") from None
        config.source = path
        base = os.path.dirname(os.path.abspath(path))
    sections = config.sections()
    for section in parser.sections():
        if section not in sections:
            raise ConfigError(f"unknown section [{section}]{_did_you_mean(section, list(sections))}")
    environ = environ or {}
    _check_environment(sections, environ)
    for section, target in sections.items():
        known = [f.name for f in fields(target)]
        if parser.has_section(section):
            for option in parser.options(section):
                if option not in known:
                    raise ConfigError(f"[{section}] unknown setting {option!r}{_did_you_mean(option, known)}")
        for f in fields(target):
            raw, where = None, f"[{section}] {f.name}"
            if parser.has_option(section, f.name):
                raw = parser.get(section, f.name)
            env_name = f"{ENV_PREFIX}{section.upper()}_{f.name.upper()}"
            if env_name in environ:
                raw, where = environ[env_name], f"{env_name} ([{section}] {f.name})"
            if raw is not None:
                setattr(target, f.name, _coerce(where, raw.strip(), _kind(target, f.name)))
            value = getattr(target, f.name)
            if f.metadata.get("path") and value and not os.path.isabs(value):
                setattr(target, f.name, os.path.join(base, value))
    check(config)
    return config
