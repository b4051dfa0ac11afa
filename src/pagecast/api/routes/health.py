"""Health endpoints for load balancers and orchestrators.

An instance with a local browser pool reports the browser; an API-only instance
(``serve --no-worker``) has none and reports the queue instead. Redis down makes an instance
``degraded`` (sync renders with a local pool still work), never ``unhealthy``.
"""

from __future__ import annotations

import time
from typing import Any

import psutil
from fastapi import APIRouter, Request

from pagecast.api.responses import ORJSONResponse
from pagecast.browser.pool import BrowserPool
from pagecast.jobs.runtime import Jobs

router = APIRouter(prefix="/health", tags=["health"])
STARTED = time.monotonic()


def _pool(request: Request) -> BrowserPool | None:
    pool = getattr(request.app.state.renderer, "pool", None)
    return pool if isinstance(pool, BrowserPool) else None


def _browser_checks(pool: BrowserPool) -> tuple[dict[str, Any], dict[str, Any], bool]:
    settings = pool.settings
    browser_mb = pool.memory_mb()
    memory_ok = browser_mb <= settings.browser_max_memory_mb
    browser = {"status": "up" if pool.ready else "down", "pid": pool.browser_pid,
               "launches": pool.browser_launches, "rendersSinceLaunch": pool.browser_renders}  # fmt: skip
    memory = {"status": "ok" if memory_ok else "high", "browserMb": round(browser_mb, 1),
              "browserLimitMb": settings.browser_max_memory_mb}  # fmt: skip
    return browser, memory, memory_ok


@router.get("", summary="Overall health with checks and capacity")
async def health(request: Request) -> ORJSONResponse:
    settings = request.app.state.settings
    pool = _pool(request)
    jobs: Jobs | None = request.app.state.jobs
    checks: dict[str, Any] = {"uptime": round(time.monotonic() - STARTED, 1)}
    degraded = False
    memory: dict[str, Any] = {"serverMb": round(psutil.Process().memory_info().rss / 2**20, 1)}
    if pool is not None:
        checks["browser"], browser_memory, memory_ok = _browser_checks(pool)
        memory.update(browser_memory)
        degraded |= not memory_ok or pool.queued >= settings.max_queue > 0
    else:
        checks["browser"] = {"status": "remote", "detail": "renders run on queue workers"}
    checks["memory"] = memory
    redis_up = await jobs.healthy() if jobs is not None else None
    if jobs is not None:
        checks["redis"] = {"status": "up" if redis_up else "down"}
        degraded |= not redis_up
    if (pool is not None and not pool.ready) or (pool is None and not redis_up):
        status = "unhealthy"  # this instance cannot render at all
    else:
        status = "degraded" if degraded else "healthy"
    body: dict[str, Any] = {
        "status": status,
        "checks": checks,
        "capacity": {
            "inFlight": pool.in_flight if pool else 0,
            "queued": pool.queued if pool else 0,
            "max": settings.max_concurrency,
            "maxQueue": settings.max_queue,
        },
        "service": settings.service_id,
    }
    if jobs is not None and jobs.worker is not None:
        body["capacity"]["jobsRunning"] = jobs.worker.running
    return ORJSONResponse(body, status_code=503 if status == "unhealthy" else 200)


@router.get("/live", summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="200 only when a warm browser (or, API-only, the queue) is up")
async def ready(request: Request) -> ORJSONResponse:
    pool = _pool(request)
    jobs: Jobs | None = request.app.state.jobs
    is_ready = pool.ready if pool is not None else jobs is not None and await jobs.healthy()
    return ORJSONResponse({"status": "ready" if is_ready else "not ready"},
                          status_code=200 if is_ready else 503)  # fmt: skip
