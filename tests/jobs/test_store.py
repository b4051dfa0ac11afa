"""Job records and results expire together; dead letters forget expired jobs."""

from __future__ import annotations

from redis.asyncio import Redis

from pagecast.capture import Artifact
from pagecast.jobs.models import JobOptions
from pagecast.jobs.store import DEAD, JobStore, job_key, result_key


async def test_record_and_result_carry_the_job_ttl(redis_client: Redis) -> None:
    store = JobStore(redis_client, ttl_s=120)
    record, created = await store.create(JobOptions(kind="render"), {"html": "<p>x</p>"})
    assert created
    await store.save_result(record["id"], Artifact(b"png-bytes", "image/png", "png", 1, 1))
    for key in (job_key(record["id"]), result_key(record["id"])):
        ttl = await redis_client.ttl(key)
        assert 0 < ttl <= 120
    await store.update(record["id"], status="processing")  # every write refreshes it
    assert 0 < await redis_client.ttl(job_key(record["id"])) <= 120


async def test_expired_jobs_vanish_with_their_results_and_dead_letters(redis_client: Redis) -> None:
    store = JobStore(redis_client, ttl_s=120)
    kept, _ = await store.create(JobOptions(kind="render"), {"html": "<p>kept</p>"})
    gone, _ = await store.create(JobOptions(kind="render"), {"html": "<p>gone</p>"})
    await store.save_result(gone["id"], Artifact(b"x", "image/png", "png"))
    for job in (kept, gone):
        await store.add_dead_letter(job["id"])
    # What Redis does when the TTL passes:
    await redis_client.delete(job_key(gone["id"]), result_key(gone["id"]))
    assert await store.get(gone["id"]) is None
    assert await store.result(gone["id"]) is None
    assert await store.update(gone["id"], status="failed") is None  # never resurrected
    jobs, total = await store.dead_letters(0, 10)
    assert [j["id"] for j in jobs] == [kept["id"]]
    assert total == 1
    assert await redis_client.zcard(DEAD) == 1


async def test_compare_and_set_refuses_a_stale_transition(redis_client: Redis) -> None:
    store = JobStore(redis_client, ttl_s=120)
    record, _ = await store.create(JobOptions(kind="render"), {"html": "<p>x</p>"})
    assert await store.update(record["id"], expect=("pending", "processing"), status="cancelled")
    # A worker finishing late must not overwrite the cancel.
    assert await store.update(record["id"], expect=("processing",), status="completed") is None
    final = await store.get(record["id"])
    assert final is not None
    assert final["status"] == "cancelled"
