"""The mod_wsgi recipe in a real Apache: the lines of deploy/apache-mod-wsgi.conf, with its paths
pointed at this test, inside the virtual host of a private Apache (its own config, port, pid
file and logs in a temporary folder; the system's apache2 service is not touched). The virtual
host stands for ITFlow's: its DocumentRoot holds an api/v1/clients/read.php, which the recipe's
/api mount must take over while the rest of the site stays with the DocumentRoot. A read, a
create and a refused key go through Apache to wsgi.py and a fresh test database.

Needs apache2 and Debian's libapache2-mod-wsgi-py3; skipped without them unless
ITFLOW_TEST_MOD_WSGI=required (CI), which makes a missing piece a failure. The daemon runs the
Python that mod_wsgi was built against (/usr/bin/python3.X, found from the libpython it links),
in a virtual environment holding this package's dependencies at the versions installed here:
made once (pip, from the network or its cache) and kept in the temporary folder, named by a hash
of that Python and those versions. The package itself is copied from this checkout, laid out
as pip installs it (…/itflow_api/wsgi.py).
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
from importlib import metadata
from pathlib import Path

import pytest
import requests
from helpers import BACKEND, MYSQL_DRIVER, SECRET, free_port, fresh_config, make_key

from itflow_api.lib.access.keys import KeyStore
from itflow_api.lib.db.database import Database

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "deploy" / "apache-mod-wsgi.conf"
MODULES = Path("/usr/lib/apache2/modules")
REQUIRED = os.environ.get("ITFLOW_TEST_MOD_WSGI") == "required"
AS_ROOT = os.geteuid() == 0
DAEMON_USER = "www-data"  # Debian's Apache user: the recipe's itflow-api user does not exist here
PHP_STAND_IN = "ITFlow's PHP would answer here\n"


def unavailable(reason):
    if REQUIRED:
        pytest.fail(f"ITFLOW_TEST_MOD_WSGI=required, but {reason}")
    pytest.skip(reason)


def apache_and_python():
    """apache2, and the /usr/bin/python3.X whose libpython mod_wsgi.so links."""
    apache = shutil.which("apache2", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if not apache:
        unavailable("apache2 is not installed (Debian: apt-get install apache2 libapache2-mod-wsgi-py3)")
    if not (MODULES / "mod_wsgi.so").exists():
        unavailable(f"mod_wsgi is not installed, no {MODULES}/mod_wsgi.so (Debian: apt-get install libapache2-mod-wsgi-py3)")
    linked = subprocess.run(["ldd", str(MODULES / "mod_wsgi.so")], capture_output=True, text=True).stdout
    found = re.search(r"libpython(3\.\d+)", linked)
    python = f"/usr/bin/python{found.group(1)}" if found else None
    if not python or not os.access(python, os.X_OK):
        unavailable(f"mod_wsgi.so links {found.group(0) if found else 'no libpython'}, and {python} is not there")
    return apache, python


def daemon_requirements():
    """setup.cfg's install_requires (and mysqlclient when it is the driver under test), each
    at the version installed in this test's own environment."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    names = [re.split(r"[\s<>=!~;\[]", line.strip())[0]
             for line in cfg["options"]["install_requires"].splitlines() if line.strip()]
    if BACKEND == "mysql" and MYSQL_DRIVER == "mysqlclient":
        names.append("mysqlclient")
    pins = []
    for name in names:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pins.append(name)
    return pins


def daemon_venv(python):
    """The daemon's virtual environment (python-home), made once per Python and pins."""
    pins = daemon_requirements()
    tag = hashlib.sha256("\n".join([python, *pins]).encode()).hexdigest()[:16]
    venv = Path(tempfile.gettempdir()) / f"itflow-api-mod-wsgi-venv-{tag}"
    ready = venv / "itflow-api-pins.txt"
    with open(f"{venv}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs at once make it once
        if not ready.exists():
            shutil.rmtree(venv, ignore_errors=True)
            for step in ([python, "-m", "venv", str(venv)],
                         [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                          *pins]):
                done = subprocess.run(step, capture_output=True, text=True, timeout=900)
                if done.returncode:
                    shutil.rmtree(venv, ignore_errors=True)
                    unavailable(f"cannot make the daemon's virtual environment: `{' '.join(step)}` said "
                                f"{(done.stderr or done.stdout).strip()[-600:]}")
            ready.write_text("\n".join(pins) + "\n", encoding="utf-8")
    return venv


def installed_copy(site_packages):
    """The package as pip lays it out, copied from this checkout: site_packages/itflow_api."""
    target = site_packages / "itflow_api"
    target.mkdir(parents=True)
    for name in ("__init__.py", "wsgi.py"):
        shutil.copy2(ROOT / name, target / name)
    for folder in ("lib", "api"):
        shutil.copytree(ROOT / folder, target / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def recipe_lines(replacements):
    """deploy/apache-mod-wsgi.conf without its comments, every placeholder replaced (each must
    be there: the test follows the recipe rather than a copy of it)."""
    text = "\n".join(line for line in RECIPE.read_text(encoding="utf-8").splitlines()
                     if not line.lstrip().startswith("#"))
    for placeholder, value in replacements.items():
        assert placeholder in text, f"{RECIPE.name} no longer has {placeholder!r}: update this test"
        text = text.replace(placeholder, value)
    return text + "\n"


def apache_conf(work, port, recipe):
    user = [f"User {DAEMON_USER}", f"Group {DAEMON_USER}"] if AS_ROOT else []
    lines = [
        f"ServerRoot {work}",
        "ServerName 127.0.0.1",
        f"Listen 127.0.0.1:{port}",
        f"PidFile {work}/apache.pid",
        f"DefaultRuntimeDir {work}",
        f"ErrorLog {work}/error.log",
        "LogLevel info",
        'LogFormat "%h %l %u %t \\"%r\\" %>s %O" common',
        f"CustomLog {work}/access.log common",
        "ServerTokens OS",  # Debian's own setting (conf-available/security.conf)
        *user,
        # prefork, as on an ITFlow host (mod_php needs it)
        f"LoadModule mpm_prefork_module {MODULES}/mod_mpm_prefork.so",
        f"LoadModule authz_core_module {MODULES}/mod_authz_core.so",
        f"LoadModule wsgi_module {MODULES}/mod_wsgi.so",
        f"WSGISocketPrefix {work}/wsgi",
        "WSGIRestrictEmbedded On",  # docs/operations.md: no Python in Apache's own children
        "<Directory />", "  AllowOverride None", "  Require all denied", "</Directory>",
        f"<VirtualHost 127.0.0.1:{port}>",
        "  ServerName itflow.test",
        f"  DocumentRoot {work}/itflow",
        f"  <Directory {work}/itflow>", "    Require all granted", "  </Directory>",
        f"  Include {work}/apache-mod-wsgi.conf",
        "</VirtualHost>",
    ]
    return "\n".join(lines) + "\n"


def give_to_daemon(path):
    """The daemon user (when Apache starts as root) owns the folder: the SQLite file, its
    journal and the access log are written there."""
    if not AS_ROOT:
        return
    entry = pwd.getpwnam(DAEMON_USER)
    for folder, _, files in os.walk(path):
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(folder, name), entry.pw_uid, entry.pw_gid)


class Apache:
    """apache2 in the foreground (-DFOREGROUND), in a process group of its own."""

    def __init__(self, binary, conf, work, environ):
        self.work, self.error_log = work, work / "error.log"
        self.proc = subprocess.Popen([binary, "-f", str(conf), "-DFOREGROUND"], env=environ, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def log(self):
        return self.error_log.read_text(encoding="utf-8", errors="replace") if self.error_log.exists() else ""

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # nothing of ours outlives the test
        self.proc.wait(10)
        return self.proc.stderr.read() if self.proc.stderr else ""


def wait_for_app(url, apache, seconds=60):
    """Until the app itself answers (its JSON), not only Apache."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if apache.proc.poll() is not None:
            raise AssertionError(f"apache2 exited with {apache.proc.returncode}: {apache.stop()}\n{apache.log()}")
        try:
            answer = requests.get(url, timeout=30)
            if answer.headers.get("Content-Type", "").startswith("application/json"):
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the app did not answer through Apache within {seconds} s:\n{apache.log()}")


@pytest.fixture(scope="module")
def site():
    binary, python = apache_and_python()
    venv = daemon_venv(python)
    work = Path(tempfile.mkdtemp(prefix="itflow-api-mod-wsgi-"))
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, work, True)
        work.chmod(0o755)
        package = installed_copy(work / "site-packages")
        (work / "itflow" / "api" / "v1" / "clients").mkdir(parents=True)
        (work / "itflow" / "api" / "v1" / "clients" / "read.php").write_text(PHP_STAND_IN)
        (work / "itflow" / "index.php").write_text(PHP_STAND_IN)
        (work / "data").mkdir()
        cfg = cleanup.enter_context(fresh_config(work / "data"))
        db = Database.from_config(cfg.database)
        cleanup.callback(db.close)
        db.create_schema()
        keys = KeyStore(db, SECRET.encode())
        d = cfg.database
        (work / "data" / "config.ini").write_text("\n".join([
            "[database]", f"backend = {d.backend}", f"path = {d.path}", f"host = {d.host}", f"port = {d.port}",
            f"user = {d.user}", f"password = {d.password}", f"name = {d.name}", f"driver = {d.driver}",
            "[security]", f"key_hash_secret = {SECRET}", "key_cache_seconds = 0",
            "[log]", f"access_log = {work / 'data' / 'api-access.log'}", ""]))
        give_to_daemon(work / "data")
        (work / "apache-mod-wsgi.conf").write_text(recipe_lines({
            "/opt/itflow-api/lib/python3.11/site-packages/itflow_api": str(package),
            "python-home=/opt/itflow-api": f"python-home={venv} python-path={package.parent}",
            "home=/var/lib/itflow-api": f"home={work / 'data'}",
            "user=itflow-api group=itflow-api": f"user={DAEMON_USER} group={DAEMON_USER}" if AS_ROOT else "",
        }))
        port = free_port()
        (work / "apache.conf").write_text(apache_conf(work, port, work / "apache-mod-wsgi.conf"))
        environ = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
                   "ITFLOW_API_CONFIG": str(work / "data" / "config.ini")}
        apache = Apache(binary, work / "apache.conf", work, environ)
        cleanup.callback(apache.stop)
        base = f"http://127.0.0.1:{port}"
        wait_for_app(f"{base}/api/v1/clients/read.php", apache)
        yield {"base": base, "db": db, "keys": keys, "work": work, "apache": apache}


def answer_of(response):
    assert response.headers["Content-Type"] == "application/json", (response.status_code, response.text)
    return response.status_code, response.json()


def test_a_create_and_a_read_through_apache(site):
    key = make_key(site["keys"])
    api = f"{site['base']}/api/v1/clients"
    status, body = answer_of(requests.post(f"{api}/create.php", json={"api_key": key, "client_name": "Through Apache"},
                                           timeout=30))
    assert status == 200 and list(body) == ["success", "count", "data"], body
    client_id = body["data"][0]["insert_id"]
    assert body == {"success": "True", "count": "1", "data": [{"insert_id": client_id}]}
    with site["db"].transaction():
        row = site["db"].row("SELECT client_name FROM clients WHERE client_id = :id", {"id": client_id})
        api_log = site["db"].row("SELECT log_ip FROM logs WHERE log_type = 'API' ORDER BY log_id DESC LIMIT 1")
    assert row == {"client_name": "Through Apache"}
    assert api_log == {"log_ip": "127.0.0.1"}  # the caller's address, as Apache saw it

    # the key as a Bearer header: WSGIPassAuthorization On hands it to the app
    read = requests.get(f"{api}/read.php", params={"client_id": client_id},
                        headers={"Authorization": f"Bearer {key}"}, timeout=30)
    status, body = answer_of(read)
    assert status == 200 and body["success"] == "True" and body["count"] == 1, body
    assert body["data"][0]["client_id"] == str(client_id) and body["data"][0]["client_name"] == "Through Apache"
    assert int(read.headers["X-RateLimit-Limit"]) > 0 and "X-RateLimit-Remaining" in read.headers
    # Apache's own Server header (Debian's ServerTokens OS), naming neither mod_wsgi nor Python
    assert read.headers["Server"].startswith("Apache") and not re.search(r"wsgi|python", read.headers["Server"], re.I)


def test_a_wrong_key_is_the_apis_401_not_apaches(site):
    for headers, params in (({"Authorization": "Bearer not-a-key-of-ours-0123456789"}, {}),
                            ({}, {"api_key": "not-a-key-of-ours-0123456789"}), ({}, {})):
        refused = requests.get(f"{site['base']}/api/v1/clients/read.php", headers=headers, params=params, timeout=30)
        status, body = answer_of(refused)
        assert status == 401 and body["success"] == "False" and body["message"], body
        assert int(refused.headers["Content-Length"]) == len(refused.content)


def test_only_api_is_taken_from_the_document_root(site):
    """/api/v1/clients/read.php exists under DocumentRoot too (ITFlow's PHP): the app answers
    it; the rest of the site is still the DocumentRoot's."""
    page = requests.get(f"{site['base']}/index.php", timeout=30)
    assert page.status_code == 200 and page.text == PHP_STAND_IN
    routed = requests.get(f"{site['base']}/api/v1/no-such-module/read.php", timeout=30)
    status, body = answer_of(routed)
    assert status == 404 and body["success"] == "False", body


def test_the_app_logs_each_request_at_its_full_path_without_the_key(site):
    key = make_key(site["keys"])
    requests.get(f"{site['base']}/api/v1/clients/read.php", params={"api_key": key}, timeout=30)
    log = site["work"] / "data" / "api-access.log"
    deadline = time.time() + 10  # the access log writes its lines in batches
    while time.time() < deadline and "/api/v1/clients/read.php?api_key=" not in (log.read_text() if log.exists() else ""):
        time.sleep(0.2)
    written = log.read_text()
    assert "GET /api/v1/clients/read.php?api_key=" in written, written
    assert key not in written


def test_python_runs_in_the_recipes_two_daemon_processes_only(site):
    started = re.findall(r"Starting process 'itflow-api' with uid=\d+, gid=\d+ and threads=8", site["apache"].log())
    assert len(started) == 2, site["apache"].log()
    assert site["apache"].log().count("Initializing Python") == 2, site["apache"].log()
