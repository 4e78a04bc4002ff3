"""A MariaDB Galera cluster of N nodes on this one machine, for tests and trials.

    python deploy/galera/cluster.py start [--nodes 3] [--dir /tmp/x]   # prints the ports, stays up
    python deploy/galera/cluster.py stop --dir /tmp/x

or from Python (tests/test_galera.py):

    with Cluster() as cluster:          # bootstrapped, joined, ITFlow schema created
        cluster.nodes[0].port ...
        cluster.kill(1)                 # SIGKILL one node

Each node has its own data directory under one temporary directory, its own client port and
its own Galera ports (group communication, IST, SST), all on 127.0.0.1. Node 1 bootstraps the
cluster (--wsrep-new-cluster); the others join it and receive its data by rsync SST. The
schema is then created through node 1 with this project's own code, and replicates.

Run it as root (the servers drop to the mysql user, as Debian's do). Needs mariadbd, rsync and
Debian's galera-4 (/usr/lib/galera/libgalera_smm.so); `missing()` says
what is absent. Nothing here touches the machine's own MariaDB (/etc/mysql is not read).
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PROVIDER = "/usr/lib/galera/libgalera_smm.so"
MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db") or ""
DATABASE = "itflow"
# The server drops to this user, as Debian's does; so does the rsync daemon of a state
# transfer (run by root, rsync would drop to nobody, who cannot write the data directory).
RUN_AS = "mysql"

# Short failure detection: a killed node leaves the group in ~2 s, not the default ~5-15 s,
# during which the survivors' commits wait. Values a LAN deployment would keep at defaults.
_EVS = ("evs.keepalive_period=PT0.5S;evs.inactive_check_period=PT0.5S;evs.suspect_timeout=PT2S;"
        "evs.inactive_timeout=PT3S;evs.install_timeout=PT3S")


def missing():
    """Why a cluster cannot be started here ('' when it can)."""
    absent = [what for what, path in (("galera-4 (apt-get install galera-4)", PROVIDER),
                                      ("mariadbd (apt-get install mariadb-server)", MARIADBD),
                                      ("mariadb-install-db", INSTALL_DB), ("rsync (the SST method)", shutil.which("rsync") or ""))
              if not path or not os.path.exists(path)]
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        absent.append("root (the servers start as root and drop to the mysql user)")
    return ", ".join(absent)


def _free_ports(count):
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class Node:
    def __init__(self, index, base, port, gcomm, ist, sst):
        self.index, self.name = index, f"node{index + 1}"
        self.dir = os.path.join(base, self.name)
        self.datadir = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "mysqld.sock")
        self.log = os.path.join(self.dir, "error.log")
        self.cnf = os.path.join(self.dir, "my.cnf")
        self.port, self.gcomm, self.ist, self.sst = port, gcomm, ist, sst
        self.process = None

    def write_config(self, peers, sync_wait, galera=True):
        options = f"base_port={self.gcomm};gmcast.listen_addr=tcp://127.0.0.1:{self.gcomm};" \
                  f"ist.recv_addr=127.0.0.1:{self.ist};gcache.size=64M;{_EVS}"
        lines = {
            "datadir": self.datadir, "socket": self.socket, "pid-file": os.path.join(self.dir, "mysqld.pid"),
            "log-error": self.log, "port": self.port, "bind-address": "127.0.0.1", "user": RUN_AS,
            "skip-name-resolve": "ON", "max_connections": 300, "performance_schema": "OFF",
            "innodb_buffer_pool_size": "64M", "innodb_log_file_size": "32M",
            # Galera's requirements: row events, InnoDB, interleaved auto-increment locks.
            "binlog_format": "ROW", "default_storage_engine": "InnoDB", "innodb_autoinc_lock_mode": 2,
            # Durability comes from the other nodes holding the write set; a test cluster
            # need not fsync every commit too.
            "innodb_flush_log_at_trx_commit": 2,
            "wsrep_on": "ON", "wsrep_provider": PROVIDER, "wsrep_cluster_name": "itflow_galera",
            "wsrep_cluster_address": "gcomm://" + ",".join(f"127.0.0.1:{p}" for p in peers),
            "wsrep_node_name": self.name, "wsrep_node_address": "127.0.0.1",
            "wsrep_provider_options": f'"{options}"',
            "wsrep_sst_method": "rsync", "wsrep_sst_receive_address": f"127.0.0.1:{self.sst}",
            # Read-your-writes for every client of this node (docs/galera.md, "Several hosts
            # on a Galera cluster"): a read first waits until this node has applied every
            # write the cluster committed before it.
            "wsrep_sync_wait": sync_wait,
            "wsrep_slave_threads": 2,
        }
        if not galera:  # the same server without replication: the benchmark's single MariaDB
            lines = {k: v for k, v in lines.items() if not k.startswith("wsrep_")}
        with open(self.cnf, "w") as f:
            f.write("[mysqld]\n" + "".join(f"{k} = {v}\n" for k, v in lines.items()))

    def start(self, bootstrap=False):
        args = [MARIADBD, f"--defaults-file={self.cnf}"] + (["--wsrep-new-cluster"] if bootstrap else [])
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)

    def status(self, name):
        """A wsrep status value ('' when the node does not answer)."""
        import pymysql
        try:
            with pymysql.connect(unix_socket=self.socket, user="root", connect_timeout=1, read_timeout=3) as conn, \
                    conn.cursor() as cur:
                cur.execute("SHOW GLOBAL STATUS LIKE %s", (name,))
                row = cur.fetchone()
                return row[1] if row else ""
        except Exception:
            return ""

    def wait_synced(self, timeout=90, galera=True):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}); see {self.log}:\n{_tail(self.log)}")
            if not galera and self.status("Uptime"):
                return
            if self.status("wsrep_local_state_comment") == "Synced" and self.status("wsrep_ready") == "ON":
                return
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not reach Synced in {timeout} s; see {self.log}:\n{_tail(self.log)}")

    @property
    def alive(self):
        return self.process is not None and self.process.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if not self.alive:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def _tail(path, lines=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


class Cluster:
    """`nodes` Galera nodes under `base` (a new temporary directory by default, removed on stop).
    galera=False: one plain MariaDB with the same settings, to compare against."""

    def __init__(self, nodes=3, base=None, sync_wait=1, user="itflow", password="itflow", galera=True):
        self.galera = galera
        self.base = base or tempfile.mkdtemp(prefix="itflow-galera-")
        self.owns_base = base is None
        self.user, self.password, self.sync_wait = user, password, sync_wait
        ports = _free_ports(4 * nodes)
        self.nodes = [Node(i, self.base, *ports[4 * i:4 * i + 4]) for i in range(nodes)]

    def start(self):
        reason = missing()
        if reason:
            raise RuntimeError(f"cannot start a Galera cluster: missing {reason}")
        peers = [n.gcomm for n in self.nodes]
        os.makedirs(self.base, exist_ok=True)
        os.chmod(self.base, 0o755)  # mkdtemp makes it private to root
        for node in self.nodes:
            os.makedirs(node.datadir, exist_ok=True)
            node.write_config(peers, self.sync_wait, self.galera)
            if os.geteuid() == 0:
                shutil.chown(node.dir, RUN_AS, RUN_AS)
                shutil.chown(node.datadir, RUN_AS, RUN_AS)
        first = self.nodes[0]
        done = subprocess.run([INSTALL_DB, f"--defaults-file={first.cnf}", "--auth-root-authentication-method=socket",
                               "--skip-test-db"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode:
            raise RuntimeError(f"mariadb-install-db failed ({done.returncode}):\n{done.stdout[-2000:]}")
        first.start(bootstrap=self.galera)
        first.wait_synced(galera=self.galera)
        self._admin(first, f"CREATE USER IF NOT EXISTS '{self.user}'@'127.0.0.1' IDENTIFIED BY '{self.password}'",
                    f"GRANT ALL PRIVILEGES ON *.* TO '{self.user}'@'127.0.0.1'",
                    f"CREATE DATABASE IF NOT EXISTS `{DATABASE}` CHARACTER SET utf8mb4")
        for node in self.nodes[1:]:  # one at a time: each joiner takes an SST from a donor
            node.start()
            node.wait_synced()
        self.create_schema()
        return self

    def _admin(self, node, *statements):
        import pymysql
        with pymysql.connect(unix_socket=node.socket, user="root", autocommit=True) as conn, conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)

    def url(self, index, driver="pymysql", database=DATABASE):
        scheme = "mysql+mysqldb" if driver == "mysqlclient" else "mysql+pymysql"
        return f"{scheme}://{self.user}:{self.password}@127.0.0.1:{self.nodes[index].port}/{database}"

    def create_schema(self):
        """ITFlow's tables and seed rows, created through node 1 by this project's code."""
        from itflow_api.lib.db.database import Database  # the installed package (pip install -e .)
        db = Database(self.url(0), "mysql")
        try:
            db.create_schema()
        finally:
            db.close()

    def kill(self, index):
        """SIGKILL a node: what a crashed host or a pulled cable looks like to the others."""
        self.nodes[index].stop(signal.SIGKILL)

    def stop(self):
        # The last node standing is stopped last, so that it could bootstrap a restart.
        for node in reversed(self.nodes):
            node.stop()
        if self.owns_base:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--dir", help="where the nodes live (start: default a new temporary directory)")
    args = parser.parse_args(argv)
    if args.action == "stop":
        for pid_file in sorted(p for p in _pid_files(args.dir)):
            with open(pid_file) as f:
                pid = int(f.read().strip())
            os.kill(pid, signal.SIGTERM)
            print(f"stopped pid {pid} ({pid_file})")
        return 0
    cluster = Cluster(args.nodes, os.path.abspath(args.dir) if args.dir else None)
    cluster.owns_base = False  # the command-line cluster outlives this command
    try:
        cluster.start()
    except Exception:
        cluster.stop()
        raise
    for node in cluster.nodes:
        print(f"{node.name}: 127.0.0.1:{node.port} (user {cluster.user}, password {cluster.password}, "
              f"database {DATABASE}), galera port {node.gcomm}, data {node.datadir}")
    print(f"stop with: python {sys.argv[0]} stop --dir {cluster.base}")
    return 0


def _pid_files(base):
    if not base:
        raise SystemExit("stop needs --dir")
    for name in os.listdir(base):
        path = os.path.join(base, name, "mysqld.pid")
        if os.path.exists(path):
            yield path


if __name__ == "__main__":
    sys.exit(main())
