"""Small helpers the test modules share: rows written or read straight from the database,
and assertions on envelopes and logs."""
import contextlib
from datetime import datetime

NO_RESOURCE = {"success": "False",
               "message": "No resource (for this client and company) with the specified parameter(s).",
               "count": 0, "data": []}


def insert(db, table, **values):
    """A row written straight to the database (no API call, no logs)."""
    with db.transaction(write=True):
        return db.insert(table, values)


def fetch(db, table, **where):
    """Rows of `table` matching every column in `where`, in id order."""
    conds = " AND ".join(f"{k} = :{k}" for k in where) or "1 = 1"
    with db.transaction():
        return db.rows(f"SELECT * FROM {table} WHERE {conds} ORDER BY 1", where)


def one(db, table, **where):
    found = fetch(db, table, **where)
    assert len(found) == 1, (table, where, found)
    return found[0]


def set_columns(db, table, values, **where):
    with db.transaction(write=True):
        db.update(table, values, where)


def succeeded(result):
    status, body = result
    assert (status, body["success"]) == (200, "True"), body
    return body


def refused(result):
    """A refusal with HTTP 200 (ITFlow's way), carrying our empty count/data and a message."""
    status, body = result
    assert (status, body["success"]) == (200, "False"), body
    assert body["count"] == 0 and body["data"] == [] and body["message"], body
    return body


def log_rows(db, **where):
    return fetch(db, "logs", **where)


def assert_recent(stamp):
    """A datetime column the server set to 'now'."""
    assert stamp is not None
    assert abs((datetime.now() - datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")).total_seconds()) < 120, stamp


def assert_write_logged(db, entity, action, record_id, client_id, name):
    """Section 5: a write leaves exactly two logs rows, the record's and the API's."""
    rows = log_rows(db)
    assert len(rows) == 2, rows
    record, api_row = rows
    assert (record["log_type"], record["log_action"]) == (entity, action)
    assert record["log_description"] == f"{name} via API (test key)"
    assert (record["log_entity_id"], record["log_client_id"]) == (str(record_id), str(client_id))
    assert (api_row["log_type"], api_row["log_action"]) == ("API", "Success")
    assert api_row["log_client_id"] == str(client_id)
    assert api_row["log_description"].endswith("via API (test key)")
    for row in rows:
        assert row["log_ip"] and row["log_user_agent"] is not None


# --- live servers ------------------------------------------------------------------------------

def free_port():
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_listening(port, tries=100):
    import socket
    import time
    for _ in range(tries):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


@contextlib.contextmanager
def serving(app, threads=4):
    """`app` under a real waitress server in a thread; yields its base URL."""
    import threading

    import waitress
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=threads)
    port = server.socket.getsockname()[1]
    threading.Thread(target=server.run, daemon=True).start()
    wait_until_listening(port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


def read_status(port, key, address, timeout=30):
    """HTTP status of a clients/read.php with `key`, as a caller at `address` behind our proxy."""
    import urllib.error
    import urllib.request
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/clients/read.php?api_key={key}",
                                     headers={"X-Forwarded-For": address})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code
