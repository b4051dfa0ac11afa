"""Jobs across real processes: ``pagecast worker`` / ``pagecast serve`` subprocesses sharing a real
redis-server, killed, drained and restarted for real.

The test itself only submits jobs and awaits their terminal state through the job's event
stream (``Jobs.updates``), or over HTTP; it never renders. Subprocess readiness is polled with
short timeouts (a child's port has no event), everything else is awaited.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import redis
from redis.asyncio import Redis

from pagecast.jobs.models import PRIORITIES, JobOptions
from pagecast.jobs.queue import GROUP, heartbeat_key, stream
from pagecast.jobs.runtime import Jobs
from pagecast.models import ScreenshotRequest
from tests.conftest import close_to, image, make_settings, pixel
from tests.jobs.conftest import finished
from tests.redis_process import RedisProcess, free_port
from tests.site import Site

PAGECAST = [sys.executable, "-m", "pagecast"]
GREEN = ScreenshotRequest(
    html="<body style='margin:0;background:#0f0'></body>", viewport={"width": 64, "height": 48}
)


def _env(**extra: str) -> dict[str, str]:
    # The developer's PAGECAST_* / REDIS_URL must not change what is tested.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAGECAST_") and k != "REDIS_URL"}
    return {**env, "PAGECAST_LOG_LEVEL": "info", **extra}


class Processes:
    """Pagecast subprocesses of one test; whatever is left (and its Chromium) is killed at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.logs: dict[int, Path] = {}
        self.started: list[asyncio.subprocess.Process] = []
        self.orphans: list[psutil.Process] = []  # children of a process this test SIGKILLed

    async def start(self, name: str, *args: str, env: dict[str, str],
                    new_session: bool = False) -> asyncio.subprocess.Process:  # fmt: skip
        log = self.tmp_path / f"{name}.log"
        with log.open("wb") as sink:
            process = await asyncio.create_subprocess_exec(
                *PAGECAST, *args, stdin=asyncio.subprocess.DEVNULL, stdout=sink,
                stderr=asyncio.subprocess.STDOUT, env=_env(**env), start_new_session=new_session,
            )  # fmt: skip
        self.logs[process.pid] = log
        self.started.append(process)
        return process

    async def worker(self, name: str, redis_url: str, **env: str) -> tuple[asyncio.subprocess.Process, str]:
        """A ``pagecast worker`` with one render slot, and the URL of its health port.

        With no ``redis_url`` it is given none: it joins a local serve's embedded Redis."""
        port = free_port()
        settings = {
            **({"PAGECAST_REDIS_URL": redis_url} if redis_url else {}),
            "PAGECAST_MAX_CONCURRENCY": "1",
            "PAGECAST_SPARE_SLOTS": "0",
            "PAGECAST_SERVICE_ID": name,
            "PAGECAST_DATA_DIR": str(self.tmp_path / "data"),
            **env,
        }
        process = await self.start(name, "worker", "--health-port", str(port), env=settings)
        return process, f"http://127.0.0.1:{port}/health"

    def log(self, process: asyncio.subprocess.Process) -> str:
        return self.logs[process.pid].read_text(errors="replace")

    def all_logs(self) -> str:
        return "\n".join(f"--- {p.pid}\n{self.log(p)}" for p in self.started)

    async def ready(self, process: asyncio.subprocess.Process, url: str, within_s: float = 60) -> None:
        """Poll ``url`` until it answers 200; fail early if the process exits meanwhile."""
        deadline = time.monotonic() + within_s
        async with httpx.AsyncClient(timeout=1) as client:
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(url)).status_code == 200:
                        return
                with contextlib.suppress(TimeoutError):  # the poll interval, which also sees an exit
                    await asyncio.wait_for(process.wait(), 0.1)
                    pytest.fail(f"exited with {process.returncode}:\n{self.log(process)}")
        pytest.fail(f"not ready within {within_s}s:\n{self.log(process)}")

    def sigkill(self, process: asyncio.subprocess.Process) -> None:
        """SIGKILL the process alone, as the OOM killer would; its browser is reaped at the end."""
        with contextlib.suppress(psutil.NoSuchProcess):
            self.orphans += psutil.Process(process.pid).children(recursive=True)
        process.kill()

    async def close(self) -> None:
        for process in self.started:
            if process.returncode is None:
                self.sigkill(process)
                await process.wait()
        for orphan in self.orphans:
            with contextlib.suppress(psutil.NoSuchProcess):
                orphan.kill()
        await asyncio.to_thread(psutil.wait_procs, self.orphans, 10)


@pytest.fixture
async def processes(tmp_path: Path) -> AsyncIterator[Processes]:
    running = Processes(tmp_path)
    yield running
    await running.close()


@pytest.fixture
async def api(redis_client: Redis, redis_server: RedisProcess) -> AsyncIterator[Jobs]:
    """The submitting side only: no renderer, no worker, like an API-only instance."""
    runtime = Jobs(make_settings(redis_url=redis_server.url), None, run_worker=False)
    await runtime.start()
    yield runtime
    await runtime.stop()


def _unique(name: str) -> str:
    return f"/{name}-{uuid.uuid4().hex[:8]}.png"


def _pinging(site: Site, path: str, wait_ms: int) -> ScreenshotRequest:
    """A render that requests ``path`` from the test site as it loads, then holds ``wait_ms``."""
    site.add(path, b"", "image/png")
    return ScreenshotRequest(
        html=f'<body style="margin:0;background:#0f0"><img src="{site.url(path)}"></body>',
        viewport={"width": 64, "height": 48}, waitFor=wait_ms,
    )  # fmt: skip


async def _queue_is_empty(client: Redis) -> None:
    """Every entry was acknowledged and deleted: nothing will run again."""
    for priority in PRIORITIES:
        assert await client.xlen(stream(priority)) == 0
        assert (await client.xpending(stream(priority), GROUP))["pending"] == 0


async def _done(api: Jobs, job_id: str, processes: Processes, timeout_s: float) -> dict[str, Any]:
    try:
        return await finished(api, job_id, timeout_s)
    except TimeoutError:
        pytest.fail(f"job {job_id} not finished within {timeout_s}s: {await api.get(job_id)}\n"
                    f"{processes.all_logs()}")  # fmt: skip


async def test_sigkilled_worker_job_is_reclaimed_by_another_worker(
    api: Jobs, redis_client: Redis, redis_server: RedisProcess, site: Site, processes: Processes
) -> None:
    first, _ = await processes.worker("worker-a", redis_server.url)
    path = _unique("killed")
    record, _ = await api.submit(JobOptions(kind="render"), _pinging(site, path, 2_000))
    await asyncio.to_thread(site.wait_for_hits, path, 1, 60)  # worker-a is rendering it
    processes.sigkill(first)
    killed_at = time.time()  # wall clock, to compare with the job's startedAt
    await first.wait()
    assert (await api.get(record["id"]) or {})["status"] == "processing"  # and stays so, orphaned

    # The rescuer starts now; it boots while worker-a's heartbeat runs out.
    second, _ = await processes.worker("worker-b", redis_server.url)
    done = await _done(api, record["id"], processes, timeout_s=30)
    assert done["status"] == "completed", done
    assert done["attempts"] == 2
    # Heartbeat TTL 10 s, a sweep every 3 s: the job started again within the spec's 15 s.
    restarted = datetime.fromisoformat(done["startedAt"].replace("Z", "+00:00")).timestamp()
    assert restarted - killed_at < 15
    assert done["error"] is None
    assert len(site.hits(path)) == 2  # one render per attempt, the second one finished
    data = await api.store.result(record["id"]) if api.store else None
    assert data is not None
    assert len(data) == done["result"]["size"]
    assert close_to(pixel(data, 60, 3), (0, 255, 0, 255))
    await _queue_is_empty(redis_client)
    assert "reclaimed job " + record["id"] in processes.log(second)
    # The dead consumer is gone from the group; the rescuer is still there and beating.
    consumers = {c["name"].decode() for c in await redis_client.xinfo_consumers(stream("normal"), GROUP)}
    assert not any(name.startswith("worker-a") for name in consumers)
    assert await redis_client.keys(heartbeat_key("worker-b*"))


async def test_sigterm_drains_the_running_job_and_leaves_the_queue_to_others(
    api: Jobs, redis_server: RedisProcess, site: Site, processes: Processes
) -> None:
    grace_s = 10.0
    draining, health = await processes.worker(
        "drained", redis_server.url, PAGECAST_DRAIN_GRACE_S=str(grace_s)
    )
    path = _unique("drain")
    running, _ = await api.submit(JobOptions(kind="render"), _pinging(site, path, 2_000))
    await asyncio.to_thread(site.wait_for_hits, path, 1, 60)
    waiting, _ = await api.submit(JobOptions(kind="render"), GREEN)  # behind it: one slot only
    async with httpx.AsyncClient() as client:
        assert (await client.get(health)).json()["capacity"]["jobsRunning"] == 1

    draining.send_signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    try:
        returncode = await asyncio.wait_for(draining.wait(), grace_s + 5)
    except TimeoutError:
        pytest.fail(f"worker still running {grace_s + 5}s after SIGTERM:\n{processes.log(draining)}")
    assert returncode == 0, processes.log(draining)
    assert time.monotonic() - stopped_at < grace_s
    assert "draining" in processes.log(draining)

    drained = await api.get(running["id"])
    assert drained is not None
    assert drained["status"] == "completed", drained  # finished before the process exited
    assert drained["attempts"] == 1
    left = await api.get(waiting["id"])
    assert left is not None
    assert (left["status"], left["attempts"]) == ("pending", 0)  # never taken by the drained worker
    assert len(site.hits(path)) == 1

    await processes.worker("after-drain", redis_server.url)
    done = await _done(api, waiting["id"], processes, timeout_s=60)
    assert done["status"] == "completed", done
    assert done["attempts"] == 1


async def test_redis_restart_loses_no_queued_job(
    api: Jobs, redis_server: RedisProcess, processes: Processes
) -> None:
    submitted = []
    for n in range(5):
        colour = ScreenshotRequest(html=f"<body style='margin:0;background:#{n * 40:02x}0000'></body>",
                                   viewport={"width": 32, "height": 32})  # fmt: skip
        record, _ = await api.submit(JobOptions(kind="render", priority=PRIORITIES[n % 3]), colour)
        submitted.append((record["id"], n * 40))

    redis_server.kill()  # a crash, not even a clean shutdown: appendfsync always kept every write
    try:
        assert not await api.healthy()
    finally:
        redis_server.start()  # same port, same directory: the AOF is replayed
    # The submitting side reconnects by itself, and keeps submitting.
    late, _ = await api.submit(JobOptions(kind="render"), GREEN)
    for job_id, _ in submitted:
        assert (await api.get(job_id) or {}).get("status") == "pending"

    await processes.worker("after-restart", redis_server.url)
    for job_id, red in submitted:
        done = await _done(api, job_id, processes, timeout_s=60)
        assert done["status"] == "completed", done
        assert done["attempts"] == 1
        data = await api.store.result(job_id) if api.store else None
        assert data is not None
        assert close_to(pixel(data, 3, 3), (red, 0, 0, 255))
    assert (await _done(api, late["id"], processes, timeout_s=30))["status"] == "completed"


async def test_api_only_instance_serves_sync_renders_through_a_worker_process(
    api: Jobs, redis_server: RedisProcess, processes: Processes, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = await processes.start(
        "api-only", "serve", "--no-worker",
        env={"PAGECAST_REDIS_URL": redis_server.url, "PAGECAST_PORT": str(port),
             "PAGECAST_DATA_DIR": str(tmp_path / "data")},
    )  # fmt: skip
    worker, worker_health = await processes.worker("remote", redis_server.url)
    await processes.ready(server, f"{base}/health/ready")
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        health = (await client.get("/health")).json()
        assert health["checks"]["browser"]["status"] == "remote"
        assert health["checks"]["redis"]["status"] == "up"
        assert health["status"] == "healthy"
        assert "jobsRunning" not in health["capacity"]  # no worker in this process

        r = await client.post("/v1/render", json={"html": "<body style='margin:0;background:#00f'></body>",
                                                  "viewport": {"width": 120, "height": 90}})  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "image/png"
        assert image(r.content).size == (120, 90)
        assert close_to(pixel(r.content, 60, 45), (0, 0, 255, 255))

        r = await client.post("/v1/render", json={"html": "<p>x</p>", "selector": "#absent"})
        assert r.status_code == 422, r.text  # the worker's error comes back as the sync error
        assert r.json()["error"]["code"] == "content_error"

    server_process = psutil.Process(server.pid)
    assert not [p for p in server_process.children(recursive=True) if "chrom" in p.name()]
    await processes.ready(worker, worker_health)  # it did the renders: it is up


async def _sse_until_terminal(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    state: dict[str, Any] = {}
    async with client.stream("GET", f"/v1/jobs/{job_id}/events") as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        async for line in events.aiter_lines():
            if line.startswith("data: "):
                state = json.loads(line.removeprefix("data: "))
                if state["status"] in ("completed", "failed", "cancelled"):
                    break
    return state


async def test_serve_without_a_redis_url_runs_its_own_redis_and_stops_it(
    processes: Processes, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data_dir = tmp_path / "data"
    server = await processes.start(
        "embedded", "serve",
        env={"PAGECAST_PORT": str(port), "PAGECAST_DATA_DIR": str(data_dir),
             "PAGECAST_MAX_CONCURRENCY": "1", "PAGECAST_SPARE_SLOTS": "0"},
    )  # fmt: skip
    await processes.ready(server, f"{base}/health/ready")
    socket_file = data_dir / "redis" / "redis.sock"
    assert socket_file.is_socket()
    children = psutil.Process(server.pid).children()
    redis_children = [p for p in children if p.name() == "redis-server"]
    assert len(redis_children) == 1, children
    embedded = redis_children[0]
    assert not [c for c in embedded.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]

    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        assert (await client.get("/health")).json()["checks"]["redis"]["status"] == "up"
        r = await client.post("/v1/jobs", json={"kind": "render", "html": "<p>embedded</p>",
                                                "viewport": {"width": 100, "height": 50}})  # fmt: skip
        assert r.status_code == 202, r.text
        job_id = r.json()["jobId"]
        async with asyncio.timeout(60):
            done = await _sse_until_terminal(client, job_id)
        assert done["status"] == "completed", done
        r = await client.get(f"/v1/jobs/{job_id}/result")
        assert r.status_code == 200
        assert image(r.content).size == (100, 50)

    server.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status says why.
    assert await asyncio.wait_for(server.wait(), 30) in (0, -signal.SIGTERM), processes.log(server)
    with contextlib.suppress(psutil.NoSuchProcess):
        assert embedded.status() == psutil.STATUS_ZOMBIE  # only if init has not reaped it yet
    assert not socket_file.exists()
    assert any(p.name.startswith("appendonly") for p in (data_dir / "redis").rglob("*"))


async def test_worker_rides_out_a_redis_outage(
    api: Jobs, redis_server: RedisProcess, site: Site, processes: Processes
) -> None:
    worker, health = await processes.worker("survivor", redis_server.url)
    await processes.ready(worker, health)
    path = _unique("outage")
    record, _ = await api.submit(JobOptions(kind="render"), _pinging(site, path, 1_000))
    await asyncio.to_thread(site.wait_for_hits, path, 1, 30)
    redis_server.kill()
    # Longer than the clients' reconnect retries: the render ends while Redis is away, and
    # its bookkeeping fails; the worker resumes the job (pending on it) once Redis is back.
    await asyncio.sleep(2.5)
    redis_server.start()
    done = await _done(api, record["id"], processes, 30)
    assert done["status"] == "completed", done
    assert done["attempts"] <= 2
    assert await api.result(record["id"]) is not None

    # Cancellation reaches the worker through a subscription, which had to reconnect too.
    path = _unique("cancel-after-outage")
    record, _ = await api.submit(JobOptions(kind="render"), _pinging(site, path, 20_000))
    await asyncio.to_thread(site.wait_for_hits, path, 1, 30)
    await api.cancel(record["id"])
    async with httpx.AsyncClient() as client:
        deadline = time.monotonic() + 5
        while (await client.get(health)).json()["capacity"]["jobsRunning"]:
            assert time.monotonic() < deadline, "the cancelled job still holds its slot"
            await asyncio.sleep(0.05)  # the slot is freed in another process: nothing to await
    done = await _done(api, (await api.submit(JobOptions(kind="render"), GREEN))[0]["id"], processes, 10)
    assert done["status"] == "completed", done


async def test_ctrl_c_drains_while_the_embedded_redis_stays_up(
    processes: Processes, site: Site, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data_dir = tmp_path / "data"
    server = await processes.start(
        "ctrl-c", "serve", new_session=True,  # its own process group, as in a terminal
        env={"PAGECAST_PORT": str(port), "PAGECAST_DATA_DIR": str(data_dir),
             "PAGECAST_MAX_CONCURRENCY": "1", "PAGECAST_SPARE_SLOTS": "0"},
    )  # fmt: skip
    await processes.ready(server, f"{base}/health/ready")
    path = _unique("ctrl-c")
    body = _pinging(site, path, 1_500).model_dump(mode="json", by_alias=True, exclude_defaults=True)
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        r = await client.post("/v1/jobs", json={"kind": "render", **body})
        assert r.status_code == 202, r.text
    job_id = r.json()["jobId"]
    await asyncio.to_thread(site.wait_for_hits, path, 1, 30)

    (embedded,) = [p for p in psutil.Process(server.pid).children() if p.name() == "redis-server"]
    os.killpg(server.pid, signal.SIGINT)  # Ctrl-C: the whole foreground process group
    assert await asyncio.wait_for(server.wait(), 30) in (0, -signal.SIGINT), processes.log(server)
    assert "connecting to" not in processes.log(server)  # Redis outlived the drain
    with contextlib.suppress(psutil.NoSuchProcess):  # and serve stopped it after
        assert embedded.status() == psutil.STATUS_ZOMBIE
    # The job's completion is in the embedded server's AOF: replay it in a server of our own.
    replay = RedisProcess(data_dir / "redis")
    replay.start()
    try:
        saved = redis.Redis.from_url(replay.url)
        record = {k.decode(): json.loads(v) for k, v in saved.hgetall(f"pagecast:job:{job_id}").items()}
        saved.close()
    finally:
        replay.stop()
    assert record["status"] == "completed", record
    assert record["attempts"] == 1


async def test_worker_without_a_url_joins_the_embedded_redis_of_serve(
    processes: Processes, tmp_path: Path
) -> None:
    """Zero configuration on one machine: an API-only serve owns Redis, workers join it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data_dir = tmp_path / "data"
    server = await processes.start(
        "api-embedded", "serve", "--no-worker",
        env={"PAGECAST_PORT": str(port), "PAGECAST_DATA_DIR": str(data_dir)},
    )  # fmt: skip
    await processes.ready(server, f"{base}/health/ready")
    worker, health = await processes.worker("joiner", "", PAGECAST_DATA_DIR=str(data_dir))
    await processes.ready(worker, health)
    assert not [p for p in psutil.Process(worker.pid).children() if p.name() == "redis-server"]
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        r = await client.post(
            "/v1/render", json={"html": "<p>joined</p>", "viewport": {"width": 80, "height": 60}}
        )
        assert r.status_code == 200, r.text
        assert image(r.content).size == (80, 60)

        # A second serve on the same data dir must not take over the socket of the first.
        intruder = await processes.start(
            "intruder", "serve", "--no-worker",
            env={"PAGECAST_PORT": str(free_port()), "PAGECAST_DATA_DIR": str(data_dir)},
        )  # fmt: skip
        assert await asyncio.wait_for(intruder.wait(), 30) != 0
        assert "already answers on" in processes.log(intruder)
        r = await client.post("/v1/render", json={"html": "<p>still</p>"})
        assert r.status_code == 200, r.text
