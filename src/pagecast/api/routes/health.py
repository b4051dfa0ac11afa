"""Health endpoints for load balancers and orchestrators."""

from __future__ import annotations

import time
from typing import Any

import psutil
from fastapi import APIRouter, Request

from pagecast.api.responses import ORJSONResponse
from pagecast.api.routes._shared import renderer

router = APIRouter(prefix="/health", tags=["health"])


@router.get("", summary="Overall health with checks and capacity")
async def health(request: Request) -> ORJSONResponse:
    pool = renderer(request).pool
    settings = pool.settings
    browser_mb = pool.memory_mb()
    server_mb = psutil.Process().memory_info().rss / 2**20
    memory_ok = browser_mb <= settings.browser_max_memory_mb
    saturated = pool.queued >= settings.max_queue > 0
    if not pool.ready:
        status = "unhealthy"
    elif not memory_ok or saturated:
        status = "degraded"
    else:
        status = "healthy"
    body: dict[str, Any] = {
        "status": status,
        "checks": {
            "browser": {
                "status": "up" if pool.ready else "down",
                "pid": pool.browser_pid,
                "launches": pool.browser_launches,
                "rendersSinceLaunch": pool.browser_renders,
            },
            "memory": {
                "status": "ok" if memory_ok else "high",
                "serverMb": round(server_mb, 1),
                "browserMb": round(browser_mb, 1),
                "browserLimitMb": settings.browser_max_memory_mb,
            },
            "uptime": round(time.monotonic() - pool.started_at, 1),
        },
        "capacity": {
            "inFlight": pool.in_flight,
            "queued": pool.queued,
            "max": settings.max_concurrency,
            "maxQueue": settings.max_queue,
        },
        "service": settings.service_id,
    }
    return ORJSONResponse(body, status_code=503 if status == "unhealthy" else 200)


@router.get("/live", summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="200 only when a warm browser is up")
async def ready(request: Request) -> ORJSONResponse:
    is_ready = renderer(request).pool.ready
    return ORJSONResponse({"status": "ready" if is_ready else "not ready"},
                          status_code=200 if is_ready else 503)  # fmt: skip
