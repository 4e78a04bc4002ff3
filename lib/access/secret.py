"""The server's key hash secret, kept apart from keys.py so that a process which only needs
the secret (the serving supervisor, on a reload) does not load the key machinery."""
import os
import secrets


class KeyManagementError(Exception):
    """A key management request that cannot be done (shown to the CLI user)."""


def load_secret(security):
    """The HMAC secret: from the config, else from secret_file (created on first use, mode
    0600; the path is already absolute, resolved against the config file's directory)."""
    if security.key_hash_secret:
        return security.key_hash_secret.encode("utf-8")
    path = security.secret_file
    try:
        if os.path.exists(path):
            with open(path, encoding="ascii") as handle:
                value = handle.read().strip()
            if value:
                return value.encode("ascii")
        value = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise KeyManagementError(f"cannot use [security] secret_file {path}: {reason}") from None
    return value.encode("ascii")
