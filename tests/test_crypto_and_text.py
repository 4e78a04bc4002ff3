"""Credential crypto and text cleaning against ITFlow's own outputs, plus independent checks."""
import base64
import hashlib
import json
import os

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from itflow_api.lib.itflow import crypto
from itflow_api.lib.itflow import php_text as text

HERE = os.path.dirname(__file__)
VECTORS = json.load(open(os.path.join(HERE, "vectors", "crypto-vectors.json"), encoding="utf-8"))
CLEANING = json.load(open(os.path.join(HERE, "vectors", "text-cleaning-vectors.json"), encoding="utf-8"))


@pytest.mark.parametrize("case", VECTORS["decrypt_hash"], ids=lambda c: c["salt"])
def test_decrypt_hash_matches_itflow(case):
    assert crypto.password_key(case["password"], case["salt"]) == case["pbkdf2_hex_key"]
    made = crypto.make_decrypt_hash(case["master_key"], case["password"], case["salt"], case["iv"])
    assert made == case["decrypt_hash"]
    assert crypto.open_decrypt_hash(case["decrypt_hash"], case["password"]) == case["decrypts_to"]


@pytest.mark.parametrize("case", VECTORS["fields"], ids=lambda c: c["iv"] + str(len(c["text"])))
def test_encrypted_field_matches_itflow(case):
    assert crypto.encrypt_field(case["text"], case["master_key"], case["iv"]) == case["stored"]
    assert crypto.decrypt_field(case["stored"], case["master_key"]) == case["text"]


def test_random_vectors_made_by_itflow_decrypt():
    case = VECTORS["random"][0]
    master = crypto.open_decrypt_hash(case["decrypt_hash"], case["password"])
    assert master == case["master_key"]
    assert crypto.decrypt_field(case["field"], master) == case["field_text"]
    with pytest.raises(crypto.WrongPassword):
        crypto.open_decrypt_hash(case["decrypt_hash"], "wrong password")


def test_layout_computed_independently_with_hashlib():
    """Derive the key with hashlib and decrypt the stored layout by hand."""
    password, salt, iv, master = "independent", "S" * 16, "I" * 16, "M1234567890abcde"
    stored = crypto.make_decrypt_hash(master, password, salt, iv)
    assert stored[:16] == salt and stored[16:32] == iv
    hex_key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 100_000)[:8].hex()
    decryptor = Cipher(algorithms.AES(hex_key.encode()), modes.CBC(iv.encode())).decryptor()
    plain = decryptor.update(base64.b64decode(stored[32:])) + decryptor.finalize()
    assert plain == master.encode() + bytes([16]) * 16  # PKCS#7: one whole block of padding


def test_random_salts_and_ivs_use_the_url_safe_alphabet():
    stored = crypto.make_decrypt_hash(crypto.new_master_key(), "pw")
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert set(stored[:32]) <= allowed
    assert len(crypto.new_master_key()) == 16


@pytest.mark.parametrize("alphabet", ["ab", crypto.ALPHANUMERIC, crypto._URLSAFE])
def test_random_tokens_have_the_length_asked_and_no_favourite_character(alphabet):
    assert all(len(crypto.random_token(n, alphabet)) == n for n in (0, 1, 16, 32, 300))
    drawn = "".join(crypto.random_token(64, alphabet) for _ in range(3000))
    counts = [drawn.count(c) for c in alphabet]
    assert set(drawn) == set(alphabet)
    # 192,000 draws: each count is within 10% of the mean (a modulo bias of 62 over 256 bytes
    # would put the first 8 characters about 25% above the rest)
    mean = len(drawn) / len(alphabet)
    assert max(counts) < mean * 1.1 and min(counts) > mean * 0.9, counts


def test_wrong_passwords_never_open_a_hash():
    stored = crypto.make_decrypt_hash("v1Up0vx0rSx7HqZ5", "right")
    for attempt in range(300):  # past the ~1/256 chance of a valid-looking padding
        with pytest.raises(crypto.WrongPassword):
            crypto.open_decrypt_hash(stored, f"wrong-{attempt}")


def test_field_length_limit_is_350_bytes():
    crypto.encrypt_field("x" * 350, "v1Up0vx0rSx7HqZ5")
    with pytest.raises(ValueError):
        crypto.encrypt_field("é" * 176, "v1Up0vx0rSx7HqZ5")  # 352 bytes


@pytest.mark.parametrize("case", CLEANING["cases"], ids=lambda c: repr(c["in"]))
def test_text_cleaning_matches_php(case):
    assert text.clean(case["in"]) == case["out"]


def test_non_utf8_bytes_are_read_as_windows_1252():
    assert text.decode_bytes("café".encode("cp1252")) == "café"
    assert text.decode_bytes("café".encode()) == "café"
