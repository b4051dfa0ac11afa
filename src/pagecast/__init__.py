"""pagecast: a self-hosted browser rendering service."""
