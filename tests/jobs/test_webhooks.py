"""Webhooks: signed POSTs to a real receiver (tests.site), retried when it fails, recorded on the job."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from pagecast.api import create_app
from pagecast.jobs.runtime import Jobs
from pagecast.jobs.store import events_channel, public
from pagecast.jobs.webhooks import HEADER, sign, verify
from pagecast.renderer import Renderer
from tests.conftest import make_settings
from tests.jobs.conftest import finished, submit
from tests.redis_process import RedisProcess
from tests.site import Seen, Site

SECRET = "whsec-test-0123456789"
RED = {
    "kind": "render",
    "html": "<body style='background:#f00'></body>",
    "viewport": {"width": 32, "height": 24},
}
MISSING = {"kind": "render", "html": "<p>x</p>", "selector": "#nope"}  # fails once: content_error


@pytest.fixture
async def hooked(
    renderer: Renderer, redis_client: Redis, redis_server: RedisProcess
) -> AsyncIterator[tuple[Jobs, httpx.AsyncClient]]:
    """Jobs with a webhook secret and a short delivery backoff, and the app over them."""
    settings = make_settings(
        redis_url=redis_server.url, retry_base_s=0.05, drain_grace_s=5,
        webhook_secret=SECRET, webhook_backoff_s=0.05,
    )  # fmt: skip
    runtime = Jobs(settings, renderer, run_worker=True)
    await runtime.start()
    try:
        transport = httpx.ASGITransport(app=create_app(settings, renderer, jobs=runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://pagecast.test", timeout=60) as c:
            yield runtime, c
    finally:
        await runtime.stop()


async def state_where(
    jobs: Jobs, job_id: str, predicate: Callable[[dict[str, Any]], bool], timeout_s: float = 30
) -> dict[str, Any]:
    """The first state of the job (now or published later) that satisfies ``predicate``."""
    assert jobs.redis is not None
    assert jobs.store is not None
    async with asyncio.timeout(timeout_s), jobs.redis.pubsub() as pubsub:
        await pubsub.subscribe(events_channel(job_id))  # before reading: no change is missed
        record = await jobs.store.get(job_id)
        assert record is not None
        if predicate(public(record)):
            return public(record)
        async for message in pubsub.listen():
            if message["type"] == "message" and predicate(state := json.loads(message["data"])):
                return state  # type: ignore[no-any-return]
    raise AssertionError("unreachable")


def delivered(count: int) -> Callable[[dict[str, Any]], bool]:
    return lambda state: len(state.get("webhookDeliveries") or []) >= count


async def quiet(jobs: Jobs) -> None:
    """Wait until the worker runs nothing and every delivery it started has ended."""
    assert jobs.worker is not None
    async with asyncio.timeout(30):
        while jobs.worker.running:  # noqa: ASYNC110 - a job task ends right after its last send
            await asyncio.sleep(0.01)
    await jobs.worker.webhooks.flush(30)


def payload(seen: Seen) -> dict[str, Any]:
    return json.loads(seen.body)  # type: ignore[no-any-return]


# ----- deliveries -----


async def test_completed_delivery_is_signed_over_the_raw_body(
    hooked: tuple[Jobs, httpx.AsyncClient], site: Site
) -> None:
    jobs, client = hooked
    url = site.receiver("/hook-signed")
    webhook = {"url": url, "headers": {"X-Tenant": "acme"}}
    job_id = await submit(client, {**RED, "webhook": webhook})
    done = await state_where(jobs, job_id, delivered(1))

    [hit] = site.hits("/hook-signed")
    assert hit.method == "POST"
    assert hit.headers["content-type"] == "application/json"
    assert hit.headers["x-tenant"] == "acme"
    signature = hit.headers[HEADER.lower()]
    assert signature.startswith("t=")
    assert verify(SECRET, signature, hit.body)
    assert not verify("another-secret", signature, hit.body)
    assert not verify(SECRET, signature, hit.body + b" ")  # one byte more: refused
    timestamp = int(signature.split(",")[0][2:])
    assert abs(time.time() - timestamp) < 60

    body = payload(hit)
    assert set(body) == {"event", "job"}
    assert body["event"] == "completed"
    assert body["job"]["id"] == job_id
    assert body["job"]["status"] == "completed"
    assert body["job"]["result"]["contentType"] == "image/png"
    assert "webhook" not in body["job"]  # the hook's own headers are not echoed
    assert "request" not in body["job"]

    [outcome] = done["webhookDeliveries"]
    assert outcome["event"] == "completed"
    assert outcome["url"] == url
    assert (outcome["delivered"], outcome["attempts"], outcome["status"]) == (True, 1, 200)
    assert outcome["at"]
    status = (await client.get(f"/v1/jobs/{job_id}")).json()  # recorded where clients see it
    assert status["webhookDeliveries"] == done["webhookDeliveries"]


async def test_failing_receiver_is_retried_until_it_accepts(
    hooked: tuple[Jobs, httpx.AsyncClient], site: Site
) -> None:
    jobs, client = hooked
    url = site.receiver("/hook-flaky", statuses=[500, 503])
    job_id = await submit(client, {**RED, "webhook": {"url": url}})
    done = await state_where(jobs, job_id, delivered(1))

    hits = site.hits("/hook-flaky")
    assert len(hits) == 3
    assert len({hit.body for hit in hits}) == 1  # the same body each time
    for hit in hits:  # each attempt signed afresh, each valid
        assert verify(SECRET, hit.headers[HEADER.lower()], hit.body)
    [outcome] = done["webhookDeliveries"]
    assert (outcome["delivered"], outcome["attempts"], outcome["status"]) == (True, 3, 200)


async def test_delivery_gives_up_after_five_tries(hooked: tuple[Jobs, httpx.AsyncClient], site: Site) -> None:
    jobs, client = hooked
    url = site.receiver("/hook-down", statuses=[500] * 10)
    job_id = await submit(client, {**RED, "webhook": {"url": url}})
    done = await state_where(jobs, job_id, delivered(1))
    assert len(site.hits("/hook-down")) == 5
    [outcome] = done["webhookDeliveries"]
    assert (outcome["delivered"], outcome["attempts"], outcome["status"]) == (False, 5, 500)
    assert done["status"] == "completed"  # a lost webhook never fails the job


async def test_unreachable_receiver_is_recorded(hooked: tuple[Jobs, httpx.AsyncClient]) -> None:
    jobs, client = hooked
    job_id = await submit(client, {**RED, "webhook": {"url": "http://127.0.0.1:1/hook"}})
    done = await state_where(jobs, job_id, delivered(1))
    [outcome] = done["webhookDeliveries"]
    assert (outcome["delivered"], outcome["attempts"], outcome["status"]) == (False, 5, None)
    assert outcome["error"]


async def test_failed_job_sends_a_failed_event(hooked: tuple[Jobs, httpx.AsyncClient], site: Site) -> None:
    jobs, client = hooked
    url = site.receiver("/hook-failed")
    job_id = await submit(client, {**MISSING, "webhook": {"url": url}})
    done = await state_where(jobs, job_id, delivered(1))
    assert done["status"] == "failed"
    [hit] = site.hits("/hook-failed")
    assert verify(SECRET, hit.headers[HEADER.lower()], hit.body)
    body = payload(hit)
    assert body["event"] == "failed"
    assert body["job"]["status"] == "failed"
    assert body["job"]["error"]["code"] == "content_error"
    assert done["webhookDeliveries"][0]["event"] == "failed"


@pytest.mark.parametrize(
    ("events", "body", "expected"),
    [
        (["progress"], RED, ["progress"]),
        (["completed"], RED, ["completed"]),
        (["progress", "completed"], RED, ["progress", "completed"]),
        (["failed"], RED, []),  # completed: nothing to send
        (["completed"], MISSING, []),  # failed: nothing to send
        (["failed", "progress"], MISSING, ["progress", "failed"]),
    ],
)
async def test_events_filter_is_honoured(
    hooked: tuple[Jobs, httpx.AsyncClient],
    site: Site,
    events: list[str],
    body: dict[str, Any],
    expected: list[str],
) -> None:
    jobs, client = hooked
    path = f"/hook-filter-{uuid.uuid4().hex}"
    url = site.receiver(path)
    job_id = await submit(client, {**body, "webhook": {"url": url, "events": events}})
    await finished(jobs, job_id)
    await quiet(jobs)
    hits = site.hits(path)
    assert sorted(payload(h)["event"] for h in hits) == sorted(expected)
    for hit in hits:
        assert verify(SECRET, hit.headers[HEADER.lower()], hit.body)
        if payload(hit)["event"] == "progress":
            assert payload(hit)["job"]["status"] == "processing"
            assert payload(hit)["job"]["progress"]["percent"] == 10
    final = await jobs.get(job_id)
    assert final is not None
    recorded = final.get("webhookDeliveries") or []
    assert sorted(d["event"] for d in recorded) == sorted(expected)  # none lost to a race
    assert all(d["delivered"] for d in recorded)


async def test_job_without_webhook_sends_nothing(hooked: tuple[Jobs, httpx.AsyncClient]) -> None:
    jobs, client = hooked
    job_id = await submit(client, RED)
    await finished(jobs, job_id)
    await quiet(jobs)
    final = await jobs.get(job_id)
    assert final is not None
    assert "webhookDeliveries" not in final


# ----- sign / verify -----

BODY = b'{"event":"completed","job":{"id":"j1"}}'


def test_sign_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(b"s3cret", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign("s3cret", 1700000000, BODY) == f"t=1700000000,v1={expected}"


def test_verify_accepts_a_fresh_valid_signature() -> None:
    now = time.time()
    header = sign("s3cret", int(now), BODY)
    assert verify("s3cret", header, BODY)
    assert verify("s3cret", header, BODY, now=now + 299)
    assert verify("s3cret", header.replace(",", ", "), BODY)  # spaces after commas are tolerated


@pytest.mark.parametrize(
    ("secret", "body", "shift_s"),
    [
        ("s3cret", BODY.replace(b"j1", b"j2"), 0),  # tampered body
        ("s3cret", BODY + b"\n", 0),  # re-serialized body: one byte differs
        ("wrong", BODY, 0),  # wrong secret
        ("s3cret", BODY, 301),  # stale: a replay after the tolerance
        ("s3cret", BODY, -301),  # from the future
    ],
)
def test_verify_refuses(secret: str, body: bytes, shift_s: int) -> None:
    t = 1_700_000_000
    header = sign("s3cret", t, BODY)
    assert not verify(secret, header, body, now=t + shift_s)


def test_verify_refuses_a_replayed_timestamp_swap() -> None:
    t = 1_700_000_000
    header = sign("s3cret", t, BODY)
    forged = header.replace(f"t={t}", f"t={t + 100}")  # new timestamp, old MAC
    assert not verify("s3cret", forged, BODY, now=t + 100)


@pytest.mark.parametrize(
    "header",
    ["", "garbage", "t=abc,v1=00", "v1=00", "t=1700000000", "t=1700000000,v1=é", "t=1700000000,v1=ü" * 3],
)
def test_verify_refuses_malformed_headers_without_raising(header: str) -> None:
    assert not verify("s3cret", header, BODY, now=1_700_000_000)


def test_verify_tolerance_is_configurable() -> None:
    t = 1_700_000_000
    header = sign("s3cret", t, BODY)
    assert not verify("s3cret", header, BODY, now=t + 30, tolerance_s=10)
    assert verify("s3cret", header, BODY, now=t + 30, tolerance_s=60)
