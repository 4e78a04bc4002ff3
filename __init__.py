"""ITFlow-compatible v1 API server."""

__version__ = "0.1.0"
