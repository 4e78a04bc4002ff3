"""The bench database: ITFlow's schema (created by `itflow-api init-db`) and a reproducible data set.

Every value comes from one seeded random generator and fixed timestamps, so two runs with the
same seed hold the same rows. Ids are given explicitly, so nothing has to be read back.
"""
import os
import random
import subprocess
from datetime import date, timedelta

import pymysql

SIZES = {"clients": 2000, "contacts": 4000, "assets": 20000, "tickets": 5000}  # --size default
LARGE = {**SIZES, "tickets": 100_000, "logs": 1_000_000}  # --size large
SIZE_CHOICES = {"default": SIZES, "large": LARGE}
# asset_status by asset number (n % 10): seven in ten deployed, so a status filter means something
STATUSES = ["Deployed"] * 7 + ["Ready To Deploy", "Out for repair", "Retired"]
CREATED = "2026-01-05 09:00:00"
ASSET_TYPES = ["Laptop", "Desktop", "Server", "Printer", "Switch", "Firewall", "Phone", "Virtual Machine"]
MAKES = ["Dell", "HP", "Lenovo", "Cisco", "Ubiquiti", "Apple", "Synology", "Brother"]
WORDS = ["North", "Blue", "River", "Summit", "Oak", "Harbor", "Pixel", "Granite", "Maple", "Vertex",
         "Cedar", "Falcon", "Iron", "Silver", "Prairie", "Lumen", "Atlas", "Beacon", "Delta", "Echo"]
SUFFIXES = ["Dental", "Logistics", "Law", "Bakery", "Clinic", "Realty", "Studio", "Foods", "Partners", "Labs"]


def connect(db, database=None):
    return pymysql.connect(host=db["host"], port=db["port"], user=db["user"], password=db["password"],
                           database=database, autocommit=True, charset="utf8mb4")


USER_HOSTS = ("localhost", "127.0.0.1")  # the socket and TCP


def recreate(admin, db, ours_cmd, ini_path, itflow_sql=None):
    """Drop and create the database and its own user (what the servers log in as, the way ITFlow
    is installed), then ITFlow's schema: from the tree's own db.sql (with its indexes) plus the
    rows ITFlow's setup writes, or else with `itflow-api init-db`."""
    with connect(admin) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{db['name']}`")
        cur.execute(f"CREATE DATABASE `{db['name']}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
        for host in USER_HOSTS:
            cur.execute("DROP USER IF EXISTS %s@%s", (db["user"], host))
            cur.execute("CREATE USER %s@%s IDENTIFIED BY %s", (db["user"], host, db["password"]))
            cur.execute(f"GRANT ALL ON `{db['name']}`.* TO %s@%s", (db["user"], host))
    if not itflow_sql:
        subprocess.run(ours_cmd + ["--config", ini_path, "init-db"], check=True, stdout=subprocess.DEVNULL)
        with connect(db, db["name"]) as conn, conn.cursor() as cur:
            cur.execute("SHOW INDEX FROM asset_interfaces WHERE Column_name = 'interface_asset_id'")
            if not cur.fetchall():
                # ITFlow's db.sql has this key (the only secondary one on the seeded tables); without
                # it the assets list joins 20,000 x 20,000 rows.
                cur.execute("CREATE INDEX interface_asset_id ON asset_interfaces (interface_asset_id)")
                return "`itflow-api init-db` plus ITFlow's index on asset_interfaces.interface_asset_id"
        return "`itflow-api init-db`"
    with open(itflow_sql, "rb") as dump:
        subprocess.run(["mysql", f"--host={admin['host']}", f"--port={admin['port']}", f"--user={admin['user']}",
                        db["name"]], stdin=dump, check=True, env=dict(os.environ, MYSQL_PWD=admin["password"]))
    from itflow_api.lib.itflow.schema import seed_rows  # companies, settings, modules, ticket statuses
    with connect(admin, db["name"]) as conn, conn.cursor() as cur:
        for table, _key, row in seed_rows():
            _insert(cur, table, [row])
    return "the tree's db.sql and the rows of ITFlow's setup"


def drop(admin, db):
    with connect(admin) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{db['name']}`")
        for host in USER_HOSTS:
            cur.execute("DROP USER IF EXISTS %s@%s", (db["user"], host))


def count(admin, table):
    with connect(admin, admin["name"]) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) FROM {table}")
        return cur.fetchone()[0]


def _insert(cur, table, rows):
    cols = list(rows[0])
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"
    cur.executemany(sql, [tuple(r[c] for c in cols) for r in rows])  # pymysql batches these


def describe(sizes):
    return ", ".join(f"{n:,} {table}" for table, n in sizes.items())


def contact_email(contact_id, sizes=SIZES):
    """The e-mail address the seed gives contact `contact_id` (unique)."""
    per_client = sizes["contacts"] // sizes["clients"]
    return f"person{contact_id}@client{(contact_id - 1) // per_client + 1:04d}.example"


def asset_client(asset_id, sizes=SIZES):
    return (asset_id - 1) // (sizes["assets"] // sizes["clients"]) + 1


def _clients(rng, sizes):
    for cid in range(1, sizes["clients"] + 1):
        name = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {rng.choice(SUFFIXES)} {cid:04d}"
        yield {"client_id": cid, "client_name": name, "client_type": rng.choice(["Business", "Residential"]),
               "client_website": f"www.client{cid:04d}.example", "client_rate": f"{rng.randrange(60, 180)}.00",
               "client_currency_code": "USD", "client_net_terms": rng.choice([15, 30, 45]),
               "client_notes": f"Seeded client {cid}", "client_created_at": CREATED}


def _contacts(rng, sizes):
    per_client = sizes["contacts"] // sizes["clients"]
    for n in range(sizes["contacts"]):
        cid = n // per_client + 1
        first = n % per_client == 0
        yield {"contact_id": n + 1, "contact_name": f"{rng.choice(WORDS)} Person{n + 1}",
               "contact_title": "Office Manager" if first else "Staff",
               "contact_email": contact_email(n + 1, sizes),
               "contact_phone": f"555{rng.randrange(1000000, 9999999)}", "contact_primary": int(first),
               "contact_client_id": cid, "contact_created_at": CREATED}


def _assets(rng, sizes):
    per_client = sizes["assets"] // sizes["clients"]
    for n in range(sizes["assets"]):
        cid = n // per_client + 1
        kind = rng.choice(ASSET_TYPES)
        yield {"asset_id": n + 1, "asset_type": kind, "asset_name": f"{kind[:3].upper()}-{n + 1:05d}",
               "asset_make": rng.choice(MAKES), "asset_model": f"M{rng.randrange(100, 999)}",
               "asset_serial": f"SN{rng.getrandbits(40):010X}", "asset_os": rng.choice(["Windows 11", "Ubuntu 24.04", ""]),
               "asset_status": STATUSES[n % len(STATUSES)], "asset_client_id": cid,
               "asset_contact_id": (cid - 1) * 2 + 1 + rng.randrange(2), "asset_created_at": CREATED}


def _interfaces(rng, sizes):
    for n in range(sizes["assets"]):
        mac = ":".join(f"{rng.randrange(256):02X}" for _ in range(6))
        yield {"interface_id": n + 1, "interface_name": "1", "interface_type": "Ethernet",
               "interface_mac": mac, "interface_ip": f"10.{n // 65536}.{n // 256 % 256}.{n % 256}",
               "interface_primary": 1, "interface_asset_id": n + 1, "interface_created_at": CREATED}


def _tickets(rng, sizes):
    for n in range(sizes["tickets"]):
        cid = rng.randrange(1, sizes["clients"] + 1)
        yield {"ticket_id": n + 1, "ticket_prefix": "TCK-", "ticket_number": n + 1, "ticket_source": "Email",
               "ticket_subject": f"{rng.choice(['Printer', 'VPN', 'Email', 'Backup', 'Laptop'])} issue {n + 1}",
               "ticket_details": "Seeded ticket<br>", "ticket_priority": rng.choice(["Low", "Medium", "High"]),
               "ticket_status": rng.randrange(1, 6), "ticket_billable": 0, "ticket_created_by": 0,
               "ticket_url_key": f"{rng.getrandbits(128):032x}", "ticket_client_id": cid,
               "ticket_contact_id": (cid - 1) * 2 + 1, "ticket_created_at": CREATED}


LOG_TYPES = ["Login", "Ticket", "Asset", "Contact", "Client", "API"]
LOG_ACTIONS = ["Create", "Edit", "Success", "Failed"]


def _logs(cur, count):
    """`count` audit-log rows made by the database itself from a sequence table (MariaDB's
    SEQUENCE engine): a million rows in seconds, the same on every run. Python's batches where
    the engine is missing."""
    types = "ELT(1 + seq % {}, {})".format(len(LOG_TYPES), ", ".join(f"'{t}'" for t in LOG_TYPES))
    actions = "ELT(1 + seq % {}, {})".format(len(LOG_ACTIONS), ", ".join(f"'{a}'" for a in LOG_ACTIONS))
    columns = ("log_id, log_type, log_action, log_description, log_ip, log_user_agent, log_created_at, "
               "log_client_id, log_user_id, log_entity_id")
    cur.execute("SELECT COUNT(*) FROM information_schema.ENGINES WHERE ENGINE = 'SEQUENCE' AND SUPPORT = 'YES'")
    if cur.fetchone()[0]:
        cur.execute(f"INSERT INTO logs ({columns}) SELECT seq, {types}, {actions}, CONCAT('Seeded log entry ', seq), "
                    "CONCAT('10.0.', seq % 256, '.', seq DIV 256 % 256), 'itflow-bench/1', "
                    f"'{CREATED}' - INTERVAL seq MINUTE, seq % 2000 + 1, 0, seq % 5000 + 1 "
                    f"FROM seq_1_to_{int(count)}")
        return
    step = 20_000
    for start in range(1, count + 1, step):
        rows = [{"log_id": n, "log_type": LOG_TYPES[n % len(LOG_TYPES)], "log_action": LOG_ACTIONS[n % len(LOG_ACTIONS)],
                 "log_description": f"Seeded log entry {n}", "log_ip": f"10.0.{n % 256}.{n // 256 % 256}",
                 "log_user_agent": "itflow-bench/1", "log_created_at": CREATED, "log_client_id": n % 2000 + 1,
                 "log_user_id": 0, "log_entity_id": n % 5000 + 1} for n in range(start, min(start + step, count + 1))]
        _insert(cur, "logs", rows)


def _batched(rows, size=5000):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def seed(db, api_key, seed_value, sizes=SIZES):
    """Fill the fresh schema; `api_key` becomes one clear-text all-clients key (the way ITFlow
    stores keys; our server accepts such rows as well). Rows go in as multi-row INSERTs of a
    few thousand rows (pymysql's executemany), logs from a sequence table."""
    rng = random.Random(seed_value)
    with connect(db, db["name"]) as conn, conn.cursor() as cur:
        for table, rows in (("clients", _clients(rng, sizes)), ("contacts", _contacts(rng, sizes)),
                            ("assets", _assets(rng, sizes)), ("asset_interfaces", _interfaces(rng, sizes)),
                            ("tickets", _tickets(rng, sizes))):
            for batch in _batched(rows):
                _insert(cur, table, batch)
        if sizes.get("logs"):
            _logs(cur, sizes["logs"])
        cur.execute("UPDATE settings SET config_ticket_next_number = %s WHERE company_id = 1",
                    (sizes["tickets"] + 1,))
        expire = (date.today() + timedelta(days=30)).isoformat()
        _insert(cur, "api_keys", [{"api_key_name": "bench", "api_key_secret": api_key, "api_key_decrypt_hash": "",
                                   "api_key_expire": expire, "api_key_client_id": 0}])
        cur.execute("ANALYZE TABLE clients, contacts, assets, asset_interfaces, tickets, logs")
        cur.fetchall()
