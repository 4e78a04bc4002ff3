"""Memory of a server while it is under load: resident set sizes read from /proc (Linux).

RSS is what the issue asks for (the sum over a server's processes); it counts a page shared by
several processes (forked copies of the interpreter, opcache's shared memory) once per process,
so PSS (each shared page divided among the processes that share it) is sampled beside it.
"""
import os
import threading

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
MB = 1024 * 1024


def _stat(pid):
    """(ppid, session) of a process, or None when it has gone or cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[-1].split()  # after the command name, which may hold spaces
    return int(fields[1]), int(fields[3])


def _pids():
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def session_members(sid):
    """Every process of a session: a server started with start_new_session and its workers."""
    return [pid for pid in _pids() if (_stat(pid) or (0, 0))[1] == sid]


def children(ppid):
    return [pid for pid in _pids() if (_stat(pid) or (0, 0))[0] == ppid]


def rss(pid):
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def pss(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


class Sampler:
    """Samples the summed RSS (every `interval` seconds) and PSS (every `pss_every` samples) of
    the processes `pids()` names, from start() until stop(), in a thread of its own."""

    def __init__(self, pids, interval=0.5, pss_every=4):
        self.pids, self.interval, self.pss_every = pids, interval, pss_every
        self.rss, self.pss, self.procs = [], [], []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        n = 0
        while True:
            pids = self.pids()
            self.rss.append(sum(rss(pid) for pid in pids))
            self.procs.append(len(pids))
            if n % self.pss_every == 0:
                self.pss.append(sum(pss(pid) for pid in pids))
            n += 1
            if self._stop.wait(self.interval):
                return

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        """{rss_peak, rss_mean, pss_peak: MB; procs: the most processes seen}."""
        self._stop.set()
        self._thread.join()
        if not self.rss:
            return {"rss_peak": 0.0, "rss_mean": 0.0, "pss_peak": 0.0, "procs": 0}
        return {"rss_peak": max(self.rss) / MB, "rss_mean": sum(self.rss) / len(self.rss) / MB,
                "pss_peak": max(self.pss, default=0) / MB, "procs": max(self.procs)}
