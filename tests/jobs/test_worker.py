"""Jobs through a real Redis and an in-process worker rendering with real Chromium."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from pagecast.jobs.models import JobOptions
from pagecast.jobs.queue import JobQueue
from pagecast.jobs.runtime import Jobs
from pagecast.models import ScreenshotRequest
from pagecast.renderer import Renderer
from tests.conftest import close_to, make_settings, pixel
from tests.jobs.conftest import finished
from tests.redis_process import RedisProcess
from tests.site import Site

RED = ScreenshotRequest(
    html="<body style='margin:0;background:#f00'></body>", viewport={"width": 64, "height": 48}
)


async def test_job_completes_with_its_artifact(jobs: Jobs) -> None:
    record, created = await jobs.submit(JobOptions(kind="render"), RED)
    assert created
    assert record["status"] == "pending"
    done = await finished(jobs, record["id"])
    assert done["status"] == "completed"
    assert done["attempts"] == 1
    assert done["result"]["contentType"] == "image/png"
    assert (done["result"]["width"], done["result"]["height"]) == (64, 48)
    assert done["startedAt"]
    assert done["completedAt"]
    assert jobs.store is not None
    data = await jobs.store.result(record["id"])
    assert data is not None
    assert len(data) == done["result"]["size"]
    assert close_to(pixel(data, 3, 3), (255, 0, 0, 255))


async def test_retryable_failure_is_retried_then_dead_lettered(jobs: Jobs) -> None:
    unreachable = ScreenshotRequest(url="http://127.0.0.1:1/", timeout=5000)  # connection refused
    record, _ = await jobs.submit(JobOptions(kind="render"), unreachable)
    done = await finished(jobs, record["id"])
    assert done["status"] == "failed"
    assert done["attempts"] == 3
    assert done["error"]["code"] == "navigation_failed"
    assert jobs.store is not None
    dead, total = await jobs.store.dead_letters(0, 10)
    assert total == 1
    assert dead[0]["id"] == record["id"]


async def test_invalid_input_fails_once_without_retry(jobs: Jobs) -> None:
    missing = RED.model_copy(update={"selector": "#does-not-exist"})
    record, _ = await jobs.submit(JobOptions(kind="render"), missing)
    done = await finished(jobs, record["id"])
    assert done["status"] == "failed"
    assert done["attempts"] == 1
    assert done["error"]["code"] == "content_error"


async def test_cancel_stops_a_running_job_and_frees_its_slot(jobs: Jobs, site: Site) -> None:
    site.add("/cancel-me.png", b"", "image/png")
    slow = ScreenshotRequest(html=f'<img src="{site.url("/cancel-me.png")}">', waitFor=20_000, timeout=30_000)
    record, _ = await jobs.submit(JobOptions(kind="render"), slow)
    await asyncio.to_thread(site.wait_for_hits, "/cancel-me.png")
    assert jobs.renderer is not None
    assert jobs.renderer.pool.in_flight == 1  # type: ignore[attr-defined]
    cancelled = await jobs.cancel(record["id"])
    assert cancelled is not None
    assert cancelled["status"] == "cancelled"
    assert jobs.worker is not None
    while jobs.worker.running:  # noqa: ASYNC110 - the worker task unwinds on the cancel message
        await asyncio.sleep(0.01)
    assert jobs.renderer.pool.in_flight == 0  # type: ignore[attr-defined]
    final = await jobs.get(record["id"])
    assert final is not None
    assert final["status"] == "cancelled"


async def test_idempotency_key_returns_the_same_job(jobs: Jobs) -> None:
    options = JobOptions(kind="render", idempotency_key="order-42")
    first, created = await jobs.submit(options, RED)
    second, created_again = await jobs.submit(options, RED)
    assert created
    assert not created_again
    assert second["id"] == first["id"]
    other, _ = await jobs.submit(JobOptions(kind="render", idempotency_key="order-43"), RED)
    assert other["id"] != first["id"]


async def test_long_job_on_a_live_worker_is_not_run_twice(jobs: Jobs, site: Site) -> None:
    site.add("/long-job.png", b"", "image/png")
    long = ScreenshotRequest(html=f'<img src="{site.url("/long-job.png")}">', waitFor=2_500)
    record, _ = await jobs.submit(JobOptions(kind="render"), long)
    await asyncio.to_thread(site.wait_for_hits, "/long-job.png")
    assert jobs.redis is not None
    rival = JobQueue(jobs.redis)
    await rival.heartbeat("rival")
    for _ in range(5):  # another worker sweeping again and again while the job runs
        assert await rival.reclaim("rival") == []
        await asyncio.sleep(0.3)
    done = await finished(jobs, record["id"])
    assert done["status"] == "completed"
    assert done["attempts"] == 1
    assert len(site.hits("/long-job.png")) == 1


async def test_failed_job_can_be_retried_by_hand(jobs: Jobs) -> None:
    missing = RED.model_copy(update={"selector": "#nope"})
    record, _ = await jobs.submit(JobOptions(kind="render"), missing)
    assert (await finished(jobs, record["id"]))["status"] == "failed"
    again = await jobs.retry(record["id"])
    assert again is not None
    assert again["status"] == "pending"
    done = await finished(jobs, record["id"])
    assert done["status"] == "failed"
    assert done["attempts"] == 1  # counted afresh


async def test_result_over_the_redis_limit_fails_without_retry(
    renderer: Renderer, redis_client: Redis, redis_server: RedisProcess
) -> None:
    settings = make_settings(redis_url=redis_server.url, result_max_bytes=2048)
    runtime = Jobs(settings, renderer, run_worker=True)
    await runtime.start()
    try:
        big = ScreenshotRequest(html="<p>big</p>", viewport={"width": 800, "height": 600})
        record, _ = await runtime.submit(JobOptions(kind="render"), big)
        done = await finished(runtime, record["id"])
        assert done["status"] == "failed"
        assert done["error"]["code"] == "result_too_large"
        assert done["attempts"] == 1
        small, _ = await runtime.submit(JobOptions(kind="render"), RED)  # 64x48 red: a few hundred bytes
        assert (await finished(runtime, small["id"]))["status"] == "completed"
    finally:
        await runtime.stop()
