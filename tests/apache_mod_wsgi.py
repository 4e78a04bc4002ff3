"""A private Apache running the mod_wsgi recipe (deploy/apache-mod-wsgi.conf) in a virtual host
of its own: its own config, port, pid file and logs in a folder given to it; the system's apache2
service and configuration are not touched. tests/test_mod_wsgi.py tests the recipe with it and
bench/run.py measures it (`--servers mod_wsgi`).

    site = ModWsgiSite(work, port, config_ini, daemon_venv(python, daemon_requirements()))
    site.prepare(); site.start(); ...; site.stop()

The recipe's lines are used as written, with the paths of a real host replaced by this one's.
The virtual host stands for ITFlow's: its DocumentRoot holds an api/v1/clients/read.php and an
index.php (plain text standing in for ITFlow's PHP), so that a test can tell which of the two
answered. The daemon runs the Python mod_wsgi was built against (/usr/bin/python3.X, found from
the libpython it links) in a virtual environment holding this package's dependencies at the
versions installed in the caller's environment: made once with pip and kept in the temporary
folder under a name hashed from that Python and those versions. The package is copied from the
checkout, laid out as pip installs it (<site-packages>/itflow_api/wsgi.py).
"""
import configparser
import contextlib
import fcntl
import hashlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "deploy" / "apache-mod-wsgi.conf"
MODULES = Path("/usr/lib/apache2/modules")
AS_ROOT = os.geteuid() == 0
DAEMON_USER = "www-data"  # Debian's Apache user: the recipe's itflow-api user does not exist here
PHP_STAND_IN = "ITFlow's PHP would answer here\n"

# What the recipe names on a real host (each must be in it: the test follows the recipe).
INSTALLED_PACKAGE = "/opt/itflow-api/lib/python3.11/site-packages/itflow_api"
PYTHON_HOME = "python-home=/opt/itflow-api"
WORKING_DIR = "home=/var/lib/itflow-api"
USER = "user=itflow-api group=itflow-api"
POOL = "processes=2 threads=8"


class Unavailable(Exception):
    """Apache, mod_wsgi or the daemon's Python environment cannot be had here (the reason)."""


def apache_and_python():
    """(apache2, the /usr/bin/python3.X whose libpython mod_wsgi.so links)."""
    apache = shutil.which("apache2", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if not apache:
        raise Unavailable("apache2 is not installed (Debian: apt-get install apache2 libapache2-mod-wsgi-py3)")
    module = MODULES / "mod_wsgi.so"
    if not module.exists():
        raise Unavailable(f"mod_wsgi is not installed, no {module} (Debian: apt-get install libapache2-mod-wsgi-py3)")
    linked = subprocess.run(["ldd", str(module)], capture_output=True, text=True).stdout
    found = re.search(r"libpython(3\.\d+)", linked)
    python = f"/usr/bin/python{found.group(1)}" if found else None
    if not python or not os.access(python, os.X_OK):
        raise Unavailable(f"{module} links {found.group(0) if found else 'no libpython'}, and {python} is not there")
    return apache, python


def daemon_requirements(extra=()):
    """setup.cfg's install_requires and `extra`, each at the version installed here."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    names = [re.split(r"[\s<>=!~;\[]", line.strip())[0]
             for line in cfg["options"]["install_requires"].splitlines() if line.strip()]
    pins = []
    for name in [*names, *extra]:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pins.append(name)
    return pins


def daemon_venv(python, pins):
    """The daemon's virtual environment (python-home), made once per Python and pins."""
    tag = hashlib.sha256("\n".join([python, *pins]).encode()).hexdigest()[:16]
    venv = Path(tempfile.gettempdir()) / f"itflow-api-mod-wsgi-venv-{tag}"
    ready = venv / "itflow-api-pins.txt"
    with open(os.open(f"{venv}.lock", os.O_RDONLY | os.O_CREAT, 0o644)) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two runs at once make it once (any user may lock it)
        if not ready.exists():
            shutil.rmtree(venv, ignore_errors=True)
            for step in ([python, "-m", "venv", str(venv)],
                         [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                          *pins]):
                done = subprocess.run(step, capture_output=True, text=True, timeout=900)
                if done.returncode:
                    shutil.rmtree(venv, ignore_errors=True)
                    raise Unavailable(f"cannot make the daemon's virtual environment: `{' '.join(step)}` said "
                                      f"{(done.stderr or done.stdout).strip()[-600:]}")
            ready.write_text("\n".join(pins) + "\n", encoding="utf-8")
    return venv


def give_to_daemon(path):
    """When Apache starts as root, the daemon user owns `path` and what is in it (a SQLite
    file and its journal, a log)."""
    if not AS_ROOT:
        return
    entry = pwd.getpwnam(DAEMON_USER)
    for folder, _, files in os.walk(path):
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(folder, name), entry.pw_uid, entry.pw_gid)


def recipe_lines(replacements):
    """deploy/apache-mod-wsgi.conf without its comments, every placeholder replaced."""
    text = "\n".join(line for line in RECIPE.read_text(encoding="utf-8").splitlines()
                     if not line.lstrip().startswith("#"))
    for placeholder, value in replacements.items():
        if placeholder not in text:
            raise AssertionError(f"{RECIPE.name} no longer has {placeholder!r}: update {Path(__file__).name}")
        text = text.replace(placeholder, value)
    return text + "\n"


class ModWsgiSite:
    """Apache (prefork, as on an ITFlow host, where mod_php needs it) in the foreground, in a
    process group of its own; `tuning` adds server-wide directives (e.g. prefork's pool)."""

    def __init__(self, work, port, config_ini, venv, processes=None, threads=None, tuning=None):
        self.work, self.port, self.config_ini, self.venv = Path(work), port, str(config_ini), venv
        self.processes, self.threads, self.tuning = processes, threads, tuning or {}
        self.package = self.work / "site-packages" / "itflow_api"
        self.error_log = self.work / "error.log"
        self.conf = self.work / "apache.conf"
        self.proc = None

    def prepare(self):
        self.work.chmod(0o755)
        self._copy_package()
        docroot = self.work / "itflow"
        (docroot / "api" / "v1" / "clients").mkdir(parents=True)
        for page in (docroot / "index.php", docroot / "api" / "v1" / "clients" / "read.php"):
            page.write_text(PHP_STAND_IN, encoding="utf-8")
        pool = f"processes={self.processes or 2} threads={self.threads or 8}"
        (self.work / "apache-mod-wsgi.conf").write_text(recipe_lines({
            INSTALLED_PACKAGE: str(self.package),
            PYTHON_HOME: f"python-home={self.venv} python-path={self.package.parent}",
            WORKING_DIR: f"home={self.work}",
            USER: f"user={DAEMON_USER} group={DAEMON_USER}" if AS_ROOT else "",
            POOL: pool,
        }), encoding="utf-8")
        self.conf.write_text(self._apache_conf(), encoding="utf-8")

    def _copy_package(self):
        self.package.mkdir(parents=True)
        for name in ("__init__.py", "wsgi.py"):
            shutil.copy2(ROOT / name, self.package / name)
        for folder in ("lib", "api"):
            shutil.copytree(ROOT / folder, self.package / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))

    def _apache_conf(self):
        w = self.work
        lines = [
            f"ServerRoot {w}", "ServerName 127.0.0.1", f"Listen 127.0.0.1:{self.port}",
            f"PidFile {w}/apache.pid", f"DefaultRuntimeDir {w}", f"ErrorLog {self.error_log}", "LogLevel info",
            # Debian's default site logs every request in this format
            'LogFormat "%h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"" combined',
            f"CustomLog {w}/access.log combined",
            "ServerTokens OS",  # Debian's own setting (conf-available/security.conf)
            *([f"User {DAEMON_USER}", f"Group {DAEMON_USER}"] if AS_ROOT else []),
            f"LoadModule mpm_prefork_module {MODULES}/mod_mpm_prefork.so",
            f"LoadModule authz_core_module {MODULES}/mod_authz_core.so",
            f"LoadModule wsgi_module {MODULES}/mod_wsgi.so",
            f"WSGISocketPrefix {w}/wsgi",
            "WSGIRestrictEmbedded On",  # docs/operations.md: no Python in Apache's own children
            *(f"{k} {v}" for k, v in self.tuning.items()),
            "<Directory />", "  AllowOverride None", "  Require all denied", "</Directory>",
            f"<VirtualHost 127.0.0.1:{self.port}>",
            "  ServerName itflow.test",
            f"  DocumentRoot {w}/itflow",
            f"  <Directory {w}/itflow>", "    Require all granted", "  </Directory>",
            f"  Include {w}/apache-mod-wsgi.conf",
            "</VirtualHost>",
        ]
        return "\n".join(lines) + "\n"

    def start(self, binary, seconds=60, until_json=True):
        """apache2 -DFOREGROUND, with ITFLOW_API_CONFIG naming the config; returns once the
        app itself answers (its JSON), or with until_json=False once Apache answers at all."""
        environ = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "ITFLOW_API_CONFIG": self.config_ini}
        self.proc = subprocess.Popen([binary, "-f", str(self.conf), "-DFOREGROUND"], env=environ,
                                     start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"apache2 exited with {self.proc.returncode}: {self.stop()}\n{self.log()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/index.php", timeout=30):
                    pass
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v1/clients/read.php", timeout=30) as r:
                    answered = r.headers.get("Content-Type", "")
            except urllib.error.HTTPError as exc:
                answered = exc.headers.get("Content-Type", "")
            except OSError:
                answered = None
            if answered is not None and (answered.startswith("application/json") or not until_json):
                return
            time.sleep(0.2)
        raise AssertionError(f"the app did not answer through Apache within {seconds} s:\n{self.log()}")

    def log(self):
        return self.error_log.read_text(encoding="utf-8", errors="replace") if self.error_log.exists() else ""

    def stop(self):
        """SIGTERM to Apache, then SIGKILL to whatever of its process group is left; returns
        what apache2 wrote on stderr."""
        if self.proc is None:
            return ""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # nothing of it outlives the caller
        self.proc.wait(10)
        return self.proc.stderr.read() if self.proc.stderr else ""
