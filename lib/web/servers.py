"""The server process: bind the port, run the WSGI app under waitress (in this process or in
pre-forked workers) or granian, and stop cleanly.

The port is bound before anything else is touched, so a start that cannot listen leaves
nothing behind (no database file, no secret, no key).

Stopping (SIGTERM, or SIGINT/Ctrl-C): stop accepting (connections the kernel already queued
are still taken and served), let the requests in flight finish, for at most
`[server] shutdown_timeout` seconds, close idle keep-alive connections, close the database
pool and exit 0. With several workers the parent forwards the signal, waits for them
(killing any that outlive the timeout) and replaces a worker that dies while serving.

Reloading (SIGHUP): the configuration is read and checked again (same file, same
environment); an invalid one is logged and changes nothing. Pre-forked waitress starts new
workers from it on the same listening socket, then stops the old ones the clean way. One
waitress process finishes its requests in flight and executes itself again with the same
command line, handing over the listening socket (queued connections wait, none is refused).
granian respawns its workers, which build their app from the re-read configuration. The
address (host, port) and the HTTP server stay as they were until a restart.
"""
import ctypes
import logging
import os
import signal
import socket
import sys
import time

from ..access.secret import load_secret
from . import config as config_module

log = logging.getLogger("itflow_api.server")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # the command's and the supervisor's log lines

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
RELOAD_SIGNAL = getattr(signal, "SIGHUP", None)
_HANGUP = (RELOAD_SIGNAL,) if RELOAD_SIGNAL is not None else ()
_LOOP_TIMEOUT = 0.2  # seconds between looks at the stop flag while serving
_stopping: list[int] = []  # the stop signals received by this process
_reloading: list[int] = []  # the reload requests (SIGHUP) not yet acted on
# A reload's re-execution hands the listening socket over in this variable ("fd host port");
# not ITFLOW_API_*: the configuration would take it for a setting.
LISTENER_ENV = "ITFLOW_SERVE_LISTENER"
SUPERVISOR_ENV = "ITFLOW_SERVE_SUPERVISOR"  # the descriptor of the pipe holding the configuration


def catch_stop_signals():
    """From here on SIGTERM/SIGINT ask for a clean stop and SIGHUP for a reload (also when
    they arrive while starting). Returns the handlers they replace, for restore_signals()."""
    handlers = {sig: signal.signal(sig, lambda signum, frame: _stopping.append(signum)) for sig in STOP_SIGNALS}
    for sig in _HANGUP:
        handlers[sig] = signal.signal(sig, lambda signum, frame: _reloading.append(signum))
    return handlers


def _reread(cfg, reload):
    """The re-read (cfg, build) for a reload, or None (one error line logged) when there is
    no way to reload or the configuration is invalid. The address and the HTTP server keep
    their running values (a warning says so when the file changed them)."""
    if reload is None:
        return None
    try:
        fresh_cfg, fresh_build = reload()
    except Exception as exc:
        log.error("reload refused, still serving with the previous configuration: %s", exc)
        return None
    old, new = cfg.server, fresh_cfg.server
    if (new.host, new.port, new.http_server) != (old.host, old.port, old.http_server):
        log.warning("reload: a changed host, port or http_server applies only after a restart; "
                    "still %s on %s:%s", old.http_server, old.host, old.port)
        new.host, new.port, new.http_server = old.host, old.port, old.http_server
    return fresh_cfg, fresh_build


def _die_with_parent(parent):
    """A worker gets SIGTERM (a clean stop) when its parent goes, however the parent went
    (kill -9 included), so no orphan keeps serving or holding the port. Linux: PR_SET_PDEATHSIG."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent went before that took effect
        os._exit(0)


def set_log_level(level):
    """The [log] level for this process's log."""
    logging.getLogger().setLevel(level.upper())
    # waitress warns of every request that waits for a thread: routine under load, noise in a log
    logging.getLogger("waitress.queue").setLevel(logging.DEBUG if level == "debug" else logging.ERROR)


def app_builder(cfg, secret):
    """build() -> (app, cleanup): a fresh app and database for one serving process. The app
    and the driver are imported only when it is called (in a worker, after the fork), so the
    light supervisor that hands it to granian never loads them."""
    def build():
        from .app import serving_app
        return serving_app(cfg, secret)
    return build


def stopping():
    """Whether a stop signal has arrived (since catch_stop_signals)."""
    return bool(_stopping)


def restore_signals(previous):
    for sig, handler in previous.items():
        signal.signal(sig, handler)


class ServeError(Exception):
    """The server cannot start (shown as one line; the command exits non-zero)."""


def inherited():
    """(listening socket, host, port) handed over by a reload's re-execution, or None."""
    handed = os.environ.pop(LISTENER_ENV, None)
    if not handed:
        return None
    fd, host, port = handed.split(" ")
    listener = socket.socket(fileno=int(fd))
    listener.set_inheritable(False)
    return listener, host, int(port)


def bind(host, port, backlog=1024):
    """The listening socket, or a ServeError naming the address and why."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host, port), family=family, backlog=backlog)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise ServeError(f"cannot listen on {host}:{port} ({reason}): choose another with --port "
                         "or stop what is using it") from None


SERVE_OPTIONS = ("host", "port", "threads", "workers", "http_server")  # serve's command-line options


def apply_serve_options(cfg, options):
    """`cfg` with serve's command-line options ({name: value}, for SERVE_OPTIONS) applied and
    checked; http_server "auto" becomes granian where it is installed, else waitress."""
    for name, value in options.items():
        setattr(cfg.server, name, value)
    config_module.check(cfg)
    if cfg.server.http_server == "auto":
        cfg.server.http_server = "granian" if granian_available() else "waitress"
    return cfg


def reloader(config_path, options):
    """reload() for SIGHUP: the same configuration file and environment read again, serve's
    command-line options applied and checked, and a builder of apps for the result."""
    def reload():
        fresh = apply_serve_options(config_module.load(config_path, environ=os.environ), options)
        return fresh, app_builder(fresh, load_secret(fresh.security))
    return reload


def supervises_lightly(cfg):
    """Whether serve hands over to the light granian supervisor (lib/web/supervisor.py): under
    granian wherever a process can replace itself and its workers are forked (POSIX)."""
    return cfg.server.http_server == "granian" and hasattr(os, "fork")


def hand_over_to_supervisor(cfg, config_path, options, secret):
    """Replace this process (same pid, so a service manager keeps following it) by the light
    granian supervisor, which is given the checked configuration through a pipe (it holds
    the database password and the key hash secret: never the environment or the command line).
    Once the start checks have passed, the supervisor needs none of what made them: it holds
    about 29 MB instead of about 65 for as long as the server runs. Does not return."""
    import pickle

    payload = pickle.dumps({"cfg": cfg, "path": config_path, "options": options, "secret": secret})
    if len(payload) > 60000:  # more than a pipe holds before a reader takes it
        raise ServeError("the configuration is too large to hand to the serving process")
    read_end, write_end = os.pipe()
    os.write(write_end, payload)
    os.close(write_end)
    os.set_inheritable(read_end, True)
    for sig in _HANGUP:  # a SIGHUP before the supervisor catches it must not end the process
        signal.signal(sig, signal.SIG_IGN)
    os.environ[SUPERVISOR_ENV] = str(read_end)
    # glibc gives each thread that allocates its own heap (up to 8 per core); the workers'
    # threads then hold on to several partly used heaps. Two serve them as fast (measured on
    # 2 cores) in 5-10% less memory. An administrator's own value is kept.
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    sys.stdout.flush()
    sys.stderr.flush()
    module = __name__.rsplit(".", 1)[0] + ".supervisor"
    try:
        os.execv(sys.executable, [sys.executable, "-m", module])
    except OSError as exc:
        raise ServeError(f"cannot start the serving process {sys.executable} -m {module}: {exc}") from None


def serve(cfg, listener, app=None, cleanup=None, build=None, reload=None):
    """Serve until stopped; returns the exit code.

    `app`/`cleanup` serve in this process; `build()` -> (app, cleanup) makes a fresh app and
    database per worker after the fork (a pool must never cross a fork). `reload()` -> (cfg,
    build) re-reads and checks the configuration for SIGHUP (raises when it is invalid);
    without it SIGHUP is logged and ignored."""
    s = cfg.server
    several = s.http_server == "granian" or (s.workers > 1 and hasattr(os, "fork"))
    if several and cfg.metrics.enabled:  # every worker writes its numbers where any can read them
        from . import metrics
        metrics.share_between_processes()
    if s.http_server == "granian":
        return _granian(cfg, listener, build, reload)
    if s.workers > 1 and hasattr(os, "fork"):
        if cleanup:
            cleanup()  # the parent's own pool is closed before the children open theirs
        return _prefork(cfg, listener, build, reload)
    if app is None:
        app, cleanup = build()
    return _run_waitress(app, cfg, listener, cleanup, reload=reload)


# --- waitress, one process ------------------------------------------------------------

def _waitress_server(app, cfg, listener):
    import waitress

    from . import waitress_errors
    waitress_errors.install()  # waitress' own refusals answer with the JSON envelope too
    # No Server header (ident ""): nothing to fingerprint. waitress' body limit sits well above
    # ours (and a batch's), so that our app, not waitress, answers an oversized body (a JSON
    # 413 either way).
    return waitress.create_server(
        app, sockets=[listener], threads=cfg.server.threads, ident="",
        max_request_body_size=2 * max(cfg.server.max_body_bytes, cfg.server.max_batch_bytes) + 65536,
        clear_untrusted_proxy_headers=False,
        asyncore_use_poll=True)


def _run_waitress(app, cfg, listener, cleanup=None, announce=True, reload=None, worker=False):
    """Serve in this process until stopped. A worker (`worker`) leaves SIGHUP to its parent;
    otherwise SIGHUP re-reads the configuration and, when it is valid, this process finishes
    its requests in flight and executes itself again on the same listening socket."""
    from waitress import wasyncore
    server = _waitress_server(app, cfg, listener)
    stopping = _stopping
    catch_stop_signals()
    if worker:
        for sig in _HANGUP:
            signal.signal(sig, signal.SIG_IGN)
    deliverer = start_delivery(app, cfg)
    kept = None  # the listening socket, kept open for the next execution
    try:
        if announce:
            print(f"serving on {_where(cfg)}", flush=True)
        while not stopping:
            wasyncore.loop(timeout=_LOOP_TIMEOUT, map=server._map, use_poll=True, count=1)
            if _reloading and not stopping:
                _reloading.clear()
                if reload is None:
                    log.warning("SIGHUP ignored: this server cannot reload")
                elif _reread(cfg, reload) is not None:
                    kept = os.dup(listener.fileno())
                    break
        if kept is not None:
            log.info("reloading (SIGHUP): finishing requests in flight, then starting again with "
                     "the new configuration")
        else:
            log.info("stopping (%s): finishing requests in flight", signal.Signals(stopping[0]).name)
        deadline = time.monotonic() + cfg.server.shutdown_timeout
        _stop_accepting(server)
        _finish_in_flight(server, deadline)
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=max(0.0, deadline - time.monotonic()))
    finally:
        if deliverer is not None:
            deliverer.stop()
        if cleanup:
            cleanup()
    if kept is not None:
        if stopping:  # a stop during the reload wins
            os.close(kept)
            return 0
        _execute_again(kept, cfg)
    return 0


def _execute_again(fd, cfg):
    """Replace this process by a fresh run of the same command line (same pid, so a service
    manager keeps following it), which takes over the listening socket `fd`."""
    os.set_inheritable(fd, True)
    for sig in _HANGUP:  # a SIGHUP before the new run catches it must not end the process
        signal.signal(sig, signal.SIG_IGN)  # (an ignored signal stays ignored across exec)
    os.environ[LISTENER_ENV] = f"{fd} {cfg.server.host} {cfg.server.port}"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable] + sys.orig_argv[1:])


def start_delivery(app, cfg):
    """The webhook delivery worker as a daemon thread of this serve process ([events]
    deliver_in_serve); it idles until `init-db --events` has installed events. None when off."""
    if not cfg.events.deliver_in_serve or getattr(app, "service", None) is None:
        return None
    from ..events import delivery
    try:
        return delivery.start(app.service.db, cfg.events)
    except Exception:
        log.exception("webhook delivery could not start in this process")
        return None


def _stop_accepting(server):
    from waitress import wasyncore
    """Take what the kernel has already queued on the listener, then close it: a client whose
    connect succeeded gets its answer; a later one is refused rather than reset."""
    server.accepting = False
    while True:
        try:
            accepted = server.accept()
        except OSError:
            break
        if accepted is None:
            break
        conn, addr = accepted
        server.set_socket_options(conn)
        server.channel_class(server, conn, server.fix_addr(addr), server.adj, map=server._map)
    # Only the listening socket: server.close() would also close the trigger that worker
    # threads pull to hand their responses back to this loop.
    wasyncore.dispatcher.close(server)


def _finish_in_flight(server, deadline):
    from waitress import wasyncore
    from waitress.channel import HTTPChannel
    while True:
        busy = [ch for ch in list(server._map.values()) if isinstance(ch, HTTPChannel) and not _close_if_idle(ch)]
        if not busy:
            return
        if time.monotonic() >= deadline:
            log.warning("shutdown_timeout reached: closing %d connection(s) with requests still running", len(busy))
            for ch in busy:
                ch.handle_close()
            return
        wasyncore.loop(timeout=0.05, map=server._map, use_poll=True, count=1)


_FIRST_REQUEST_GRACE = 2.0  # seconds a just-accepted connection has to send its request


def _close_if_idle(channel):
    """Close a connection with nothing in progress; False while a request is being read,
    run or written, has just arrived unread (a peek at the socket catches that), or may still
    come on a connection accepted a moment ago that has sent nothing yet."""
    if channel.requests or channel.request is not None or channel.total_outbufs_len or \
            channel.will_close or channel.close_when_flushed:
        return False
    if channel.last_activity == channel.creation_time and time.time() - channel.creation_time < _FIRST_REQUEST_GRACE:
        return False
    try:
        waiting = channel.socket.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        waiting = b""  # nothing sent: idle
    except OSError:
        waiting = b""
    if waiting:
        return False
    channel.handle_close()
    return True


# --- waitress, pre-forked workers -------------------------------------------------------

def _prefork(cfg, listener, build, reload=None):
    """The parent holds the bound port; every child accepts on it with its own waitress
    threads, app and database pool. A child that dies is logged and replaced. On SIGHUP a
    new set of workers built from the re-read configuration starts on the same socket, then
    the old set stops the clean way (`retiring`: not replaced when they exit)."""
    workers, children, stopping, retiring = cfg.server.workers, {}, _stopping, set()

    parent = os.getpid()

    def spawn(cfg, build):
        pid = os.fork()
        if pid == 0:  # the worker: its own stop flag, told to stop by the parent
            _stopping.clear()
            _reloading.clear()
            _die_with_parent(parent)
            code = 1
            try:
                app, cleanup = build()
                code = _run_waitress(app, cfg, listener, cleanup, announce=False, worker=True)
            except BaseException:
                log.exception("worker %d failed", os.getpid())
            finally:
                os._exit(code)
        children[pid] = time.monotonic()

    catch_stop_signals()
    for _ in range(workers):
        spawn(cfg, build)
    print(f"{workers} workers on {_where(cfg)}", flush=True)
    quick_deaths = 0
    while not stopping:
        if _reloading:
            _reloading.clear()
            cfg, build = _replace_workers(cfg, build, reload, children, retiring, spawn)
            continue
        pid, status = _reap()
        if not pid:
            time.sleep(_LOOP_TIMEOUT)
            continue
        started = children.pop(pid, None)
        if pid in retiring:
            retiring.discard(pid)
            continue
        if started is None or stopping:
            continue
        lived = time.monotonic() - started
        log.warning("worker %d %s after %.1f s: starting a replacement", pid, _how_it_ended(status), lived)
        quick_deaths = quick_deaths + 1 if lived < 2 else 0
        if quick_deaths:  # a worker that cannot stay up is retried ever more slowly
            _sleep_unless(stopping, min(0.25 * 2 ** quick_deaths, 10))
        if not stopping:
            spawn(cfg, build)
    log.info("stopping (%s): waiting for %d worker(s)", signal.Signals(stopping[0]).name, len(children))
    listener.close()
    _stop_workers(children, cfg.server.shutdown_timeout + 5)
    return 0


def _replace_workers(cfg, build, reload, children, retiring, spawn):
    """SIGHUP in the parent: with a valid re-read configuration, a new set of workers from it,
    then SIGTERM to the old set. Returns the (cfg, build) now in force."""
    if reload is None:
        log.warning("SIGHUP ignored: this server cannot reload")
        return cfg, build
    fresh = _reread(cfg, reload)
    if fresh is None or _stopping:
        return cfg, build
    cfg, build = fresh
    old = [pid for pid in children if pid not in retiring]
    for _ in range(cfg.server.workers):
        spawn(cfg, build)
    for pid in old:
        retiring.add(pid)
        _signal(pid, signal.SIGTERM)
    log.info("reloaded (SIGHUP): %d new worker(s) started; the %d previous ones finish their requests "
             "in flight", cfg.server.workers, len(old))
    return cfg, build


def _stop_workers(children, timeout):
    for pid in children:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while children and time.monotonic() < deadline:
        pid, _status = _reap()
        if pid:
            children.pop(pid, None)
        else:
            time.sleep(0.05)
    for pid in children:
        log.warning("worker %d did not stop in time: killed", pid)
        _signal(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def _reap():
    try:
        return os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return 0, 0


def _how_it_ended(status):
    code = os.waitstatus_to_exitcode(status)
    return f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _sleep_unless(stopping, seconds):
    end = time.monotonic() + seconds
    while not stopping and time.monotonic() < end:
        time.sleep(min(_LOOP_TIMEOUT, end - time.monotonic()))


def _url_host(host):
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _where(cfg):
    """The banner's address: a URL that works from this host, what the port is bound to when
    that is every address, and the docs page."""
    url = f"http://{_url_host(cfg.server.host)}:{cfg.server.port}"
    bound = f" (bound to {cfg.server.host or '0.0.0.0'}: every address of this host)" \
        if cfg.server.host in ("0.0.0.0", "::", "") else ""
    return f"{url}{bound}; docs at {url}/api/v1/docs"


# --- granian ----------------------------------------------------------------------------

def granian_available():
    try:
        import granian  # noqa: F401
    except ImportError:
        return False
    return True


_early_stops: list[int] = []  # in a new granian worker: stop signals received while it starts
_noting_early_stops = False


def _note_stops_in_new_workers():
    """A granian worker builds its app (load() below) before granian gives it its own stop
    handler. Until then it has the handler inherited from the parent, which records the stop
    in the parent's state, where nothing in the worker looks: the worker would go on to serve,
    and granian would wait shutdown_timeout for it. Each new worker, right after its fork,
    records such a stop where load() looks instead."""
    global _noting_early_stops
    if _noting_early_stops:
        return
    _noting_early_stops = True

    def in_child():
        _early_stops.clear()
        try:
            for sig in STOP_SIGNALS:
                signal.signal(sig, lambda signum, frame: _early_stops.append(signum))
        except ValueError:  # forked from a thread other than the main one: not a granian worker
            pass

    os.register_at_fork(after_in_child=in_child)


def _granian(cfg, listener, build, reload=None):
    """granian (Rust HTTP, WSGI interface) with its own workers, graceful stop and respawn.
    It binds the port itself: ours was only the check that the port is free. On SIGHUP
    granian respawns its workers one by one; our reload hook first re-reads the
    configuration, and the new workers (forked from the parent) build their app from it."""
    try:
        from granian import Granian
        from granian.constants import Interfaces, RuntimeModes
    except ImportError:
        raise ServeError("granian is not installed: pip install 'itflow-api[granian]', or use "
                         "--server waitress") from None
    if listener is not None:
        listener.close()
    if _stopping:
        return 0
    for sig in STOP_SIGNALS + _HANGUP:  # granian handles stop and reload itself, in its parent and its workers
        signal.signal(sig, signal.SIG_DFL)
    s = cfg.server
    # runtime_mode st: each worker's network side on one thread of its own. granian picks the
    # multi-threaded runtime for WSGI, which with its one runtime thread only adds hand-offs
    # between threads (measured on 2 cores: about 9% more requests per second with st).
    server = Granian("itflow_api", address=s.host, port=s.port, interface=Interfaces.WSGI,
                     workers=s.workers, blocking_threads=s.threads, runtime_mode=RuntimeModes.st,
                     respawn_failed_workers=True, workers_kill_timeout=s.shutdown_timeout or None,
                     log_access=False)
    current = {"cfg": cfg, "build": build}
    parent = os.getpid()
    _note_stops_in_new_workers()

    def load():  # in each granian worker, forked from this process
        _die_with_parent(parent)
        app = current["build"]()[0]
        start_delivery(app, current["cfg"])
        if _early_stops:  # stopped while it started: leave before serving, as granian expects
            log.info("worker %d stopping (%s) before serving", os.getpid(), signal.Signals(_early_stops[0]).name)
            sys.exit(0)
        return app

    def reread():
        fresh = _reread(current["cfg"], reload)
        if fresh:
            current.update(cfg=fresh[0], build=fresh[1])
            log.info("reloaded (SIGHUP): new workers use the re-read configuration")

    server.on_reload(reread)

    def announce():  # once granian listens and handles the stop signals itself
        print(f"serving on {_where(cfg)}", flush=True)

    if hasattr(server, "on_startup"):
        server.on_startup(announce)
    else:
        announce()
    server.serve(target_loader=load, wrap_loader=False)
    return 0
