"""Ours inside Apache: the mod_wsgi recipe (deploy/apache-mod-wsgi.conf) in a private Apache,
started the way tests/test_mod_wsgi.py starts it (tests/apache_mod_wsgi.py), with the bench's
ini. Apache runs prefork with the same pre-spawned pool as ITFlow's (itflow_site.prefork), as
on an ITFlow host where mod_php needs prefork; the daemon has --workers processes of --threads
threads (default: the recipe's 8).
"""
import os
import shutil
import sys
import tempfile

from itflow_site import KEEPALIVE, prefork

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))


def available():
    return shutil.which("apache2", path=os.environ.get("PATH", "") + ":/usr/sbin") is not None \
        and os.path.exists("/usr/lib/apache2/modules/mod_wsgi.so")


class ModWsgiServer:
    label = "ours (mod_wsgi)"

    def __init__(self, ini, port, workers, threads, connections):
        from apache_mod_wsgi import ModWsgiSite, apache_and_python, daemon_requirements, daemon_venv
        self.binary, python = apache_and_python()
        extra = ["mysqlclient"] if _importable("MySQLdb") else []
        venv = daemon_venv(python, daemon_requirements(extra))
        self.work = tempfile.mkdtemp(prefix="itflow-bench-mod-wsgi-")
        config = os.path.join(self.work, "itflow-api.ini")
        shutil.copy(ini, config)
        os.chmod(config, 0o644)  # the daemon runs as www-data; the ini holds bench-only secrets
        self.port = port
        self.site = ModWsgiSite(self.work, port, config, venv, processes=workers, threads=threads,
                                tuning={**prefork(connections), **KEEPALIVE})
        self.site.prepare()
        self.threads = threads or 8
        self.workers = workers

    @property
    def proc(self):
        return self.site.proc

    def start(self):
        self.site.start(self.binary)

    def banner(self):
        """Apache's own start line (its version, mod_wsgi's and Python's) and the daemon's size."""
        started = next((line for line in self.site.log().splitlines() if "configured --" in line), "")
        versions = started.split("] ", 3)[-1].split(": ", 1)[-1].split(" configured")[0]
        return (f"{versions}; mpm_prefork, daemon mode: {self.workers} processes x "
                f"{self.threads} threads")

    def stop(self):
        self.site.stop()
        shutil.rmtree(self.work, ignore_errors=True)


def _importable(name):
    try:
        __import__(name)
    except ImportError:
        return False
    return True
