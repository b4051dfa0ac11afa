"""The queue: one Redis stream per priority, one consumer group, heartbeat-based reclaim.

* Delivery is at-least-once: an entry stays pending in the group until the worker that took
  it acknowledges it (XACK, then XDEL so streams never grow without bound).
* A worker proves it is alive with a heartbeat key that expires after ``HEARTBEAT_TTL``.
  Entries pending on a consumer *without* a heartbeat are claimed by live workers. We do not
  use XAUTOCLAIM's idle time for this: a long render on a live worker looks idle too, and
  would be run twice.
* Retries wait in a sorted set until due, then go back to their stream.
* Priorities: streams are read high, then normal, then low.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from pagecast.jobs.models import PRIORITIES, Priority
from pagecast.jobs.store import PREFIX

GROUP = "pagecast-workers"
DELAYED = f"{PREFIX}:delayed"
HEARTBEAT_TTL_MS = 10_000

# Move due retries back to their stream atomically, so two workers never both re-add one.
_PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
for _, member in ipairs(due) do
  if redis.call('ZREM', KEYS[1], member) == 1 then
    local sep = string.find(member, '|', 1, true)
    local priority = string.sub(member, 1, sep - 1)
    local job = string.sub(member, sep + 1)
    redis.call('XADD', ARGV[2] .. priority, '*', 'job', job)
  end
end
return #due
"""


def stream(priority: str) -> str:
    return f"{PREFIX}:jobs:{priority}"


def heartbeat_key(consumer: str) -> str:
    return f"{PREFIX}:worker:{consumer}"


@dataclass(frozen=True)
class Delivery:
    stream: str
    entry_id: bytes
    job_id: str


class JobQueue:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._promote = redis.register_script(_PROMOTE)

    async def ensure_groups(self) -> None:
        for priority in PRIORITIES:
            try:
                await self.redis.xgroup_create(stream(priority), GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def enqueue(self, job_id: str, priority: Priority) -> None:
        await self.redis.xadd(stream(priority), {"job": job_id})

    async def retry_later(self, job_id: str, priority: Priority, delay_s: float, now: float) -> None:
        await self.redis.zadd(DELAYED, {f"{priority}|{job_id}": now + delay_s})

    async def promote_due(self, now: float) -> int:
        return int(await self._promote(keys=[DELAYED], args=[now, f"{PREFIX}:jobs:"]))

    async def read(self, consumer: str, block_ms: int) -> Delivery | None:
        """The next entry, highest priority first; blocks up to ``block_ms`` when all are empty."""
        for priority in PRIORITIES:
            found = await self.redis.xreadgroup(GROUP, consumer, {stream(priority): ">"}, count=1)
            if found:
                return _delivery(found)
        found = await self.redis.xreadgroup(
            GROUP, consumer, {stream(p): ">" for p in PRIORITIES}, count=1, block=block_ms
        )
        return _delivery(found) if found else None

    async def ack(self, delivery: Delivery) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(delivery.stream, GROUP, delivery.entry_id)
            pipe.xdel(delivery.stream, delivery.entry_id)
            await pipe.execute()

    async def heartbeat(self, consumer: str) -> None:
        await self.redis.set(heartbeat_key(consumer), b"1", px=HEARTBEAT_TTL_MS)

    async def forget(self, consumer: str) -> None:
        await self.redis.delete(heartbeat_key(consumer))

    async def reclaim(self, consumer: str) -> list[Delivery]:
        """Claim every entry pending on a consumer whose heartbeat has expired."""
        claimed: list[Delivery] = []
        for priority in PRIORITIES:
            name = stream(priority)
            summary = await self.redis.xpending(name, GROUP)
            for owner in summary.get("consumers") or []:
                owner_name = owner["name"].decode() if isinstance(owner["name"], bytes) else owner["name"]
                if owner_name == consumer or await self.redis.exists(heartbeat_key(owner_name)):
                    continue
                pending = await self.redis.xpending_range(
                    name, GROUP, "-", "+", 1000, consumername=owner_name
                )
                ids: list[Any] = [p["message_id"] for p in pending]
                if ids:
                    entries: list[Any] = await self.redis.xclaim(name, GROUP, consumer, 0, ids)
                    claimed += [
                        Delivery(name, entry_id, fields[b"job"].decode())
                        for entry_id, fields in entries
                        if fields  # an entry deleted meanwhile comes back empty
                    ]
                if len(ids) < 1000:
                    await self.redis.xgroup_delconsumer(name, GROUP, owner_name)
        return claimed

    async def own_pending(self, consumer: str, min_idle_ms: int) -> list[Delivery]:
        """Entries this consumer holds: after Redis dropped a job's bookkeeping, the worker
        finds its orphans here (its heartbeat kept others from reclaiming them)."""
        found: list[Delivery] = []
        for priority in PRIORITIES:
            name = stream(priority)
            pending: list[Any] = await self.redis.xpending_range(
                name, GROUP, "-", "+", 100, consumername=consumer, idle=min_idle_ms
            )
            ids = [p["message_id"] for p in pending]
            if ids:
                entries: Any = await self.redis.xrange(name, min=ids[0], max=ids[-1])
                wanted = set(ids)
                found += [Delivery(name, eid, f[b"job"].decode()) for eid, f in entries if eid in wanted]
        return found

    async def depth(self) -> dict[str, int]:
        return {p: int(await self.redis.xlen(stream(p))) for p in PRIORITIES}


def _delivery(found: Any) -> Delivery:
    """The single entry of an XREADGROUP reply (redis-py types its replies loosely)."""
    name, entries = found[0]
    entry_id, fields = entries[0]
    return Delivery(name.decode(), entry_id, fields[b"job"].decode())
