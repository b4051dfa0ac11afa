"""Job tests run against a real redis-server started here, flushed before each test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from redis.asyncio import Redis

from pagecast.jobs.runtime import Jobs
from pagecast.renderer import Renderer
from tests.conftest import make_settings
from tests.redis_process import RedisProcess


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    server = RedisProcess(Path(tmp_path_factory.mktemp("redis")))
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def redis_client(redis_server: RedisProcess) -> AsyncIterator[Redis]:
    sync = redis.Redis.from_url(redis_server.url)
    sync.flushall()
    sync.close()
    client = Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture
async def jobs(renderer: Renderer, redis_client: Redis, redis_server: RedisProcess) -> AsyncIterator[Jobs]:
    """A Jobs runtime with an in-process worker on the session's warm renderer."""
    settings = make_settings(redis_url=redis_server.url, retry_base_s=0.05, drain_grace_s=5)
    runtime = Jobs(settings, renderer, run_worker=True)
    await runtime.start()
    yield runtime
    await runtime.stop()


async def finished(jobs: Jobs, job_id: str, timeout_s: float = 60) -> dict[str, Any]:
    """The job's terminal state, awaited through its event stream (no polling)."""
    final: dict[str, Any] = {}
    async with asyncio.timeout(timeout_s):
        async for state in jobs.updates(job_id):
            final = state
    return final


async def submit(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    r = await client.post("/v1/jobs", json=body)
    assert r.status_code == 202, r.text
    return str(r.json()["jobId"])
