"""Job records, results and dead letters in Redis.

``pagecast:job:{id}`` is a hash whose values are JSON; every write refreshes the job's TTL.
Results live beside it (``pagecast:result:{id}``) with the same TTL, so any API instance can
serve a result whichever worker produced it, and Redis expires both together. Every change
is published on ``pagecast:events:{id}`` for SSE and for sync callers awaiting a result.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from pagecast.capture import Artifact
from pagecast.jobs.models import JobOptions

PREFIX = "pagecast"
DEAD = f"{PREFIX}:dead"
# Fields a client sees; the rest (request, webhook config...) stay internal.
PUBLIC = (
    "id",
    "kind",
    "status",
    "progress",
    "attempts",
    "maxAttempts",
    "priority",
    "createdAt",
    "startedAt",
    "completedAt",
    "failedAt",
    "cancelledAt",
    "result",
    "error",
    "webhookDeliveries",
)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def job_key(job_id: str) -> str:
    return f"{PREFIX}:job:{job_id}"


def result_key(job_id: str) -> str:
    return f"{PREFIX}:result:{job_id}"


def events_channel(job_id: str) -> str:
    return f"{PREFIX}:events:{job_id}"


def public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record[k] for k in PUBLIC if k in record}


class JobStore:
    def __init__(self, redis: Redis, *, ttl_s: int) -> None:
        self.redis = redis
        self.ttl_s = ttl_s

    async def create(self, options: JobOptions, request: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Store a new pending job; with an idempotency key, return the live job holding it."""
        job_id = str(uuid.uuid4())
        if options.idempotency_key is not None:
            key = f"{PREFIX}:idem:{options.idempotency_key}"
            # NX makes the claim atomic: two racing submissions get one job between them.
            if not await self.redis.set(key, job_id, nx=True, ex=self.ttl_s):
                existing_id: Any = await self.redis.get(key)
                existing = await self.get(existing_id.decode()) if existing_id else None
                if existing is not None:
                    return existing, False
                await self.redis.set(key, job_id, ex=self.ttl_s)  # the old job expired
        record = {
            "id": job_id,
            "kind": options.kind,
            "status": "pending",
            "attempts": 0,
            "maxAttempts": options.max_attempts,
            "priority": options.priority,
            "createdAt": now_iso(),
            "progress": {"percent": 0, "message": "queued"},
            "request": request,
            "webhook": options.webhook.model_dump(by_alias=True) if options.webhook else None,
        }
        await self._write(job_id, record)
        return record, True

    async def get(self, job_id: str) -> dict[str, Any] | None:
        raw = await self.redis.hgetall(job_key(job_id))
        if not raw:
            return None
        return {_text(k): json.loads(v) for k, v in raw.items()}

    async def update(
        self, job_id: str, *, expect: tuple[str, ...] | None = None, **fields: Any
    ) -> dict[str, Any] | None:
        """Write fields and publish the new state; None if the job is gone or, with ``expect``,
        no longer in one of those statuses.

        ``expect`` makes a status change a compare-and-set (WATCH/MULTI): a worker finishing
        a job can never overwrite a client's cancel that landed a moment earlier, and two
        workers can never both move one job from pending to processing.
        """
        key = job_key(job_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    status: Any = await pipe.hget(key, "status")
                    if status is None or (expect is not None and json.loads(status) not in expect):
                        await pipe.reset()  # type: ignore[no-untyped-call]
                        return None
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.hset(key, mapping={k: json.dumps(v) for k, v in fields.items()})
                    pipe.expire(key, self.ttl_s)
                    await pipe.execute()
                    break
                except WatchError:
                    continue  # changed under us: look again
        record = await self.get(job_id)
        if record is not None:
            await self.redis.publish(events_channel(job_id), json.dumps(public(record)))
        return record

    async def _write(self, job_id: str, fields: dict[str, Any]) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(job_key(job_id), mapping={k: json.dumps(v) for k, v in fields.items()})
            pipe.expire(job_key(job_id), self.ttl_s)
            await pipe.execute()

    async def increment_attempts(self, job_id: str) -> int:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(job_key(job_id), "attempts", 1)
            pipe.expire(job_key(job_id), self.ttl_s)
            attempts, _ = await pipe.execute()
        return int(attempts)

    async def save_result(self, job_id: str, artifact: Artifact) -> None:
        await self.redis.set(result_key(job_id), artifact.data, ex=self.ttl_s)

    async def result(self, job_id: str) -> bytes | None:
        data: Any = await self.redis.get(result_key(job_id))
        return bytes(data) if data is not None else None

    async def add_dead_letter(self, job_id: str) -> None:
        await self.redis.zadd(DEAD, {job_id: time.time()})

    async def remove_dead_letter(self, job_id: str) -> None:
        await self.redis.zrem(DEAD, job_id)

    async def dead_letters(self, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Newest first; ids whose record expired are dropped from the set as we meet them."""
        ids: list[Any] = await self.redis.zrevrange(DEAD, offset, offset + limit - 1)
        jobs = []
        for raw_id in ids:
            record = await self.get(raw_id.decode())
            if record is None:
                await self.redis.zrem(DEAD, raw_id)
            else:
                jobs.append(public(record))
        return jobs, int(await self.redis.zcard(DEAD))
