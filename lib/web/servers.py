"""The server process: bind the port, run the WSGI app under waitress (in this process or in
pre-forked workers) or granian, and stop cleanly.

The port is bound before anything else is touched, so a start that cannot listen leaves
nothing behind (no database file, no secret, no key).

Stopping (SIGTERM, or SIGINT/Ctrl-C): stop accepting (connections the kernel already queued
are still taken and served), let the requests in flight finish, for at most
`[server] shutdown_timeout` seconds, close idle keep-alive connections, close the database
pool and exit 0. With several workers the parent forwards the signal, waits for them
(killing any that outlive the timeout) and replaces a worker that dies while serving.
"""
import ctypes
import logging
import os
import signal
import socket
import sys
import time

log = logging.getLogger("itflow_api.server")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# waitress also stops cleanly on SIGHUP, which a closing terminal sends (granian has its own
# rules for it). Without it the parent died at once and left its workers holding the port.
_HANGUP = (signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()
_LOOP_TIMEOUT = 0.2  # seconds between looks at the stop flag while serving
_stopping: list[int] = []  # the stop signals received by this process


def catch_stop_signals():
    """From here on SIGTERM/SIGINT (and SIGHUP) ask for a clean stop (also one that arrives
    while starting). Returns the handlers they replace, for restore_signals()."""
    return {sig: signal.signal(sig, lambda signum, frame: _stopping.append(signum))
            for sig in STOP_SIGNALS + _HANGUP}


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


def restore_signals(previous):
    for sig, handler in previous.items():
        signal.signal(sig, handler)


class ServeError(Exception):
    """The server cannot start (shown as one line; the command exits non-zero)."""


def bind(host, port, backlog=1024):
    """The listening socket, or a ServeError naming the address and why."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host, port), family=family, backlog=backlog)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise ServeError(f"cannot listen on {host}:{port} ({reason}): choose another with --port "
                         "or stop what is using it") from None


def serve(cfg, listener, app=None, cleanup=None, build=None):
    """Serve until stopped; returns the exit code.

    `app`/`cleanup` serve in this process; `build()` -> (app, cleanup) makes a fresh app and
    database per worker after the fork (a pool must never cross a fork)."""
    s = cfg.server
    several = s.http_server == "granian" or (s.workers > 1 and hasattr(os, "fork"))
    if several and cfg.metrics.enabled:  # every worker writes its numbers where any can read them
        from . import metrics
        metrics.share_between_processes()
    if s.http_server == "granian":
        return _granian(cfg, listener, build)
    if s.workers > 1 and hasattr(os, "fork"):
        if cleanup:
            cleanup()  # the parent's own pool is closed before the children open theirs
        return _prefork(cfg, listener, build)
    if app is None:
        app, cleanup = build()
    return _run_waitress(app, cfg, listener, cleanup)


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


def _run_waitress(app, cfg, listener, cleanup=None, announce=True):
    from waitress import wasyncore
    server = _waitress_server(app, cfg, listener)
    stopping = _stopping
    catch_stop_signals()
    deliverer = start_delivery(app, cfg)
    try:
        if announce:
            print(f"serving on {_where(cfg)}", flush=True)
        while not stopping:
            wasyncore.loop(timeout=_LOOP_TIMEOUT, map=server._map, use_poll=True, count=1)
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
    return 0


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

def _prefork(cfg, listener, build):
    """The parent holds the bound port; every child accepts on it with its own waitress
    threads, app and database pool. A child that dies is logged and replaced."""
    workers, children, stopping = cfg.server.workers, {}, _stopping

    parent = os.getpid()

    def spawn():
        pid = os.fork()
        if pid == 0:  # the worker: its own stop flag, told to stop by the parent
            _stopping.clear()
            _die_with_parent(parent)
            code = 1
            try:
                app, cleanup = build()
                code = _run_waitress(app, cfg, listener, cleanup, announce=False)
            except BaseException:
                log.exception("worker %d failed", os.getpid())
            finally:
                os._exit(code)
        children[pid] = time.monotonic()

    catch_stop_signals()
    for _ in range(workers):
        spawn()
    print(f"{workers} workers on {_where(cfg)}", flush=True)
    quick_deaths = 0
    while not stopping:
        pid, status = _reap()
        if not pid:
            time.sleep(_LOOP_TIMEOUT)
            continue
        started = children.pop(pid, None)
        if started is None or stopping:
            continue
        lived = time.monotonic() - started
        log.warning("worker %d %s after %.1f s: starting a replacement", pid, _how_it_ended(status), lived)
        quick_deaths = quick_deaths + 1 if lived < 2 else 0
        if quick_deaths:  # a worker that cannot stay up is retried ever more slowly
            _sleep_unless(stopping, min(0.25 * 2 ** quick_deaths, 10))
        if not stopping:
            spawn()
    log.info("stopping (%s): waiting for %d worker(s)", signal.Signals(stopping[0]).name, len(children))
    listener.close()
    for pid in children:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + cfg.server.shutdown_timeout + 5
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
    return 0


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


def _granian(cfg, listener, build):
    """granian (Rust HTTP, WSGI interface) with its own workers, graceful stop and respawn.
    It binds the port itself: ours was only the check that the port is free."""
    try:
        from granian import Granian
        from granian.constants import Interfaces, RuntimeModes
    except ImportError:
        raise ServeError("granian is not installed: pip install 'itflow-api[granian]', or use "
                         "--server waitress") from None
    listener.close()
    if _stopping:
        return 0
    for sig in STOP_SIGNALS + _HANGUP:  # granian handles the stop itself, in its parent and its workers
        signal.signal(sig, signal.SIG_DFL)
    s = cfg.server
    # runtime_mode st: each worker's network side on one thread of its own. granian picks the
    # multi-threaded runtime for WSGI, which with its one runtime thread only adds hand-offs
    # between threads (measured on 2 cores: about 9% more requests per second with st).
    server = Granian("itflow_api", address=s.host, port=s.port, interface=Interfaces.WSGI,
                     workers=s.workers, blocking_threads=s.threads, runtime_mode=RuntimeModes.st,
                     respawn_failed_workers=True, workers_kill_timeout=s.shutdown_timeout or None,
                     log_access=False)
    def load():
        app = build()[0]
        start_delivery(app, cfg)
        return app

    server.serve(target_loader=load, wrap_loader=False)
    return 0
