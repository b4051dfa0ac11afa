"""Render benchmark: pagecast over HTTP vs a naive baseline vs the raw-CDP floor, in one run.

    .venv/bin/python benchmarks/render_bench.py [--requests 300] [--soak 5000]

All three paths render the same simple HTML page to a 1280x720 PNG on the same machine in the
same run, so the ratios hold even on a noisy shared host:

* pagecast: ``pagecast serve`` as a subprocess, driven over HTTP with httpx;
* naive: one browser, a new context + page per render (what most services do);
* raw-CDP floor: warm pages, a navigation and ``Page.captureScreenshot`` straight over CDP,
  no HTTP, no isolation scrub: the most this browser can do.

Memory is PSS of the server process and its Chromium tree (shared pages split fairly).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import psutil
from playwright.async_api import Browser, async_playwright

from pagecast.browser.launcher import chromium_args

HTML = (
    "<!doctype html><html><head><style>body{font-family:sans-serif;margin:40px;background:#f4f4f8}"
    "h1{color:#335}</style></head><body><h1>pagecast benchmark</h1><p>A simple page with some text,"
    " a heading and a coloured box.</p><div style='width:200px;height:100px;background:#c33'></div>"
    "</body></html>"
)
CHROMIUM = os.environ.get("PAGECAST_CHROMIUM_PATH", "/usr/lib/chromium/chromium")


def summary(latencies: list[float], elapsed: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "p50": statistics.median(ordered) * 1000,
        "p95": ordered[int(len(ordered) * 0.95) - 1] * 1000,
        "rps": len(ordered) / elapsed,
    }


async def drive(render: Callable[[], Awaitable[None]], requests: int, concurrency: int) -> dict[str, float]:
    for _ in range(min(20, requests)):  # warm-up, not measured
        await render()
    latencies: list[float] = []
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            await render()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return summary(latencies, time.perf_counter() - started)


def tree_pss_mb(pid: int) -> float:
    root = psutil.Process(pid)
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_full_info().pss
        except psutil.Error:
            continue
    return total / 2**20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, concurrency: int) -> None:
        self.port = free_port()
        env = {**os.environ, "PAGECAST_PORT": str(self.port), "PAGECAST_MAX_CONCURRENCY": str(concurrency),
               "PAGECAST_LOG_LEVEL": "warning"}  # fmt: skip
        exe = Path(sys.executable).with_name("pagecast")
        self.process = subprocess.Popen([str(exe), "serve"], env=env)
        self.url = f"http://127.0.0.1:{self.port}"

    async def ready(self, client: httpx.AsyncClient) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"{self.url}/health/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)  # polling a readiness probe of another process
        raise RuntimeError("server did not become ready")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


async def bench_pagecast(requests: int, soak: int) -> dict[str, object]:
    server = Server(concurrency=8)
    results: dict[str, object] = {}
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    try:
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:
            await server.ready(client)
            body = {"html": HTML, "viewport": {"width": 1280, "height": 720}}

            async def render() -> None:
                response = await client.post(f"{server.url}/v1/render", json=body)
                response.raise_for_status()

            await asyncio.sleep(2)  # let start-up settle before reading idle memory
            results["idle_mb"] = tree_pss_mb(server.process.pid)
            results["c1"] = await drive(render, requests, 1)
            results["c8"] = await drive(render, requests * 2, 8)
            if soak:
                before = tree_pss_mb(server.process.pid)
                await drive(render, soak, 8)
                after = tree_pss_mb(server.process.pid)
                results["soak"] = {"renders": soak, "before_mb": before, "after_mb": after}
    finally:
        server.stop()
    return results


async def launch(p: object) -> Browser:
    chromium = p.chromium  # type: ignore[attr-defined]
    browser: Browser = await chromium.launch(
        executable_path=CHROMIUM, args=chromium_args([], heap_mb=1024), chromium_sandbox=False
    )
    return browser


async def bench_naive(requests: int) -> dict[str, object]:
    async with async_playwright() as p:
        browser = await launch(p)

        async def render() -> None:
            context = await browser.new_context(viewport={"width": 1280, "height": 720})
            page = await context.new_page()
            await page.set_content(HTML)
            await page.screenshot(type="png")
            await context.close()

        results = {"c1": await drive(render, requests // 3, 1), "c8": await drive(render, requests // 2, 8)}
        await browser.close()
    return results


async def bench_floor(requests: int) -> dict[str, object]:
    async with async_playwright() as p:
        browser = await launch(p)
        idle: asyncio.Queue[object] = asyncio.Queue()
        url = "data:text/html;charset=utf-8," + HTML.replace("#", "%23")
        for _ in range(8):
            # A context (window) per page: a background tab of a shared window never paints.
            context = await browser.new_context(viewport={"width": 1280, "height": 720})
            page = await context.new_page()
            session = await context.new_cdp_session(page)
            await session.send("Page.enable")
            idle.put_nowait((page, session))

        async def render() -> None:
            page, session = await idle.get()  # type: ignore[misc]
            await page.goto(url, wait_until="load")
            try:
                await session.send("Page.captureScreenshot", {"format": "png"})
            except Exception:  # no frame yet after the navigation: same retry as pagecast's
                await page.evaluate("() => new Promise(r => requestAnimationFrame(r))")
                await session.send("Page.captureScreenshot", {"format": "png"})
            idle.put_nowait((page, session))

        results = {"c1": await drive(render, requests, 1), "c8": await drive(render, requests * 2, 8)}
        await browser.close()
    return results


def row(name: str, stats: dict[str, float]) -> str:
    return f"| {name} | {stats['p50']:.1f} | {stats['p95']:.1f} | {stats['rps']:.1f} |"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument(
        "--soak", type=int, default=5000, help="renders for the memory-growth check (0: skip)"
    )
    args = parser.parse_args()

    floor = await bench_floor(args.requests)
    naive = await bench_naive(args.requests)
    ours = await bench_pagecast(args.requests, args.soak)

    print(f"\nmachine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, {CHROMIUM}")
    print("\n| path | p50 ms | p95 ms | renders/s |\n|---|---|---|---|")
    for label, results in (("pagecast (HTTP)", ours), ("naive new context", naive), ("raw-CDP floor", floor)):
        for c in ("c1", "c8"):
            print(row(f"{label}, concurrency {c[1:]}", results[c]))  # type: ignore[arg-type]
    c8_ratio = ours["c8"]["rps"] / floor["c8"]["rps"]  # type: ignore[index]
    print(f"\npagecast / floor at concurrency 8: {c8_ratio:.2f}")
    print(f"pagecast / naive at concurrency 8: {ours['c8']['rps'] / naive['c8']['rps']:.2f}")  # type: ignore[index]
    print(f"idle memory (server + Chromium, PSS): {ours['idle_mb']:.0f} MB")
    if "soak" in ours:
        soak = ours["soak"]
        growth = (soak["after_mb"] / soak["before_mb"] - 1) * 100  # type: ignore[index]
        print(f"memory over {soak['renders']} renders: {soak['before_mb']:.0f} -> {soak['after_mb']:.0f} MB "  # type: ignore[index]
              f"({growth:+.1f} %)")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
