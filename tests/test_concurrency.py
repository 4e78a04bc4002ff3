"""Issue 11: 200 concurrent mixed requests (creates, updates, reads) split over two server
processes on one MariaDB: no error, no lost write, consecutive unique ticket numbers."""
import json
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import BACKEND, SECRET, fetch, free_port, fresh_config, insert, make_key, wait_until_listening
from test_edge import SERVER, _environment

from itflow_api.lib.access.keys import KeyStore
from itflow_api.lib.db.database import Database

pytestmark = pytest.mark.skipif(BACKEND != "mysql", reason="shown on MariaDB (ITFLOW_TEST_BACKEND=mysql)")


def _call(port, path, body=None, query=""):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/{path}.php{query}", data=data,
                                     method="GET" if body is None else "POST")
    with urllib.request.urlopen(request, timeout=60) as answer:
        return answer.status, json.loads(answer.read())


def test_two_processes_take_200_concurrent_mixed_requests(tmp_path):
    with fresh_config(tmp_path) as cfg:
        db = Database.from_config(cfg.database)
        db.create_schema()
        key = make_key(KeyStore(db, SECRET.encode()))
        client = insert(db, "clients", client_name="Acme")
        assets = [insert(db, "assets", asset_name=f"PC-{i}", asset_client_id=client) for i in range(50)]
        env = _environment(cfg, enabled="no")
        ports = [free_port(), free_port()]
        servers = [subprocess.Popen([sys.executable, "-c", SERVER, str(p)], env=env) for p in ports]
        try:
            for port in ports:
                wait_until_listening(port)
            work = ([("create", i) for i in range(100)] + [("update", i) for i in range(50)]
                    + [("read", i) for i in range(50)])
            work = sorted(work, key=lambda item: (item[1] * 7919 + hash(item[0])) % 200)  # interleaved

            def run(item):
                kind, n = item
                port = ports[n % 2]
                if kind == "create":
                    return kind, n, _call(port, "tickets/create", {"api_key": key, "client_id": client,
                                                                   "ticket_subject": f"load {n}"})
                if kind == "update":
                    return kind, n, _call(port, "assets/update", {"api_key": key, "asset_id": assets[n],
                                                                  "asset_notes": f"note {n}"})
                return kind, n, _call(port, "clients/read", query=f"?api_key={key}&client_id={client}")

            with ThreadPoolExecutor(max_workers=32) as pool:
                results = list(pool.map(run, work))
            failures = [(kind, n, answer) for kind, n, (status, answer) in results
                        if status != 200 or answer["success"] != "True"]
            assert not failures, failures[:5]
            tickets = fetch(db, "tickets")
            numbers = sorted(int(t["ticket_number"]) for t in tickets)
            assert numbers == list(range(1, 101)), numbers
            assert sorted(t["ticket_subject"] for t in tickets) == sorted(f"load {n}" for n in range(100))
            notes = {int(a["asset_id"]): a["asset_notes"] for a in fetch(db, "assets")}
            assert all(notes[assets[n]] == f"note {n}" for n in range(50)), "an update was lost"
            with db.transaction():
                assert db.scalar("SELECT config_ticket_next_number AS n FROM settings WHERE company_id = 1") == "101"
        finally:
            for server in servers:
                server.terminate()
                server.wait(10)
            db.close()
