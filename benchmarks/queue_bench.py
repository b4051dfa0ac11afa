"""Queue benchmark: what going through Redis adds to a sync render, and how fast workers drain a backlog.

    .venv/bin/python benchmarks/queue_bench.py [--renders 300] [--jobs 1000] [--workers 2]

(a) Added latency. The same simple page (``render_bench.HTML``, 1280x720 PNG) is rendered
``--renders`` times one at a time, alternately (i) by a local ``Renderer`` and (ii) through
``QueueRenderer`` (what ``serve --no-worker`` answers sync requests with: submit a high-priority
job, await its completion event, read the result) with an in-process ``Worker`` rendering on
that same ``Renderer``. Alternating pairs cancel most drift of a noisy host; the figure is the
difference of the p50s (and the median of per-pair differences). Redis is a real redis-server
started here (AOF, ``appendfsync everysec`` as the embedded one), reached over TCP loopback and
over a unix socket.

(b) Drain. ``--jobs`` small render jobs (the same page at 640x480) are queued with no worker
running; then ``--workers`` ``pagecast worker`` processes start (default concurrency each) and
the clock runs until the last job completed, counted from the jobs' own completion events.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psutil
import redis

from pagecast.capture import Artifact
from pagecast.jobs.models import JobOptions
from pagecast.jobs.runtime import Jobs, QueueRenderer
from pagecast.models import ScreenshotRequest
from pagecast.models.page import PageOptions
from pagecast.renderer import Renderer
from pagecast.settings import Settings, _default_concurrency
from render_bench import HTML  # the same page as the render benchmark


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A throwaway redis-server on loopback TCP and a unix socket, AOF on."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.socket = directory / "redis.sock"
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--unixsocket", str(self.socket), "--dir", str(directory), "--appendonly", "yes",
             "--appendfsync", "everysec", "--save", "", "--logfile", "redis.log"],
        )  # fmt: skip
        client = redis.Redis.from_url(self.tcp)
        deadline = time.monotonic() + 10
        while True:  # a child's port has no readiness event
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        client.close()

    @property
    def tcp(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def unix(self) -> str:
        return f"unix://{self.socket}"

    def flush(self) -> None:
        client = redis.Redis.from_url(self.tcp)
        client.flushall()
        client.close()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50": statistics.median(ordered) * 1000,
        "p95": ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000,
    }


async def timed(render: Callable[[PageOptions], Awaitable[Artifact]], request: PageOptions) -> float:
    started = time.perf_counter()
    await render(request)
    return time.perf_counter() - started


class InstantRenderer:
    """Stands in for the Renderer and answers at once: what is left is the queue's own cost."""

    def __init__(self, settings: Settings, artifact: Artifact) -> None:
        self.settings = settings
        self.artifact = artifact

    async def render(self, request: PageOptions) -> Artifact:
        return self.artifact


async def queued_renders(
    settings: Settings, renderer: Renderer | InstantRenderer
) -> tuple[Jobs, Callable[[PageOptions], Awaitable[Artifact]]]:
    """A started Jobs with an in-process worker on ``renderer``, and the API-only sync path."""
    jobs = Jobs(settings, renderer, run_worker=True)  # type: ignore[arg-type]  # duck-typed stand-in
    await jobs.start()
    return jobs, QueueRenderer(settings, jobs).render


async def bench_latency(server: RedisServer, renders: int) -> dict[str, dict[str, Any]]:
    base = Settings(max_concurrency=2, spare_slots=1, log_level="warning")
    renderer = Renderer(base)
    await renderer.start()
    request = ScreenshotRequest(html=HTML, viewport={"width": 1280, "height": 720})
    results: dict[str, dict[str, Any]] = {}
    try:
        for transport, url in (("tcp", server.tcp), ("unix", server.unix)):
            server.flush()
            settings = base.model_copy(update={"redis_url": url})
            jobs, through_queue = await queued_renders(settings, renderer)  # same pool renders
            try:
                for _ in range(20):  # warm-up, not measured
                    await renderer.render(request)
                    await through_queue(request)
                local: list[float] = []
                remote: list[float] = []
                for i in range(renders):
                    if i % 2:  # alternate which goes first, so neither always follows the other
                        local.append(await timed(renderer.render, request))
                        remote.append(await timed(through_queue, request))
                    else:
                        remote.append(await timed(through_queue, request))
                        local.append(await timed(renderer.render, request))
            finally:
                await jobs.stop()

            # The queue alone: the same sync path, with a worker whose "render" is instant.
            server.flush()
            artifact = await renderer.render(request)
            instant, through_queue = await queued_renders(settings, InstantRenderer(settings, artifact))
            try:
                for _ in range(50):
                    await through_queue(request)
                overhead = [await timed(through_queue, request) for _ in range(renders * 3)]
            finally:
                await instant.stop()
            results[transport] = {
                "direct": percentiles(local),
                "queue": percentiles(remote),
                "paired_p50": statistics.median(r - d for r, d in zip(remote, local, strict=True)) * 1000,
                "overhead": percentiles(overhead),
            }
    finally:
        await renderer.stop()
    return results


def start_worker(url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAGECAST_")}
    env.update(PAGECAST_REDIS_URL=url, PAGECAST_LOG_LEVEL="warning")
    exe = Path(sys.executable).with_name("pagecast")
    with log.open("ab") as sink:
        return subprocess.Popen([str(exe), "worker"], env=env, stdout=sink, stderr=subprocess.STDOUT)


async def bench_drain(server: RedisServer, count: int, workers: int, logs: Path) -> dict[str, Any]:
    server.flush()
    settings = Settings(redis_url=server.tcp, log_level="warning")
    api = Jobs(settings, None, run_worker=False)
    await api.start()
    assert api.redis is not None
    request = ScreenshotRequest(html=HTML, viewport={"width": 640, "height": 480})
    started = time.perf_counter()
    for _ in range(count):
        await api.submit(JobOptions(kind="render"), request)
    submit_s = time.perf_counter() - started

    completed: set[str] = set()
    failed: set[str] = set()
    processes: list[subprocess.Popen[bytes]] = []
    async with api.redis.pubsub() as pubsub:
        await pubsub.psubscribe("pagecast:events:*")  # every job's state changes, before any worker
        t0 = time.perf_counter()
        processes = [start_worker(server.tcp, logs / f"worker-{n}.log") for n in range(workers)]
        first = 0.0
        try:
            async with asyncio.timeout(900):
                async for message in pubsub.listen():
                    if message["type"] != "pmessage":
                        continue
                    state = json.loads(message["data"])
                    if state["status"] == "completed":
                        completed.add(state["id"])
                    elif state["status"] in ("failed", "cancelled"):
                        failed.add(state["id"])
                    else:
                        continue
                    first = first or time.perf_counter()
                    if len(completed) + len(failed) >= count:
                        break
            last = time.perf_counter()
        finally:
            for process in processes:
                process.terminate()  # SIGTERM: drains (nothing left) and exits
            for process in processes:
                process.wait(60)
    await api.stop()
    return {
        "jobs": count,
        "workers": workers,
        "submit_s": submit_s,
        "completed": len(completed),
        "failed": len(failed),
        "total_s": last - t0,
        "first_s": first - t0,
        "steady_s": last - first,
    }


def redis_version() -> str:
    version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, check=False)
    return version.stdout.split(" sha=")[0].strip()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--renders", type=int, default=300, help="sync renders per path in (a)")
    parser.add_argument("--jobs", type=int, default=1000, help="queued jobs drained in (b)")
    parser.add_argument("--workers", type=int, default=2, help="pagecast worker processes in (b)")
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server not found (make deps installs it)")

    load_before = os.getloadavg()[0]  # a shared host's noise, for the record
    with tempfile.TemporaryDirectory(prefix="pagecast-queue-bench-") as tmp:
        server = RedisServer(Path(tmp))
        try:
            latency = await bench_latency(server, args.renders)
            drain = await bench_drain(server, args.jobs, args.workers, Path(tmp))
        finally:
            server.stop()

    memory_gib = psutil.virtual_memory().total / 2**30
    print(f"\nmachine: {os.cpu_count()} cores, {memory_gib:.0f} GiB, load average {load_before:.1f} "
          f"before, {os.getloadavg()[0]:.1f} after; {redis_version()}")  # fmt: skip
    print(f"\n(a) sync render, one at a time, {args.renders} each, same page and browser pool\n")
    print("| path | p50 ms | p95 ms |\n|---|---|---|")
    for transport, stats in latency.items():
        if transport == "tcp":
            print(f"| in-process Renderer | {stats['direct']['p50']:.1f} | {stats['direct']['p95']:.1f} |")
        print(f"| through the queue (redis over {transport}) | {stats['queue']['p50']:.1f} | "
              f"{stats['queue']['p95']:.1f} |")  # fmt: skip
    for transport, stats in latency.items():
        print(f"| queue alone, instant worker (redis over {transport}) | {stats['overhead']['p50']:.2f} | "
              f"{stats['overhead']['p95']:.2f} |")  # fmt: skip
    print()
    for transport, stats in latency.items():
        added = stats["queue"]["p50"] - stats["direct"]["p50"]
        print(f"added at p50, redis over {transport}: {added:.2f} ms "
              f"(median of paired differences {stats['paired_p50']:.2f} ms; target <= 5 ms)")  # fmt: skip

    d = drain
    print(f"\n(b) drain {d['jobs']} queued render jobs (640x480 PNG) with {d['workers']} `pagecast worker` "
          f"processes, {_default_concurrency()} renders each at once (default)\n")  # fmt: skip
    print(f"submitted in {d['submit_s']:.2f} s ({d['jobs'] / d['submit_s']:.0f} jobs/s, one at a time)")
    print(f"completed {d['completed']}, failed {d['failed']}")
    print(f"drained in {d['total_s']:.1f} s from starting the workers: {d['jobs'] / d['total_s']:.1f} jobs/s")
    print(f"first completion after {d['first_s']:.1f} s (process + Chromium start); "
          f"then {(d['jobs'] - 1) / d['steady_s']:.1f} jobs/s steady")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
