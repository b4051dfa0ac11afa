"""A worker: takes jobs from the queue and renders them with a local Renderer.

One worker runs up to ``max_concurrency`` jobs at once (the browser pool's own limit). Beside
the main loop it keeps a heartbeat, reclaims jobs of dead workers, moves due retries back to
the queue and listens for cancellations. ``drain()`` stops taking jobs and gives the running
ones a grace period; jobs it did not take stay queued for other workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
import uuid
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from pagecast.capture import CAPTURES
from pagecast.errors import PagecastError, ResultTooLarge
from pagecast.jobs.models import TERMINAL
from pagecast.jobs.queue import Delivery, JobQueue
from pagecast.jobs.store import JobStore, now_iso
from pagecast.jobs.webhooks import WebhookSender
from pagecast.renderer import Renderer

log = logging.getLogger(__name__)
CANCEL_CHANNEL = "pagecast:cancel"
HEARTBEAT_EVERY_S = 2.0
RECLAIM_EVERY_S = 3.0
RETRY_BASE_S = 1.0


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel ``tasks`` and wait for them, cancelling again while any is still running.

    One ``cancel()`` is not enough: on Python 3.11, ``asyncio.wait_for`` (which redis-py calls
    to send a command) swallows a cancellation that lands as the command completes (CPython
    gh-86296), and a loop that then carries on never ended — drain hung for good.
    """
    while pending := [t for t in tasks if not t.done()]:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=1)
    await asyncio.gather(*tasks, return_exceptions=True)


def backoff(attempt: int, base_s: float = RETRY_BASE_S) -> float:
    """Exponential backoff with full jitter: spreads retries of a burst of failed jobs."""
    return random.uniform(base_s, base_s * 2**attempt)


class Worker:
    def __init__(
        self,
        redis: Redis,
        renderer: Renderer,
        *,
        ttl_s: int,
        name: str | None = None,
        retry_base_s: float = RETRY_BASE_S,
        webhooks: WebhookSender | None = None,
        result_max_bytes: int | None = None,
    ) -> None:
        self.redis = redis
        self.result_max_bytes = result_max_bytes or renderer.settings.result_max_bytes
        self.renderer = renderer
        self.store = JobStore(redis, ttl_s=ttl_s)
        self.queue = JobQueue(redis)
        self.name = name or f"{renderer.settings.service_id}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.retry_base_s = retry_base_s
        self.webhooks = webhooks or WebhookSender(self.store)
        self._slots = asyncio.Semaphore(renderer.settings.max_concurrency)
        self._running: dict[str, asyncio.Task[None]] = {}
        self._cancelled: set[str] = set()
        self._stopping = asyncio.Event()
        self._background: list[asyncio.Task[None]] = []
        self._main: asyncio.Task[None] | None = None

    @property
    def running(self) -> int:
        return len(self._running)

    async def start(self) -> None:
        # Redis down at start must not stop the process: /health reports it degraded, and the
        # loops below retry (the groups are created once Redis answers; see _take_jobs).
        try:
            await self.queue.ensure_groups()
            await self.queue.heartbeat(self.name)
        except RedisError as exc:
            log.warning("worker %s starts without redis: %s", self.name, exc)
        self._background = [
            asyncio.create_task(self._every(HEARTBEAT_EVERY_S, self._beat)),
            asyncio.create_task(self._every(RECLAIM_EVERY_S, self._reclaim)),
            asyncio.create_task(self._listen_for_cancels()),
        ]
        self._main = asyncio.create_task(self._take_jobs())

    async def drain(self, grace_s: float) -> None:
        """Stop taking jobs; wait up to ``grace_s`` for running ones, then cancel them."""
        self._stopping.set()
        if self._main is not None:
            await _cancel([self._main])
        running = list(self._running.values())
        if running:
            _, late = await asyncio.wait(running, timeout=grace_s)
            for task in late:  # once: a second cancel could cut the render's own cleanup short
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await _cancel(self._background)
        await self.webhooks.close()
        with contextlib.suppress(RedisError):
            await self.queue.forget(self.name)

    # ----- loops -----

    async def _every(self, period_s: float, action: Any) -> None:
        while not self._stopping.is_set():  # see _cancel: a cancel can be lost
            try:
                await action()
            except RedisError as exc:  # Redis down: keep trying; reconnects are automatic
                log.warning("worker %s: %s failed: %s", self.name, action.__name__, exc)
            await asyncio.sleep(period_s)

    async def _beat(self) -> None:
        await self.queue.heartbeat(self.name)
        await self.queue.promote_due(time.time())

    async def _reclaim(self) -> None:
        for delivery in await self.queue.reclaim(self.name):
            log.warning("worker %s reclaimed job %s from a dead worker", self.name, delivery.job_id)
            await self._slots.acquire()
            self._spawn(delivery)
        # Our own entries that no task is working on: a job whose bookkeeping failed while
        # Redis was away. Idle for a while, so an entry just read is never picked up twice.
        for delivery in await self.queue.own_pending(self.name, min_idle_ms=5_000):
            if delivery.job_id not in self._running and not self._stopping.is_set():
                log.warning("worker %s resumes orphaned job %s", self.name, delivery.job_id)
                await self._slots.acquire()
                self._spawn(delivery)

    async def _take_jobs(self) -> None:
        while not self._stopping.is_set():
            await self._slots.acquire()
            try:
                delivery = await self.queue.read(self.name, block_ms=1000)
            except RedisError as exc:
                self._slots.release()
                log.warning("worker %s cannot read the queue: %s", self.name, exc)
                if "NOGROUP" in str(exc):  # Redis was down at start, or came back empty
                    with contextlib.suppress(RedisError):
                        await self.queue.ensure_groups()
                await asyncio.sleep(1)
                continue
            except BaseException:
                self._slots.release()
                raise
            if delivery is None:
                self._slots.release()
                continue
            self._spawn(delivery)

    def _spawn(self, delivery: Delivery) -> None:
        task = asyncio.create_task(self._process(delivery))
        self._running[delivery.job_id] = task
        task.add_done_callback(lambda done: self._finished(delivery.job_id, done))

    def _finished(self, job_id: str, task: asyncio.Task[None]) -> None:
        self._running.pop(job_id, None)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            # Typically Redis vanished mid-bookkeeping; the entry stays pending on us and
            # _reclaim resumes it once Redis is back.
            log.error("job %s: %s", job_id, task.exception())

    async def _listen_for_cancels(self) -> None:
        # A dropped connection (or Redis down at start) must not end the listener; drain does.
        while not self._stopping.is_set():
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(CANCEL_CHANNEL)
                    async for message in pubsub.listen():
                        if message["type"] != "message":
                            continue
                        job_id = message["data"].decode()
                        task = self._running.get(job_id)
                        if task is not None:
                            self._cancelled.add(job_id)
                            task.cancel()
            except RedisError as exc:
                log.warning("worker %s: cancel listener lost redis: %s", self.name, exc)
                await asyncio.sleep(1)

    # ----- one job -----

    async def _process(self, delivery: Delivery) -> None:
        job_id = delivery.job_id
        record = await self.store.get(job_id)
        if record is None or record["status"] in TERMINAL:
            await self.queue.ack(delivery)  # expired or already finished/cancelled
            return
        attempts = await self.store.increment_attempts(job_id)
        if attempts > record["maxAttempts"]:
            # Only reachable when workers died mid-job: every try was lost with its worker.
            error = record.get("error") or {
                "code": "worker_lost",
                "message": "Every worker that ran it died",
                "status": 503,
            }
            await self._fail(delivery, record, error)
            return
        processing = await self.store.update(
            job_id,
            expect=("pending", "processing"),  # "processing": reclaimed from a dead worker
            status="processing",
            startedAt=now_iso(),
            progress={"percent": 10, "message": f"rendering (attempt {attempts})"},
        )
        if processing is None:  # cancelled (or expired) before it started
            await self.queue.ack(delivery)
            return
        self.webhooks.send(processing, "progress")
        try:
            capture = CAPTURES[record["kind"]]
            request = capture.request_model.model_validate(record["request"])
            artifact = await self.renderer.render(request)
        except asyncio.CancelledError:
            if job_id in self._cancelled:  # cancelled by a client: the slot is already freed
                self._cancelled.discard(job_id)
                await self.queue.ack(delivery)
                return
            raise  # drain timed out: leave the entry pending for another worker to reclaim
        except PagecastError as exc:
            await self._failed_attempt(delivery, record, attempts, exc)
            return
        except Exception as exc:
            log.exception("job %s failed unexpectedly", job_id)
            await self._failed_attempt(delivery, record, attempts, PagecastError(f"internal error: {exc}"))
            return
        limit = self.result_max_bytes
        if artifact.size > limit:
            too_large = ResultTooLarge(f"The result is {artifact.size} bytes; jobs keep at most {limit}")
            await self._failed_attempt(delivery, record, attempts, too_large)
            return
        await self.store.save_result(job_id, artifact)
        result = {
            "size": artifact.size,
            "format": artifact.format,
            "contentType": artifact.content_type,
            "width": artifact.width,
            "height": artifact.height,
            "downloadUrl": f"/v1/jobs/{job_id}/result",
        }
        done = await self.store.update(
            job_id,
            expect=("processing",),  # a cancel that landed meanwhile wins
            status="completed",
            completedAt=now_iso(),
            result=result,
            error=None,
            progress={"percent": 100, "message": "done"},
        )
        await self.queue.ack(delivery)
        if done is not None:
            self.webhooks.send(done, "completed")

    async def _failed_attempt(
        self, delivery: Delivery, record: dict[str, Any], attempts: int, exc: PagecastError
    ) -> None:
        error = {"code": exc.code, "message": exc.message, "status": exc.status}
        if exc.retryable and attempts < record["maxAttempts"]:
            delay = backoff(attempts, self.retry_base_s)
            again = await self.store.update(
                record["id"],
                expect=("processing",),
                status="pending",
                error=error,
                progress={"percent": 0, "message": f"retrying in {delay:.1f}s"},
            )
            if again is not None:
                await self.queue.retry_later(record["id"], record["priority"], delay, time.time())
            await self.queue.ack(delivery)
            return
        await self._fail(delivery, record, error)

    async def _fail(self, delivery: Delivery, record: dict[str, Any], error: dict[str, Any]) -> None:
        failed = await self.store.update(
            record["id"], expect=("pending", "processing"), status="failed", failedAt=now_iso(), error=error
        )
        if failed is not None:
            await self.store.add_dead_letter(record["id"])
        await self.queue.ack(delivery)
        if failed is not None:
            self.webhooks.send(failed, "failed")
