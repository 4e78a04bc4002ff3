"""No API key or decrypt password reaches any log line a running server writes, under each HTTP
server it can run (waitress, granian): generated requests carry secrets in every place a client
or an attacker can put them (query string spellings, headers, JSON and form bodies, malformed
and oversized bodies, wrong methods, unknown paths), and everything the server printed (access
log and its own messages, at debug level) is searched for them afterwards. A User-Agent is
logged as sent, as Apache logs it, so it is not one of the places.

Each server is one `python -m itflow_api serve` child process for the module; hypothesis sends
its requests over raw sockets, so nothing is normalised on the way."""
import json
import socket
import string
import time
from urllib.parse import quote, unquote_plus

import pytest
from helpers import make_key
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_shutdown import Server, free_port, write_ini

from itflow_api.lib.web import servers

SERVERS = ["waitress"] + (["granian"] if servers.granian_available() else [])
secrets_ = st.text(alphabet=string.ascii_letters + string.digits, min_size=16, max_size=40)


def _every_char(text):
    return "".join(f"%{ord(c):02X}" for c in text)


QUERY_NAMES = ["api_key", "API_KEY", "api_key[]", "api_key[0]", "api%5Fkey", "api%255Fkey",
               "api_key_decrypt_password", "api_key_decrypt_password[]"]
QUERY_VALUES = [lambda v: v, _every_char, lambda v: quote(_every_char(v), safe="")]
QUERY_SHAPES = [lambda p: p, lambda p: f"a=1&{p}", lambda p: f"x=%zz?{p}", lambda p: f"{p}&{p}", lambda p: f"{p}#f",
                lambda p: "next=" + quote(f"?{p}", safe="")]
# The headers a secret travels in, and a Referer that quotes one. (A User-Agent is logged as
# sent, as Apache logs it: a client that writes its own key there has published it.)
HEADERS = ["X-API-KEY: {s}", "Authorization: Bearer {s}", "Authorization: Basic {s}", "X-API-Decrypt-Password: {s}",
           "Referer: https://portal.example/?api_key={s}", "Referer: https://portal.example/x?API_KEY%5B%5D={s}&a=1",
           "Cookie: api_key={s}"]
BODIES = [lambda s: json.dumps({"api_key": s, "client_name": "x"}),
          lambda s: json.dumps({"api_key_decrypt_password": s, "credential_name": "x"}),
          lambda s: json.dumps({"client_name": s}),
          lambda s: '{"api_key": "' + s + '", broken',
          lambda s: f"api_key={s}&client_name=x",
          lambda s: json.dumps([s, s])]
PATHS = ["/api/v1/clients/read.php", "/api/v1/clients/create.php", "/api/v1/credentials/read.php",
         "/api/v1/nothing/here.php", "/api/v1/batch.php"]


@pytest.fixture(scope="module", params=SERVERS)
def server(request, config, database, tmp_path_factory):
    from helpers import SECRET

    from itflow_api.lib.access.keys import KeyStore

    folder = tmp_path_factory.mktemp(f"redaction-{request.param}")
    log_file, port = folder / "access.log", free_port()
    ini = write_ini(config, folder, port=port, http_server=request.param, workers=1, threads=4)
    with open(ini, "a") as handle:
        handle.write(f"[log]\naccess_log = {log_file}\nlevel = debug\n")
    running = Server(ini, port, ready=r"Started worker-1" if request.param == "granian" else Server.READY)
    key = make_key(KeyStore(database, SECRET.encode()))
    yield {"port": port, "log": log_file, "proc": running, "key": key, "sent": []}
    running.stop()


def _send(port, raw):
    """Send `raw` and read the answer; a server may answer and close before reading it all
    (an oversized body), which is no failure here."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        try:
            conn.sendall(raw)
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(65536):
                pass
        except OSError:
            pass


def _leaked(secret, text):
    once = unquote_plus(text)
    return any(secret.lower() in t.lower() for t in (text, once, unquote_plus(once)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret=secrets_, use_real_key=st.booleans(), method=st.sampled_from(["GET", "POST", "PUT"]),
       path=st.sampled_from(PATHS), name=st.sampled_from(QUERY_NAMES), value=st.sampled_from(QUERY_VALUES),
       shape=st.sampled_from(QUERY_SHAPES), header=st.sampled_from(HEADERS), body=st.sampled_from(BODIES),
       oversized=st.booleans())
def test_no_secret_in_any_log_line(server, secret, use_real_key, method, path, name, value, shape, header, body,
                                   oversized):
    secret = server["key"] if use_real_key else secret
    server["sent"].append(secret)
    query = shape(f"{name}={value(secret)}")
    payload = body(secret).encode()
    if oversized:
        payload += b" " * (2 * 1024 * 1024)
    raw = (f"{method} {path}?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n{header.format(s=secret)}\r\n"
           f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\nConnection: close\r\n\r\n").encode()
    _send(server["port"], raw + payload)
    logs = server["log"].read_text(errors="replace") + server["proc"].output
    if _leaked(secret, logs):
        once = unquote_plus(logs)
        where = [t for t in (logs, once, unquote_plus(once)) if secret.lower() in t.lower()][0]
        at = where.lower().index(secret.lower())
        raise AssertionError(f"{method} {path}?{query} / {header}: ...{where[max(0, at - 300):at + 60]}")


def test_every_line_written_at_the_end_holds_none_of_them(server):
    """The access log is written by a thread of its own: once a marker request's line is in the
    file, every earlier line is too, and the whole of it is searched again for every secret."""
    marker = "/api/v1/clients/read.php?limit=1&marker=end"
    _send(server["port"], f"GET {marker} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    for _ in range(400):  # up to 20 s: the writer thread flushes in batches, later on a busy machine
        if marker in server["log"].read_text():
            break
        time.sleep(0.05)
    logs = server["log"].read_text(errors="replace") + server["proc"].output
    assert marker in logs and len(server["sent"]) >= 50
    assert not [s for s in server["sent"] if _leaked(s, logs)]
