"""The stream queue on a real redis-server: priorities, acks, retries and heartbeat reclaim."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from pagecast.jobs.queue import GROUP, JobQueue, heartbeat_key, stream


async def started(redis_client: Redis) -> JobQueue:
    queue = JobQueue(redis_client)
    await queue.ensure_groups()
    await queue.ensure_groups()  # idempotent: BUSYGROUP is not an error
    return queue


async def test_higher_priority_is_read_first(redis_client: Redis) -> None:
    queue = await started(redis_client)
    await queue.enqueue("low-1", "low")
    await queue.enqueue("normal-1", "normal")
    await queue.enqueue("high-1", "high")
    await queue.enqueue("normal-2", "normal")
    order = []
    for _ in range(4):
        delivery = await queue.read("w1", block_ms=100)
        assert delivery is not None
        order.append(delivery.job_id)
    assert order == ["high-1", "normal-1", "normal-2", "low-1"]
    assert await queue.read("w1", block_ms=50) is None


async def test_ack_removes_the_entry_so_streams_stay_small(redis_client: Redis) -> None:
    queue = await started(redis_client)
    for i in range(20):
        await queue.enqueue(f"job-{i}", "normal")
    for _ in range(20):
        delivery = await queue.read("w1", block_ms=100)
        assert delivery is not None
        await queue.ack(delivery)
    assert await redis_client.xlen(stream("normal")) == 0
    assert (await redis_client.xpending(stream("normal"), GROUP))["pending"] == 0


async def test_retry_waits_until_due(redis_client: Redis) -> None:
    queue = await started(redis_client)
    now = time.time()
    await queue.retry_later("later", "high", 30, now)
    await queue.retry_later("soon", "low", 1, now)
    assert await queue.promote_due(now) == 0
    assert await queue.promote_due(now + 2) == 1
    delivery = await queue.read("w1", block_ms=100)
    assert delivery is not None
    assert (delivery.job_id, delivery.stream) == ("soon", stream("low"))
    assert await queue.read("w1", block_ms=50) is None


async def test_dead_consumers_entries_are_reclaimed_live_ones_never(redis_client: Redis) -> None:
    queue = await started(redis_client)
    await queue.enqueue("of-live", "normal")
    await queue.enqueue("of-dead", "normal")
    await queue.heartbeat("live")
    await queue.heartbeat("dead")
    assert (await queue.read("live", block_ms=100)).job_id == "of-live"  # type: ignore[union-attr]
    assert (await queue.read("dead", block_ms=100)).job_id == "of-dead"  # type: ignore[union-attr]
    # While both beat, however long their entries have been pending, nothing moves.
    assert await queue.reclaim("rescuer") == []
    await redis_client.delete(heartbeat_key("dead"))  # the heartbeat expired: that worker is gone
    claimed = await queue.reclaim("rescuer")
    assert [d.job_id for d in claimed] == ["of-dead"]
    pending = await redis_client.xpending_range(stream("normal"), GROUP, "-", "+", 10)
    owners = {p["message_id"]: p["consumer"].decode() for p in pending}
    assert sorted(owners.values()) == ["live", "rescuer"]
    await queue.heartbeat("rescuer")
    assert await queue.reclaim("another") == []  # the rescuer lives: claimed once, not twice
