"""The HTTP API."""

from pagecast.api.app import create_app

__all__ = ["create_app"]
