"""pagecast: a self-hosted browser rendering service."""

__version__ = "0.1.0"
