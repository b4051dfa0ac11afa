"""Service settings, read once from the environment (``PAGECAST_*``).

The seed deployment names (``BROWSER_POOL_SIZE``, ``CONTEXT_TIMEOUT``, ``LOG_LEVEL``,
``SERVICE_ID``) are honoured as aliases so existing deployments keep working; the
``PAGECAST_`` name wins when both are set.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CHROMIUM = "/usr/lib/chromium/chromium"


def _default_concurrency() -> int:
    # Rendering is CPU-bound in Chromium's renderer and compositor; two renders per core
    # keeps every core busy while one render waits on the network or a frame.
    return max(2, min(16, 2 * (os.cpu_count() or 1)))


def _alias(name: str, *seed_names: str) -> AliasChoices:
    return AliasChoices(f"PAGECAST_{name}", *seed_names)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAGECAST_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 3000
    service_id: str = Field(
        default_factory=socket.gethostname, validation_alias=_alias("SERVICE_ID", "SERVICE_ID")
    )
    log_level: str = Field(default="info", validation_alias=_alias("LOG_LEVEL", "LOG_LEVEL"))

    # --- browser ---
    chromium_path: Path = Path(DEFAULT_CHROMIUM)
    chromium_args: list[str] = Field(default_factory=list, description="Extra Chromium flags.")
    max_concurrency: int = Field(
        default_factory=_default_concurrency,
        ge=1,
        validation_alias=_alias("MAX_CONCURRENCY", "BROWSER_POOL_SIZE"),
    )
    spare_slots: int = Field(
        default=1, ge=0, description="Warm pages kept beyond max_concurrency so scrubbing never blocks."
    )
    max_queue: int = Field(default=64, ge=0, description="Requests allowed to wait for a slot.")
    queue_timeout_ms: int = Field(default=30_000, ge=0, description="Longest wait for a slot.")
    slot_max_uses: int = Field(default=200, ge=1, description="Rebuild a warm page after N renders.")
    browser_max_renders: int = Field(default=5_000, ge=1, description="Recycle the browser after N.")
    browser_max_memory_mb: int = Field(
        default=1_500, ge=64, description="Recycle the browser when its process tree passes this."
    )
    page_max_memory_mb: int = Field(
        default=1_024, ge=32, description="Kill a renderer process that passes this (memory bombs)."
    )
    monitor_interval_ms: int = Field(default=500, ge=50)

    # --- renders ---
    default_timeout_ms: int = Field(default=30_000, ge=100)
    # The seed's CONTEXT_TIMEOUT bounds how long one browser context may work on a job,
    # which is exactly the ceiling a request's own `timeout` may ask for.
    max_timeout_ms: int = Field(
        default=120_000, ge=100, validation_alias=_alias("MAX_TIMEOUT_MS", "CONTEXT_TIMEOUT")
    )
    # The html source itself is capped at 50 MB by the request model (413); the body may carry
    # that plus the JSON around it (css, javascript, options).
    max_body_bytes: int = Field(default=51 * 1024 * 1024, ge=1024)

    # --- jobs ---
    redis_url: str | None = Field(
        default=None, validation_alias=_alias("REDIS_URL", "REDIS_URL"),
        description="Redis for jobs; unset: a private redis-server child on a unix socket.",
    )  # fmt: skip
    data_dir: Path = Field(default_factory=lambda: Path.home() / ".local/share/pagecast")
    job_ttl: int = Field(default=3600, ge=10, description="Seconds a job and its result live.")
    webhook_secret: str = Field(default="", description="HMAC-SHA256 key for Pagecast-Signature.")
    drain_grace_s: float = Field(default=30.0, ge=0, description="SIGTERM: time for running jobs.")
    retry_base_s: float = Field(default=1.0, gt=0, description="First retry backoff (doubles).")
    # Configurable so tests (and impatient deployments) need not wait 1+2+4+8 s for 5 tries.
    webhook_backoff_s: float = Field(default=1.0, gt=0, description="First webhook retry wait (doubles).")
    result_max_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="Largest result a job keeps in Redis."
    )
    worker_health_port: int | None = Field(default=None, description="`pagecast worker` health port.")

    @property
    def pool_size(self) -> int:
        return self.max_concurrency + self.spare_slots
