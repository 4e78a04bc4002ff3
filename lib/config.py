"""Configuration: an ini file, overridden by ITFLOW_API_<SECTION>_<KEY> environment variables.

Environment variables are read only here, and only when the entry point asks for them
(`load(..., environ=os.environ)`); the app factory receives a finished Config.
"""
import configparser
import os
from dataclasses import dataclass, field, fields

ENV_PREFIX = "ITFLOW_API_"


@dataclass
class DatabaseConfig:
    backend: str = "sqlite"          # sqlite | mysql
    path: str = "itflow-api.sqlite3"  # sqlite file
    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str = ""
    name: str = "itflow"
    pool_size: int = 8
    # mysql driver: auto (mysqlclient when installed, else pymysql), pymysql or mysqlclient
    driver: str = "auto"


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    threads: int = 8
    workers: int = 1  # processes sharing the port (POSIX); each has `threads` threads
    max_body_bytes: int = 1024 * 1024
    max_limit: int = 1000
    # A folder of the site's own endpoints, laid out as <module>/<function>.py.
    custom_endpoints: str = ""
    # Peers whose X-Forwarded-For is believed (a reverse proxy in front of us).
    trusted_proxies: str = "127.0.0.1 ::1"


@dataclass
class SecurityConfig:
    # Key used to hash the API keys this server creates. Every process serving the same
    # database must use the same one. Empty: read from (or created in) secret_file.
    key_hash_secret: str = ""
    secret_file: str = "itflow-api.secret"
    # How long a process remembers a key it found: a revoked key may keep working that long.
    key_cache_seconds: int = 5


@dataclass
class Config:
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    source: str = "defaults"

    def sections(self):
        return {"database": self.database, "server": self.server, "security": self.security}


class ConfigError(Exception):
    pass


def _coerce(section, name, raw, kind):
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"[{section}] {name} must be a whole number, got {raw!r}") from None
    return raw


def load(path=None, environ=None):
    """Build a Config from defaults, then the ini file at `path`, then the environment."""
    config = Config()
    parser = configparser.ConfigParser(interpolation=None)
    if path:
        if not os.path.exists(path):
            raise ConfigError(f"config file {path} not found (copy config.example.ini to start one)")
        parser.read(path, encoding="utf-8")
        config.source = path
    for section, target in config.sections().items():
        for f in fields(target):
            raw = None
            if parser.has_option(section, f.name):
                raw = parser.get(section, f.name)
            env_name = f"{ENV_PREFIX}{section.upper()}_{f.name.upper()}"
            if environ and env_name in environ:
                raw = environ[env_name]
            if raw is not None:
                setattr(target, f.name, _coerce(section, f.name, raw.strip(), f.type if f.type is int else str))
        if parser.has_section(section):
            known = {f.name for f in fields(target)}
            unknown = set(parser.options(section)) - known
            if unknown:
                raise ConfigError(f"[{section}] unknown setting(s): {', '.join(sorted(unknown))}")
    if config.database.backend not in ("sqlite", "mysql"):
        raise ConfigError("[database] backend must be 'sqlite' or 'mysql'")
    return config
