"""Everything jobs need at run time, owned by one object: Redis (given or embedded), the store,
the queue, an optional in-process worker, and submission/awaiting for the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from pagecast.capture import Artifact, capture_for
from pagecast.errors import QueueUnavailable, RenderTimeout, error_for
from pagecast.jobs.models import TERMINAL, JobOptions
from pagecast.jobs.queue import JobQueue
from pagecast.jobs.redis_server import EmbeddedRedis
from pagecast.jobs.store import JobStore, events_channel, now_iso, public
from pagecast.jobs.webhooks import WebhookSender
from pagecast.jobs.worker import CANCEL_CHANNEL, Worker
from pagecast.models.page import PageOptions
from pagecast.renderer import Renderer
from pagecast.settings import Settings

log = logging.getLogger(__name__)
RETRY_AFTER_S = 2.0


class Jobs:
    def __init__(self, settings: Settings, renderer: Renderer | None, *, run_worker: bool) -> None:
        self.settings = settings
        self.renderer = renderer
        self.embedded = None if settings.redis_url else EmbeddedRedis(settings.data_dir / "redis")
        self.redis: Redis | None = None
        self.store: JobStore | None = None
        self.queue: JobQueue | None = None
        self.worker: Worker | None = None
        self.run_worker = run_worker and renderer is not None

    async def start(self) -> None:
        if self.embedded is not None:
            await self.embedded.start()
        url = self.settings.redis_url or (self.embedded.url if self.embedded else "")
        # Reconnects are automatic: each command retries with backoff on a dropped connection.
        self.redis = Redis.from_url(
            url,
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 3),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=10,
        )
        self.store = JobStore(self.redis, ttl_s=self.settings.job_ttl)
        self.queue = JobQueue(self.redis)
        try:
            await self.queue.ensure_groups()
        except RedisError as exc:  # start degraded; the worker and routes retry
            log.error("redis unavailable at start: %s", exc)
        if self.run_worker:
            assert self.renderer is not None
            webhooks = WebhookSender(
                self.store, secret=self.settings.webhook_secret, backoff_s=self.settings.webhook_backoff_s
            )
            self.worker = Worker(
                self.redis,
                self.renderer,
                ttl_s=self.settings.job_ttl,
                retry_base_s=self.settings.retry_base_s,
                webhooks=webhooks,
                result_max_bytes=self.settings.result_max_bytes,
            )
            await self.worker.start()

    async def stop(self) -> None:
        if self.worker is not None:
            await self.worker.drain(self.settings.drain_grace_s)
        if self.redis is not None:
            await self.redis.aclose()
        if self.embedded is not None:
            await self.embedded.stop()

    async def healthy(self) -> bool:
        try:
            assert self.redis is not None
            async with asyncio.timeout(1):
                return bool(await self.redis.ping())
        except (RedisError, OSError, TimeoutError, AssertionError):
            return False

    def _ready(self) -> tuple[JobStore, JobQueue]:
        if self.store is None or self.queue is None:
            raise QueueUnavailable("The job queue is not running", retry_after=RETRY_AFTER_S)
        return self.store, self.queue

    async def submit(self, options: JobOptions, request: PageOptions) -> tuple[dict[str, Any], bool]:
        store, queue = self._ready()
        body = request.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        try:
            record, created = await store.create(options, body)
            if created:
                await queue.enqueue(record["id"], options.priority)
        except RedisError as exc:
            raise QueueUnavailable(f"The job queue is unavailable: {exc}", retry_after=RETRY_AFTER_S) from exc
        return record, created

    async def get(self, job_id: str) -> dict[str, Any] | None:
        store, _ = self._ready()
        with _unavailable():
            return await store.get(job_id)

    async def result(self, job_id: str) -> bytes | None:
        store, _ = self._ready()
        with _unavailable():
            return await store.result(job_id)

    async def dead_letters(self, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        store, _ = self._ready()
        with _unavailable():
            return await store.dead_letters(offset, limit)

    async def cancel(self, job_id: str) -> dict[str, Any] | None:
        with _unavailable():
            return await self._cancel(job_id)

    async def _cancel(self, job_id: str) -> dict[str, Any] | None:
        store, _ = self._ready()
        # The compare-and-set decides: only a pending or running job can be cancelled.
        updated = await store.update(
            job_id,
            expect=("pending", "processing"),
            status="cancelled",
            cancelledAt=now_iso(),
            progress={"percent": 0, "message": "cancelled"},
        )
        if updated is None:  # gone, or already final: report what it is now
            return await store.get(job_id)
        assert self.redis is not None
        await self.redis.publish(CANCEL_CHANNEL, job_id)  # the worker running it stops it
        return updated

    async def retry(self, job_id: str) -> dict[str, Any] | None:
        with _unavailable():
            return await self._retry(job_id)

    async def _retry(self, job_id: str) -> dict[str, Any] | None:
        store, queue = self._ready()
        # The compare-and-set decides: only a failed or cancelled job is run again.
        updated = await store.update(
            job_id,
            expect=("failed", "cancelled"),
            status="pending",
            attempts=0,
            error=None,
            failedAt=None,
            progress={"percent": 0, "message": "queued (manual retry)"},
        )
        if updated is None:  # gone, not failed/cancelled, or a concurrent retry won
            return await store.get(job_id)
        await store.remove_dead_letter(job_id)
        await queue.enqueue(job_id, updated["priority"])
        return updated

    async def updates(self, job_id: str) -> Any:
        """Async iterator of public job states: the current one, then every change until terminal."""
        store, _ = self._ready()
        assert self.redis is not None
        async with self.redis.pubsub() as pubsub:
            await pubsub.subscribe(events_channel(job_id))  # subscribe first: no change is missed
            record = await store.get(job_id)
            if record is None:
                return
            yield public(record)
            if record["status"] in TERMINAL:
                return
            async for message in pubsub.listen():
                if message["type"] != "message":
                    continue
                state = json.loads(message["data"])
                yield state
                if state["status"] in TERMINAL:
                    return


@contextlib.contextmanager
def _unavailable() -> Iterator[None]:
    """Redis errors as a 503 with Retry-After: without it, every route but submit and status
    answered a 500 while Redis was down."""
    try:
        yield
    except RedisError as exc:
        raise QueueUnavailable(f"The job queue is unavailable: {exc}", retry_after=RETRY_AFTER_S) from exc


class QueueRenderer:
    """The sync endpoints of an API-only instance: enqueue at high priority and await the result."""

    def __init__(self, settings: Settings, jobs: Jobs) -> None:
        self.settings = settings
        self.jobs = jobs

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def render(self, request: PageOptions) -> Artifact:
        kind = capture_for(request).kind
        record, _ = await self.jobs.submit(JobOptions(kind=kind, priority="high"), request)
        deadline = (
            request.timeout or self.settings.default_timeout_ms
        ) / 1000 + self.settings.queue_timeout_ms / 1000
        final: dict[str, Any] | None = None
        try:
            async with asyncio.timeout(deadline):
                async for state in self.jobs.updates(record["id"]):
                    final = state
        except TimeoutError:
            await self.jobs.cancel(record["id"])
            raise RenderTimeout(f"No worker finished the render within {deadline:.0f} s") from None
        if final is None or final["status"] != "completed":
            error = (final or {}).get("error") or {
                "code": "internal_error",
                "message": "job lost",
                "status": 500,
            }
            raise error_for(error["code"], error["message"], int(error.get("status", 500)))
        store, _ = self.jobs._ready()
        data = await store.result(record["id"])
        result = final["result"]
        if data is None:
            raise QueueUnavailable("The result expired before it could be read", retry_after=RETRY_AFTER_S)
        return Artifact(
            data, result["contentType"], result["format"], result.get("width"), result.get("height")
        )
