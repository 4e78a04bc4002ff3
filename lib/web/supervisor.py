"""The process that supervises granian's workers, kept light.

`itflow-api serve` under granian first does everything a start must check (the configuration,
the port, the database and its schema, the key hash secret), prints what it runs, and then
replaces itself with this module (lib/web/servers.py hand_over_to_supervisor). The
configuration arrives through a pipe. From here on the process only supervises: it loads
neither the app nor a database driver, so it holds about 29 MB instead of about 65, for as long
as the server runs. Each worker, forked from it, builds its own app and database pool.

A reload (SIGHUP) reads the same configuration file and environment again and applies the
same command-line options; a configuration that does not pass the checks is refused and the
workers keep the previous one.
"""
import logging
import os
import pickle
import sys

from . import servers


def _payload():
    fd = int(os.environ.pop(servers.SUPERVISOR_ENV))
    parts = []
    while True:
        part = os.read(fd, 65536)
        if not part:
            break
        parts.append(part)
    os.close(fd)
    return pickle.loads(b"".join(parts))


def main():
    if servers.SUPERVISOR_ENV not in os.environ:
        print("itflow-api: this module is started by `itflow-api serve`, which hands it a checked "
              "configuration; run that instead", file=sys.stderr)
        return 2
    handed = _payload()
    cfg = handed["cfg"]
    logging.basicConfig(level=logging.INFO, format=servers.LOG_FORMAT)
    servers.set_log_level(cfg.log.level)
    servers.catch_stop_signals()
    reload = servers.reloader(handed["path"], handed["options"])
    try:
        return servers.serve(cfg, None, build=servers.app_builder(cfg, handed["secret"]), reload=reload)
    except servers.ServeError as exc:
        print(f"itflow-api: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
