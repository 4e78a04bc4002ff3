"""ITFlow's credential encryption, byte-compatible in both directions.

Layouts (docs/contract.md section 6.2):
  decrypt hash    = salt(16 chars) + iv(16 chars) + base64(AES-128-CBC(master key))
                    under the key PBKDF2-HMAC-SHA256(password, salt, 100000) rendered as
                    16 lowercase hex characters (ITFlow uses that *text* as the AES key)
  encrypted field = iv(16 chars) + base64(AES-128-CBC(utf-8 text)) under the master key
"""
import base64
import binascii
import os
import string

PBKDF2_ITERATIONS = 100_000
MAX_FIELD_BYTES = 350
_URLSAFE = string.ascii_letters + string.digits + "-_"
ALPHANUMERIC = string.ascii_letters + string.digits  # API keys, master keys, ticket URL keys


class WrongPassword(Exception):
    """The decrypt password does not open this decrypt hash."""


def random_token(length=16, alphabet=_URLSAFE):
    """`length` characters drawn uniformly from `alphabet` by the OS's CSPRNG. One urandom
    call for the lot (a choice per character costs a system call each, on every ticket);
    bytes past the largest multiple of the alphabet's size are dropped, so no character is
    more likely than another."""
    size = len(alphabet)
    usable = 256 - 256 % size
    out = []
    while len(out) < length:
        out += [alphabet[b % size] for b in os.urandom(length + length // 2) if b < usable]
    return "".join(out[:length])


def new_master_key():
    return random_token(16, ALPHANUMERIC)


def password_key(password, salt):
    """The AES key ITFlow derives from a password: 16 hex characters of PBKDF2 output."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=8, salt=salt.encode(), iterations=PBKDF2_ITERATIONS)
    return binascii.hexlify(kdf.derive(password.encode("utf-8"))).decode("ascii")


def _aes(key, iv):
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    return Cipher(algorithms.AES(key.encode("latin-1")), modes.CBC(iv.encode("latin-1")))


def aes_encrypt(data, key, iv):
    from cryptography.hazmat.primitives import padding

    padder = padding.PKCS7(128).padder()
    encryptor = _aes(key, iv).encryptor()
    raw = encryptor.update(padder.update(data) + padder.finalize()) + encryptor.finalize()
    return base64.b64encode(raw).decode("ascii")


def aes_decrypt(b64, key, iv):
    """Decrypt or raise ValueError (bad base64, bad length, bad padding)."""
    from cryptography.hazmat.primitives import padding

    raw = base64.b64decode(b64, validate=True)
    decryptor = _aes(key, iv).decryptor()
    padded = decryptor.update(raw) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def make_decrypt_hash(master_key, password, salt=None, iv=None):
    salt = salt or random_token()
    iv = iv or random_token()
    return salt + iv + aes_encrypt(master_key.encode("latin-1"), password_key(password, salt), iv)


def open_decrypt_hash(decrypt_hash, password):
    """The master key inside a decrypt hash, or WrongPassword.

    A wrong password usually breaks the padding, but about once in 256 tries the padding
    happens to be valid and yields a "key" of the wrong length: both mean wrong password.
    """
    if not decrypt_hash or len(decrypt_hash) <= 32:
        raise WrongPassword()
    salt, iv, body = decrypt_hash[:16], decrypt_hash[16:32], decrypt_hash[32:]
    try:
        master = aes_decrypt(body, password_key(password, salt), iv)
    except ValueError:
        raise WrongPassword() from None
    if len(master) != 16 or not all(32 < b < 127 for b in master):
        raise WrongPassword()
    return master.decode("ascii")


def encrypt_field(text, master_key, iv=None):
    data = text.encode("utf-8")
    if len(data) > MAX_FIELD_BYTES:
        raise ValueError(f"longer than {MAX_FIELD_BYTES} bytes")
    iv = iv or random_token()
    return iv + aes_encrypt(data, master_key, iv)


def decrypt_field(stored, master_key):
    """Clear text of an encrypted field; None when it cannot be decrypted."""
    if stored is None:
        return None
    if stored == "":
        return ""
    try:
        return aes_decrypt(stored[16:], master_key, stored[:16]).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
