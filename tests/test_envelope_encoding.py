"""The fast encoder (orjson, then non-ASCII escaped) gives json.dumps' exact bytes."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itflow_api.lib.core import envelope

pytestmark = pytest.mark.skipif(envelope.orjson is None, reason="orjson is not installed")

values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


def plain(body):
    return json.dumps(body, separators=(",", ":")).encode("ascii")


@settings(max_examples=400, deadline=None)
@given(values)
def test_same_bytes_as_json_dumps(body):
    assert envelope.encode({"success": "True", "data": [body]}) == plain({"success": "True", "data": [body]})


@pytest.mark.parametrize("text", ["Zoë's café", "日本語", "emoji 😀 and 𝄞", "control \x01\x1f\x7f", "\u2028\u2029",
                                  "quote \" back \\ slash /"])
def test_known_texts(text):
    body = {"success": "True", "message": text, "count": 1, "data": [{"client_name": text}]}
    assert envelope.encode(body) == plain(body)
    assert envelope.encode(body).isascii()
