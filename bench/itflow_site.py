"""The real ITFlow, served the way it is deployed: Debian's Apache 2.4 (prefork) with mod_php.

The exported tree is copied (ITFlow's includes resolve `__DIR__`, which follows symlinks, so a
symlink farm would read config.php from the original tree) and gets a config.php of the form
ITFlow's setup writes. Apache runs from a config file of its own, on its own port, with its pid
file, logs and runtime files in the run's temporary directory; the system site is not touched.
"""
import glob
import os
import secrets
import shutil
import subprocess
import time
import urllib.request

import memory

MODULE_DIR = "/usr/lib/apache2/modules"
# Debian's default set for a PHP site, minus what an API request never uses (status, autoindex...).
MODULES = ["mpm_prefork", "authz_core", "authz_host", "alias", "mime", "dir", "env", "setenvif",
           "rewrite", "headers"]
# Debian's keep-alive defaults (apache2.conf).
KEEPALIVE = {"KeepAlive": "On", "MaxKeepAliveRequests": 100, "KeepAliveTimeout": 5}


DEBIAN_MAX_REQUEST_WORKERS = 150  # mpm_prefork.conf


def prefork(connections):
    """Debian's prefork limits (MaxRequestWorkers 150), but with a pre-spawned pool as large as
    the load: with Debian's 5 to 10 spare children every run would start by forking, which
    would be timed against ITFlow (p99 over a second) rather than its request handling. Above
    150 connections Apache serves 150 at a time as installed; the rest wait to be accepted."""
    cap = DEBIAN_MAX_REQUEST_WORKERS
    return {"StartServers": min(connections + 4, cap), "MinSpareServers": min(connections + 4, cap),
            "MaxSpareServers": min(connections + 8, cap), "MaxRequestWorkers": cap,
            "MaxConnectionsPerChild": 0}


INSTALL_HINT = ("apt-get install apache2 libapache2-mod-php php-mysql php-mbstring php-curl php-intl "
                "php-gd php-zip php-xml php-imap")


def _php(value):
    """A PHP single-quoted string literal (what var_export writes)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def php_module():
    found = sorted(glob.glob(os.path.join(MODULE_DIR, "libphp*.so")))
    if not shutil.which("apache2") or not found:
        raise SystemExit(f"the ITFlow reference needs Apache with mod_php: {INSTALL_HINT}")
    return found[-1]


def php_version():
    out = subprocess.run(["php", "-r", "echo PHP_VERSION;"], capture_output=True, text=True)
    return out.stdout.strip() or "?"


def apache_version():
    out = subprocess.run(["apache2", "-v"], capture_output=True, text=True).stdout
    return out.splitlines()[0].split(":", 1)[-1].strip() if out else "?"


class ITFlowSite:
    def __init__(self, tree, workdir, port, db, connections):
        if not os.path.isfile(os.path.join(tree, "api", "v1", "validate_api_key.php")):
            raise SystemExit(f"{tree} is not an ITFlow tree (no api/v1/validate_api_key.php)")
        self.tree, self.port, self.db = tree, port, db
        self.tuning = {**prefork(connections), **KEEPALIVE}
        self.dir = os.path.join(workdir, "apache")
        self.docroot = os.path.join(workdir, "itflow")
        self.conf = os.path.join(self.dir, "apache.conf")
        self.error_log = os.path.join(self.dir, "error.log")
        self.access_log = os.path.join(self.dir, "access.log")
        self.opcache = None

    def prepare(self):
        shutil.copytree(self.tree, self.docroot, symlinks=True)
        os.makedirs(self.dir)
        self._write_config_php()
        self._write_apache_conf()
        for path in (os.path.dirname(self.dir), self.dir, self.docroot):
            os.chmod(path, 0o755)  # Apache's children run as www-data
        shutil.chown(os.path.join(self.docroot, "uploads"), "www-data", "www-data")

    def _write_config_php(self):
        d = self.db
        lines = [
            "<?php", "",
            f"$dbhost = {_php(d['host'])};",
            f"$dbusername = {_php(d['user'])};",
            f"$dbpassword = {_php(d['password'])};",
            f"$database = {_php(d['name'])};",
            # ITFlow's setup writes exactly this connect line; the port only when it is not 3306.
            "$mysqli = mysqli_connect($dbhost, $dbusername, $dbpassword, $database"
            + (f", {int(d['port'])}" if int(d["port"]) != 3306 else "") + ") or die('Database Connection Failed');",
            "$config_app_name = 'ITFlow';",
            f"$config_base_url = {_php(f'127.0.0.1:{self.port}')};",
            "$config_https_only = FALSE;",
            "$repo_branch = 'master';",
            f"$installation_id = {_php(secrets.token_hex(16))};",
            "$config_enable_setup = 0;", "",
        ]
        with open(os.path.join(self.docroot, "config.php"), "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines))

    def _write_apache_conf(self):
        loads = [f"LoadModule {m}_module {MODULE_DIR}/mod_{m}.so" for m in MODULES]
        loads.append(f"LoadModule php_module {php_module()}")
        tuning = [f"{k} {v}" for k, v in self.tuning.items()]
        conf = loads + [
            "ServerName 127.0.0.1",
            f"Listen 127.0.0.1:{self.port}",
            f"PidFile {self.dir}/apache.pid",
            f"DefaultRuntimeDir {self.dir}",
            f"ErrorLog {self.error_log}",
            "LogLevel warn",
            # Debian's default site logs every request in this format; ours logs every request too.
            'LogFormat "%h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"" combined',
            f"CustomLog {self.access_log} combined",
            "User www-data",
            "Group www-data",
            "TypesConfig /etc/mime.types",
            *tuning,
            f"DocumentRoot {self.docroot}",
            "<Directory />", "  AllowOverride None", "  Require all denied", "</Directory>",
            f"<Directory {self.docroot}>", "  Options FollowSymLinks", "  AllowOverride All",
            "  Require all granted", "</Directory>",
            "DirectoryIndex index.php",
            '<FilesMatch "\\.php$">', "  SetHandler application/x-httpd-php", "</FilesMatch>",
            "",
        ]
        with open(self.conf, "w", encoding="utf-8") as handle:
            handle.write("\n".join(conf))

    def settings(self):
        tuning = ", ".join(f"{k} {v}" for k, v in self.tuning.items())
        return (f"ITFlow: {apache_version()}, mpm_prefork + mod_php {php_version()}, "
                f"opcache {'on' if self.opcache else 'OFF'} (asked of PHP in this Apache), "
                f"AllowOverride All, access log in Debian's combined format; {tuning}")

    def start(self):
        subprocess.run(["apache2", "-f", self.conf, "-k", "start"], check=True)

    def resize(self, connections):
        """Stopped and started again with the pool for `connections` (the caller waits for it)."""
        self.stop()
        self.tuning = {**prefork(connections), **KEEPALIVE}
        self._write_apache_conf()
        self.start()

    def master_pid(self):
        try:
            with open(os.path.join(self.dir, "apache.pid"), encoding="ascii") as handle:
                return int(handle.read().strip())
        except (OSError, ValueError):
            return None

    def memory_pids(self):
        """Apache's children: the processes that run ITFlow (the master only hands out work)."""
        master = self.master_pid()
        return memory.children(master) if master else []

    def opcache_enabled(self):
        """Asks PHP inside this Apache (a probe file of ours, next to ITFlow's files in the copy)."""
        probe = os.path.join(self.docroot, "bench-opcache-probe.php")
        with open(probe, "w", encoding="utf-8") as handle:
            handle.write("<?php echo json_encode(function_exists('opcache_get_status') "
                         "&& (opcache_get_status(false)['opcache_enabled'] ?? false));")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/bench-opcache-probe.php", timeout=10) as r:
                return r.read().strip() == b"true"
        finally:
            os.remove(probe)

    def stop(self):
        """`-k stop` only signals; wait until Apache has gone (it removes its pid file)."""
        subprocess.run(["apache2", "-f", self.conf, "-k", "stop"], check=False, stderr=subprocess.DEVNULL)
        pid_file = os.path.join(self.dir, "apache.pid")
        for _ in range(100):
            if not os.path.exists(pid_file):
                return
            time.sleep(0.1)

    def errors(self):
        """The PHP/Apache error lines logged so far (warnings included)."""
        try:
            with open(self.error_log, encoding="utf-8", errors="replace") as handle:
                return [line for line in handle if "PHP " in line or ":error]" in line]
        except FileNotFoundError:
            return []
