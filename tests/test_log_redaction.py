"""API keys and decrypt passwords never reach the access log, however they are spelled: array
names, other cases, percent-encoded (once or twice) names and values, repeated names, queries
the parser cannot split, and URLs in the Referer header. A property test generates the
spellings; one request through the app checks the log file itself."""
import string
from urllib.parse import quote, unquote_plus

from falcon import testing
from helpers import access_log_at, make_key
from hypothesis import given, settings
from hypothesis import strategies as st

from itflow_api.lib.web.middleware import redacted_path, redacted_url

NAMES = ["api_key", "API_KEY", "Api_Key", "api_key[]", "api_key[0]", "api_key[x]", "api_key_decrypt_password",
         "api_key_decrypt_password[]", "API_KEY_DECRYPT_PASSWORD"]


def _every_char(text):
    return "".join(f"%{ord(c):02X}" for c in text)


NAME_SPELLINGS = [lambda n: n, lambda n: n.replace("_", "%5F"), _every_char,
                  lambda n: quote(_every_char(n), safe=""), lambda n: n.replace("[", "%5B").replace("]", "%5D")]
VALUE_SPELLINGS = [lambda v: v, _every_char, lambda v: quote(_every_char(v), safe="")]
PREFIXES = ["", "a=1&", "x=%zz?", "%", "&&", "x=%", "x=%zz&", "api_key=&"]
SUFFIXES = ["", "&b=2", "&api_key=other", "&", "#frag"]

secrets_ = st.text(alphabet=string.ascii_letters + string.digits, min_size=12, max_size=40)


def _leaked(secret, text):
    """Whether `secret` shows in `text`, read as it is or decoded once or twice."""
    once = unquote_plus(text)
    return any(secret.lower() in t.lower() for t in (text, once, unquote_plus(once)))


@settings(max_examples=400, deadline=None)
@given(secret=secrets_, name=st.sampled_from(NAMES), spell_name=st.sampled_from(NAME_SPELLINGS),
       spell_value=st.sampled_from(VALUE_SPELLINGS), prefix=st.sampled_from(PREFIXES),
       suffix=st.sampled_from(SUFFIXES), twice=st.booleans())
def test_no_spelling_of_a_secret_parameter_reaches_the_log(secret, name, spell_name, spell_value, prefix, suffix,
                                                           twice):
    part = f"{spell_name(name)}={spell_value(secret)}"
    query = prefix + part + (f"&{part}" if twice else "") + suffix
    out = redacted_path("/api/v1/clients/read.php", query)
    assert not _leaked(secret, out), (query, out)


@settings(max_examples=200, deadline=None)
@given(secret=secrets_, name=st.sampled_from(NAMES), spell_value=st.sampled_from(VALUE_SPELLINGS))
def test_a_secret_inside_another_value_or_a_referer_is_redacted(secret, name, spell_value):
    inside = quote(f"?{name}={spell_value(secret)}", safe="")
    assert not _leaked(secret, redacted_path("/x", f"next={inside}&a=1"))
    assert not _leaked(secret, redacted_url(f"https://portal.example/page?{name}={spell_value(secret)}&a=1"))


def test_ordinary_parameters_stay_readable():
    assert redacted_path("/x", "limit=5&offset=10&client_id=3") == "/x?limit=5&offset=10&client_id=3"
    assert redacted_url("https://portal.example/page?tab=2") == "https://portal.example/page?tab=2"


def test_the_log_file_never_holds_the_key(config, db, keys, tmp_path):
    log_file = tmp_path / "access.log"
    key = make_key(keys)
    with access_log_at(config, db, keys, log_file) as app:
        client = testing.TestClient(app)
        for query in (f"api_key[]={key}", f"x=%zz?api_key={key}", f"api%255Fkey={key}", f"API_KEY={key}&a=1",
                      f"api_key_decrypt_password[]=pw-{key}", f"api_key={_every_char(key)}"):
            client.simulate_get("/api/v1/clients/read.php", query_string=query,
                                headers={"Referer": f"https://portal.example/?api_key={key}"})
    text = log_file.read_text()
    assert text.count("\n") == 6
    assert not _leaked(key, text), text


def test_switching_the_log_closes_only_a_file_it_opened(tmp_path, monkeypatch):
    """The access log on stderr, then stderr swapped (as a test's capture does), then the log
    moved: the stderr it wrote to stays open; the file it opened is closed when it moves on."""
    import io

    from itflow_api.lib.web.middleware import AccessLog
    log = AccessLog()
    first_stderr = io.StringIO()
    monkeypatch.setattr("sys.stderr", first_stderr)
    log.open("-")
    monkeypatch.setattr("sys.stderr", io.StringIO())
    log.open(str(tmp_path / "access.log"))
    assert not first_stderr.closed
    log.write("a line")
    opened = log.stream
    log.open("off")
    assert opened.closed and not log.enabled
    assert (tmp_path / "access.log").read_text() == "a line\n"
