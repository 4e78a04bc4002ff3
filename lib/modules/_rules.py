"""Small value rules several modules share."""
import re


def strip_scheme(value):
    """ITFlow stores websites and domains without a leading http:// or https://."""
    return re.sub(r"^https?://", "", value, flags=re.IGNORECASE)


def ucfirst(value):
    return value[:1].upper() + value[1:]
