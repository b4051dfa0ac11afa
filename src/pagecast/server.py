"""Running pagecast: the HTTP API (with or without an in-process worker), or a worker alone."""

from __future__ import annotations

import asyncio
import json
import logging
import signal

import uvicorn

from pagecast.api import create_app
from pagecast.jobs.redis_server import EmbeddedRedis
from pagecast.jobs.runtime import Jobs, QueueRenderer
from pagecast.renderer import Renderer, RenderService
from pagecast.settings import Settings

log = logging.getLogger(__name__)


def _logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def serve(settings: Settings, *, worker: bool = True) -> None:
    """API + in-process worker; with ``worker=False`` an API tier with no browser at all,
    whose sync endpoints enqueue the render and await the result."""
    _logging(settings)
    renderer = Renderer(settings) if worker else None
    jobs = Jobs(settings, renderer, run_worker=worker)
    service: RenderService = renderer if renderer is not None else QueueRenderer(settings, jobs)
    uvicorn.run(
        create_app(settings, service, jobs=jobs),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,  # one line per render at 40 renders/s is noise; errors are logged
        timeout_graceful_shutdown=int(settings.drain_grace_s) + 5,
    )


def run_worker(settings: Settings) -> None:
    """A worker process: takes jobs until SIGTERM/SIGINT, then drains and exits."""
    _logging(settings)
    asyncio.run(_worker(settings))


async def _worker(settings: Settings) -> None:
    if not settings.redis_url:
        # A worker never owns Redis: a private one would get no jobs, and starting it would
        # take the socket of a `pagecast serve` on this data dir. It joins that one instead.
        socket = EmbeddedRedis(settings.data_dir / "redis").url
        log.info("no PAGECAST_REDIS_URL: using the embedded redis of pagecast serve at %s", socket)
        settings = settings.model_copy(update={"redis_url": socket})
    renderer = Renderer(settings)
    jobs = Jobs(settings, renderer, run_worker=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await renderer.start()
    health: asyncio.Server | None = None
    try:
        await jobs.start()
        if settings.worker_health_port is not None:
            health = await _health_server(settings, renderer, jobs)
        log.info("worker %s ready", jobs.worker.name if jobs.worker else "?")
        await stop.wait()
        log.info("draining (grace %.0f s)", settings.drain_grace_s)
    finally:
        if health is not None:
            health.close()
        await jobs.stop()
        await renderer.stop()


async def _health_server(settings: Settings, renderer: Renderer, jobs: Jobs) -> asyncio.Server:
    """A minimal ``GET /health`` for a worker's liveness probe; a worker has no HTTP API."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            redis_up = await jobs.healthy()
            ok = renderer.pool.ready and redis_up
            body = json.dumps({
                "status": "healthy" if ok else "unhealthy",
                "checks": {"browser": {"status": "up" if renderer.pool.ready else "down"},
                           "redis": {"status": "up" if redis_up else "down"}},
                "capacity": {"jobsRunning": jobs.worker.running if jobs.worker else 0,
                             "max": settings.max_concurrency},
            }).encode()  # fmt: skip
            status = b"200 OK" if ok else b"503 Service Unavailable"
            head = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close"
            writer.write(b"HTTP/1.1 " + status + b"\r\n" + head.encode() + b"\r\n\r\n" + body)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(answer, settings.host, settings.worker_health_port)
