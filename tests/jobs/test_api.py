"""The job API over HTTP: the real app (ASGI), a real redis-server and real Chromium.

ASGITransport runs no lifespan: the ``jobs`` fixture (started, with an in-process worker) and the
session renderer are handed to the app already running.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from pagecast.api import create_app
from pagecast.jobs.queue import stream
from pagecast.jobs.runtime import Jobs
from pagecast.jobs.worker import Worker
from pagecast.renderer import Renderer
from tests.conftest import close_to, image, make_settings, pixel
from tests.jobs.conftest import finished, submit
from tests.redis_process import RedisProcess
from tests.site import Site

RED_HTML = "<body style='margin:0;background:#f00'></body>"
RED = {"kind": "render", "html": RED_HTML, "viewport": {"width": 64, "height": 48}}
# Fails at run time, once, without retry: the selector matches nothing (content_error).
MISSING = {"kind": "render", "html": "<p>x</p>", "selector": "#nope"}


def client_for(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://pagecast.test", timeout=60)


@pytest.fixture
async def http(renderer: Renderer, jobs: Jobs) -> AsyncIterator[httpx.AsyncClient]:
    """The app with jobs and an in-process worker."""
    async with client_for(create_app(jobs.settings, renderer, jobs=jobs)) as c:
        yield c


@pytest.fixture
async def api_only(
    renderer: Renderer, redis_client: Redis, redis_server: RedisProcess
) -> AsyncIterator[tuple[Jobs, httpx.AsyncClient]]:
    """The app with jobs but no worker: submitted jobs stay pending."""
    settings = make_settings(redis_url=redis_server.url)
    runtime = Jobs(settings, renderer, run_worker=False)
    await runtime.start()
    try:
        async with client_for(create_app(settings, renderer, jobs=runtime)) as c:
            yield runtime, c
    finally:
        await runtime.stop()


async def job_keys(redis_client: Redis) -> list[Any]:
    return list(await redis_client.keys("pagecast:job:*"))


# ----- submission, status, result -----


async def test_submit_is_202_and_the_result_is_served(http: httpx.AsyncClient, jobs: Jobs) -> None:
    r = await http.post("/v1/jobs", json=RED)
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert set(accepted) == {"jobId", "status", "statusUrl"}
    job_id = accepted["jobId"]
    assert accepted["status"] == "pending"
    assert accepted["statusUrl"] == f"/v1/jobs/{job_id}"

    status = await http.get(accepted["statusUrl"])
    assert status.status_code == 200
    assert status.json()["id"] == job_id
    assert status.json()["kind"] == "render"
    assert status.json()["status"] in ("pending", "processing", "completed")

    await finished(jobs, job_id)
    job = (await http.get(accepted["statusUrl"])).json()
    assert job["status"] == "completed"
    assert job["attempts"] == 1
    assert job["progress"] == {"percent": 100, "message": "done"}
    assert job["result"]["downloadUrl"] == f"/v1/jobs/{job_id}/result"
    assert (job["result"]["width"], job["result"]["height"]) == (64, 48)
    assert "request" not in job  # internals stay internal
    assert "webhook" not in job

    result = await http.get(job["result"]["downloadUrl"])
    assert result.status_code == 200
    assert result.headers["content-type"] == "image/png"
    assert len(result.content) == job["result"]["size"]
    assert image(result.content).size == (64, 48)
    assert close_to(pixel(result.content, 3, 3), (255, 0, 0, 255))


async def test_pdf_job_result_is_a_pdf(http: httpx.AsyncClient, jobs: Jobs) -> None:
    job_id = await submit(http, {"kind": "pdf", "html": "<h1>Invoice</h1>", "format": "A5"})
    done = await finished(jobs, job_id)
    assert done["status"] == "completed", done
    assert done["result"]["contentType"] == "application/pdf"
    assert done["result"]["format"] == "pdf"
    r = await http.get(f"/v1/jobs/{job_id}/result")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    assert len(r.content) == done["result"]["size"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**RED, "viewport": {"width": 0, "height": 10}}, "viewport.width"),
        ({**RED, "bogusOption": 1}, "bogusOption"),
        ({**RED, "kind": "video"}, "kind"),
        ({"html": RED_HTML}, "kind"),
        ({"kind": "render"}, "body"),  # no source: neither url nor html
        ({"kind": "render", "url": "file:///etc/passwd"}, "url"),
        ({"kind": "pdf", "html": "x", "fullPage": True}, "fullPage"),  # a render option on a pdf
        ({**RED, "priority": "urgent"}, "priority"),
        ({**RED, "maxAttempts": 0}, "maxAttempts"),
        ({**RED, "idempotencyKey": "k" * 201}, "idempotencyKey"),
        ({**RED, "webhook": {"url": "ftp://example.com/hook"}}, "webhook.url"),
        ({**RED, "webhook": {"url": "http://"}}, "webhook.url"),
        ({**RED, "webhook": {"url": "http://example.com/", "events": ["done"]}}, "webhook.events.0"),
        ({**RED, "webhook": {"url": "http://example.com/", "headers": {"X-A": "é"}}}, "webhook.headers"),
    ],
)
async def test_invalid_submission_is_422_at_once_and_creates_no_job(
    http: httpx.AsyncClient, redis_client: Redis, body: dict[str, Any], field: str
) -> None:
    r = await http.post("/v1/jobs", json=body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in [d["field"] for d in error["details"]], error
    assert await job_keys(redis_client) == []
    for priority in ("high", "normal", "low"):
        assert await redis_client.xlen(stream(priority)) == 0


async def test_malformed_or_non_object_body_is_422(http: httpx.AsyncClient, redis_client: Redis) -> None:
    bad = await http.post("/v1/jobs", content=b"{not json", headers={"content-type": "application/json"})
    assert bad.status_code == 422
    listed = await http.post("/v1/jobs", json=[RED])
    assert listed.status_code == 422
    assert await job_keys(redis_client) == []


async def test_result_of_an_unfinished_job_is_409(api_only: tuple[Jobs, httpx.AsyncClient]) -> None:
    _, client = api_only
    job_id = await submit(client, RED)
    for path in (f"/v1/jobs/{job_id}/result", f"/download/{job_id}"):
        r = await client.get(path)
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == "job_conflict"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/jobs/no-such-job"),
        ("GET", "/v1/jobs/no-such-job/result"),
        ("GET", "/v1/jobs/no-such-job/events"),
        ("DELETE", "/v1/jobs/no-such-job"),
        ("POST", "/v1/jobs/no-such-job/retry"),
        ("GET", "/render-async/no-such-job"),
        ("GET", "/download/no-such-job"),
    ],
)
async def test_unknown_job_is_404(http: httpx.AsyncClient, method: str, path: str) -> None:
    r = await http.request(method, path)
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "job_not_found"


# ----- events -----


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


async def test_events_stream_until_completed(http: httpx.AsyncClient) -> None:
    job_id = await submit(http, RED)
    async with http.stream("GET", f"/v1/jobs/{job_id}/events") as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-cache"
        text = (await r.aread()).decode()
    events = parse_sse(text)
    assert events[-1][0] == "completed"
    assert events[-1][1]["result"]["contentType"] == "image/png"
    assert all(name == state["status"] for name, state in events)
    assert all(state["id"] == job_id for _, state in events)
    assert [name for name, _ in events].count("completed") == 1  # the stream ends there
    # A finished job's stream is its one terminal state.
    async with http.stream("GET", f"/v1/jobs/{job_id}/events") as again:
        assert [name for name, _ in parse_sse((await again.aread()).decode())] == ["completed"]


async def test_events_of_a_failed_job_end_with_failed(http: httpx.AsyncClient) -> None:
    job_id = await submit(http, MISSING)
    async with http.stream("GET", f"/v1/jobs/{job_id}/events") as r:
        events = parse_sse((await r.aread()).decode())
    assert events[-1][0] == "failed"
    assert events[-1][1]["error"]["code"] == "content_error"


# ----- cancel, dead letters, retry -----


async def test_delete_cancels_a_pending_job(api_only: tuple[Jobs, httpx.AsyncClient]) -> None:
    _, client = api_only
    job_id = await submit(client, RED)
    r = await client.delete(f"/v1/jobs/{job_id}")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    assert r.json()["cancelledAt"]
    assert (await client.get(f"/v1/jobs/{job_id}")).json()["status"] == "cancelled"
    assert (await client.get(f"/v1/jobs/{job_id}/result")).status_code == 409
    again = await client.delete(f"/v1/jobs/{job_id}")  # cancelling twice changes nothing
    assert (again.status_code, again.json()["status"]) == (200, "cancelled")
    retried = await client.post(f"/v1/jobs/{job_id}/retry")  # a cancelled job may run again
    assert retried.status_code == 202, retried.text
    assert retried.json()["status"] == "pending"


async def test_delete_stops_a_running_job(http: httpx.AsyncClient, jobs: Jobs, site: Site) -> None:
    site.add("/api-cancel.png", b"", "image/png")
    slow = {"kind": "render", "html": f'<img src="{site.url("/api-cancel.png")}">', "waitFor": 20_000}
    job_id = await submit(http, slow)
    await asyncio.to_thread(site.wait_for_hits, "/api-cancel.png")
    assert (await http.get(f"/v1/jobs/{job_id}")).json()["status"] == "processing"
    r = await http.delete(f"/v1/jobs/{job_id}")
    assert r.status_code == 200
    assert r.json()["status"] == "cancelled"
    assert jobs.worker is not None
    async with asyncio.timeout(10):
        while jobs.worker.running:  # noqa: ASYNC110 - the worker task unwinds on the cancel message
            await asyncio.sleep(0.01)
    assert (await http.get(f"/v1/jobs/{job_id}")).json()["status"] == "cancelled"


async def test_dead_letters_are_listed_newest_first_and_paginated(
    http: httpx.AsyncClient, jobs: Jobs
) -> None:
    failed_ids = [await submit(http, MISSING) for _ in range(3)]
    ok_id = await submit(http, RED)
    for job_id in [*failed_ids, ok_id]:
        await finished(jobs, job_id)

    first = await http.get("/v1/jobs", params={"status": "failed", "limit": 2})
    assert first.status_code == 200, first.text
    page1 = first.json()
    assert (page1["total"], page1["offset"], page1["limit"]) == (3, 0, 2)
    assert len(page1["jobs"]) == 2
    page2 = (await http.get("/v1/jobs", params={"status": "failed", "offset": 2, "limit": 2})).json()
    assert len(page2["jobs"]) == 1
    listed = page1["jobs"] + page2["jobs"]
    assert sorted(j["id"] for j in listed) == sorted(failed_ids)
    assert all(j["status"] == "failed" and j["error"]["code"] == "content_error" for j in listed)
    failed_at = [j["failedAt"] for j in listed]
    assert failed_at == sorted(failed_at, reverse=True)  # newest first
    assert "request" not in listed[0]

    beyond = (await http.get("/v1/jobs", params={"status": "failed", "offset": 10})).json()
    assert (beyond["jobs"], beyond["total"]) == ([], 3)
    assert (await http.get("/v1/jobs")).json()["total"] == 3  # status defaults to failed
    for params in ({"status": "pending"}, {"limit": 0}, {"limit": 501}, {"offset": -1}):
        assert (await http.get("/v1/jobs", params=params)).status_code == 422, params


async def test_retry_runs_a_failed_job_again(http: httpx.AsyncClient, jobs: Jobs) -> None:
    job_id = await submit(http, MISSING)
    assert (await finished(jobs, job_id))["status"] == "failed"
    r = await http.post(f"/v1/jobs/{job_id}/retry")
    assert r.status_code == 202, r.text
    assert r.json() == {"jobId": job_id, "status": "pending", "statusUrl": f"/v1/jobs/{job_id}"}
    done = await finished(jobs, job_id)
    assert done["status"] == "failed"
    assert done["attempts"] == 1  # counted afresh
    assert (await http.get("/v1/jobs")).json()["total"] == 1  # one dead letter, not two

    ok_id = await submit(http, RED)
    await finished(jobs, ok_id)
    conflict = await http.post(f"/v1/jobs/{ok_id}/retry")
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "job_conflict"


# ----- priorities, idempotency -----


async def test_priorities_over_http(api_only: tuple[Jobs, httpx.AsyncClient], renderer: Renderer) -> None:
    runtime, client = api_only
    low = await submit(client, {**RED, "priority": "low"})
    normal = await submit(client, {**RED, "priority": "normal"})
    high = await submit(client, {**RED, "priority": "high"})
    assert runtime.redis is not None
    worker = Worker(runtime.redis, renderer, ttl_s=60, name="one-at-a-time")
    worker._slots = asyncio.Semaphore(1)  # one job at a time, so the order is observable
    await worker.start()
    try:
        done = {job_id: await finished(runtime, job_id) for job_id in (low, normal, high)}
    finally:
        await worker.drain(5)
    assert all(d["status"] == "completed" for d in done.values())
    assert done[high]["priority"] == "high"
    assert done[high]["completedAt"] <= done[normal]["startedAt"]
    assert done[normal]["completedAt"] <= done[low]["startedAt"]


async def test_idempotency_key_over_http(
    api_only: tuple[Jobs, httpx.AsyncClient], redis_client: Redis
) -> None:
    _, client = api_only
    first = await client.post("/v1/jobs", json={**RED, "idempotencyKey": "invoice-7"})
    second = await client.post("/v1/jobs", json={**RED, "idempotencyKey": "invoice-7"})
    other = await client.post("/v1/jobs", json={**RED, "idempotencyKey": "invoice-8"})
    assert first.status_code == second.status_code == other.status_code == 202
    assert second.json()["jobId"] == first.json()["jobId"]
    assert other.json()["jobId"] != first.json()["jobId"]
    assert len(await job_keys(redis_client)) == 2
    assert await redis_client.xlen(stream("normal")) == 2  # the duplicate was not queued again


# ----- seed 002 compatibility -----


async def test_render_async_completed_and_download(http: httpx.AsyncClient, jobs: Jobs) -> None:
    r = await http.post("/render-async", json={"html": RED_HTML, "options": {"width": 64, "height": 48}})
    assert r.status_code == 202, r.text
    body = r.json()
    assert set(body) == {"success", "jobId", "statusUrl"}
    assert body["success"] is True
    job_id = body["jobId"]
    assert body["statusUrl"] == f"/render-async/{job_id}"
    await finished(jobs, job_id)
    status = (await http.get(body["statusUrl"])).json()
    assert set(status) == {"status", "size", "format", "downloadUrl", "completedAt"}
    assert (status["status"], status["format"]) == ("completed", "png")
    assert status["downloadUrl"] == f"/download/{job_id}"
    download = await http.get(status["downloadUrl"])
    assert download.status_code == 200
    assert download.headers["content-type"] == "image/png"
    assert len(download.content) == status["size"]
    assert image(download.content).size == (64, 48)
    assert close_to(pixel(download.content, 3, 3), (255, 0, 0, 255))


async def test_render_async_pending_shape(api_only: tuple[Jobs, httpx.AsyncClient]) -> None:
    _, client = api_only
    job_id = (await client.post("/render-async", json={"html": "<p>later</p>"})).json()["jobId"]
    status = (await client.get(f"/render-async/{job_id}")).json()
    assert set(status) == {"status", "createdAt"}
    assert status["status"] == "pending"


async def test_render_async_processing_then_cancelled_shapes(
    http: httpx.AsyncClient, jobs: Jobs, site: Site
) -> None:
    site.add("/compat-slow.png", b"", "image/png")
    html = f'<img src="{site.url("/compat-slow.png")}">'
    r = await http.post("/render-async", json={"html": html, "options": {"waitFor": 20_000}})
    job_id = r.json()["jobId"]
    await asyncio.to_thread(site.wait_for_hits, "/compat-slow.png")
    status = (await http.get(f"/render-async/{job_id}")).json()
    assert set(status) == {"status", "createdAt"}
    assert status["status"] == "processing"
    assert (await http.delete(f"/v1/jobs/{job_id}")).status_code == 200
    cancelled = (await http.get(f"/render-async/{job_id}")).json()
    assert set(cancelled) == {"status", "error", "failedAt"}
    assert cancelled["status"] == "cancelled"
    assert cancelled["failedAt"]


async def test_render_async_failed_shape(http: httpx.AsyncClient, jobs: Jobs) -> None:
    job_id = await submit(http, MISSING)
    await finished(jobs, job_id)
    status = (await http.get(f"/render-async/{job_id}")).json()
    assert set(status) == {"status", "error", "failedAt"}
    assert status["status"] == "failed"
    assert isinstance(status["error"], str)
    assert status["error"]
    assert status["failedAt"]


async def test_render_async_invalid_body_is_422(http: httpx.AsyncClient, redis_client: Redis) -> None:
    for body in ({}, {"html": "x", "options": {"width": 0}}, {"html": "x", "options": {"format": "gif"}}):
        r = await http.post("/render-async", json=body)
        assert r.status_code == 422, (body, r.text)
    assert await job_keys(redis_client) == []


# ----- without a queue -----

JOB_ROUTES = [
    ("POST", "/v1/jobs", RED),
    ("GET", "/v1/jobs", None),
    ("GET", "/v1/jobs/some-id", None),
    ("GET", "/v1/jobs/some-id/result", None),
    ("GET", "/v1/jobs/some-id/events", None),
    ("DELETE", "/v1/jobs/some-id", None),
    ("POST", "/v1/jobs/some-id/retry", None),
    ("POST", "/render-async", {"html": "<p>x</p>"}),
    ("GET", "/render-async/some-id", None),
    ("GET", "/download/some-id", None),
]


async def assert_unavailable(client: httpx.AsyncClient) -> None:
    for method, path, body in JOB_ROUTES:
        r = await client.request(method, path, json=body)
        assert r.status_code == 503, (method, path, r.text)
        assert r.json()["error"]["code"] == "queue_unavailable", (method, path)
        assert int(r.headers["retry-after"]) >= 1, (method, path)


async def test_redis_unreachable_is_503_and_degraded_then_reconnects(
    renderer: Renderer, tmp_path: Path
) -> None:
    server = RedisProcess(tmp_path / "late-redis")  # its port is chosen, nothing listens yet
    settings = make_settings(redis_url=server.url, retry_base_s=0.05, drain_grace_s=5)
    runtime = Jobs(settings, renderer, run_worker=True)
    await runtime.start()  # degraded, not an error: the worker and the routes keep retrying
    try:
        async with client_for(create_app(settings, renderer, jobs=runtime)) as client:
            settle = await client.post("/v1/render", json={"html": "<p>settle</p>"})
            assert settle.status_code == 200  # sync renders on the local pool still work
            await assert_unavailable(client)
            invalid = await client.post("/v1/jobs", json={**RED, "kind": "video"})
            assert invalid.status_code == 422  # validation needs no queue

            health = await client.get("/health")
            assert health.status_code == 200, health.text
            assert health.json()["status"] == "degraded"
            assert health.json()["checks"]["redis"] == {"status": "down"}

            server.start()  # Redis appears: no restart of pagecast needed
            job_id = await submit(client, RED)
            done = await finished(runtime, job_id)
            assert done["status"] == "completed", done
            health = (await client.get("/health")).json()
            assert health["checks"]["redis"] == {"status": "up"}
    finally:
        await runtime.stop()
        server.stop()


async def test_app_without_jobs_answers_503(renderer: Renderer) -> None:
    async with client_for(create_app(renderer.settings, renderer)) as client:
        await assert_unavailable(client)
        health = (await client.get("/health")).json()
        assert "redis" not in health["checks"]
