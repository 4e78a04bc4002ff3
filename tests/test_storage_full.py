"""A full disk under the database: the write is refused with a 507 envelope that says so,
nothing of it is stored, the SQLite file stays intact, and writes work again once space is
freed. The end-to-end case puts an SQLite database on a small tmpfs of its own (root only);
the classification is checked for both backends' error shapes everywhere."""
import os
import shutil
import sqlite3
import subprocess

import pytest
from helpers import BACKEND, SECRET, Api, make_key

from itflow_api.lib.access.keys import KeyStore
from itflow_api.lib.core import messages
from itflow_api.lib.db.classify import typed_error
from itflow_api.lib.db.database import Database
from itflow_api.lib.db.errors import DatabaseError, StorageFull, WriteConflict
from itflow_api.lib.web.app import create_app
from itflow_api.lib.web.config import Config


class _MySQLError(Exception):
    pass


@pytest.mark.parametrize("exc, mysql", [
    (sqlite3.OperationalError("database or disk is full"), False),
    (_MySQLError(1021, "Disk full (/var/tmp/#sql); waiting for someone to free some space..."), True),
    (_MySQLError(1114, "The table 'logs' is full"), True),
])
def test_a_full_disk_is_storage_full(exc, mysql):
    error = typed_error(exc, mysql, {})
    assert isinstance(error, StorageFull) and isinstance(error, DatabaseError)


def test_other_database_errors_are_not_storage_full():
    assert not isinstance(typed_error(sqlite3.OperationalError("database is locked"), False, {}), StorageFull)
    assert isinstance(typed_error(_MySQLError(1213, "Deadlock found"), True, {}), WriteConflict)


def _can_mount():
    return os.geteuid() == 0 and shutil.which("mount") is not None


@pytest.fixture
def small_disk(tmp_path):
    if BACKEND != "sqlite":
        pytest.skip("the full disk is an SQLite file system of the test's own")
    if not _can_mount():
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"tmpfs mount refused: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _fill(folder):
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:  # ENOSPC: the file system is full
        pass
    finally:
        os.close(fd)
    return filler


def test_write_on_a_full_disk_answers_507_and_stores_nothing(small_disk):
    cfg = Config()
    cfg.security.key_hash_secret = SECRET
    cfg.database.path = str(small_disk / "full.sqlite3")
    db = Database.from_config(cfg.database)
    db.create_schema()
    keys = KeyStore(db, SECRET.encode())
    api = Api(create_app(cfg, db, keys))
    key = make_key(keys)
    status, body = api.post("clients/create", {"client_name": "Before"}, key=key)
    assert status == 200 and body["success"] == "True"

    filler = _fill(small_disk)
    big = "x" * 60_000  # more pages than the few bytes left can take
    status, body = api.post("clients/create", {"client_name": "During", "client_notes": big}, key=key)
    assert status == 507, body
    assert body == {"success": "False", "message": messages.STORAGE_FULL, "count": 0, "data": []}

    filler.unlink()
    status, body = api.post("clients/create", {"client_name": "After"}, key=key)
    assert status == 200 and body["success"] == "True"
    db.close()
    with sqlite3.connect(cfg.database.path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        names = [row[0] for row in conn.execute("SELECT client_name FROM clients ORDER BY client_id")]
    assert names == ["Before", "After"]
