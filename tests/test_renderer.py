"""Crash recovery and runaway renders: the failing request fails alone, the service stays up."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator

import psutil
import pytest

from pagecast.errors import BrowserUnavailable, PageCrashed, RenderTimeout
from pagecast.models import ScreenshotRequest
from pagecast.renderer import Renderer
from tests.conftest import close_to, make_settings, pixel
from tests.site import Site

SIMPLE = ScreenshotRequest(html="<body style='margin:0;background:#0000ff'></body>")


@pytest.fixture
async def fresh() -> AsyncIterator[Renderer]:
    r = Renderer(make_settings(max_concurrency=2, page_max_memory_mb=256, monitor_interval_ms=100))
    await r.start()
    yield r
    await r.stop()


async def assert_serves(r: Renderer) -> None:
    artifact = await r.render(SIMPLE)
    assert close_to(pixel(artifact.data, 1, 1), (0, 0, 255, 255))


def slow_page(site: Site, name: str) -> ScreenshotRequest:
    """A page that pings the site when it is loading, then keeps the render busy for a while."""
    site.add(f"/{name}.png", b"", "image/png")
    return ScreenshotRequest(html=f'<img src="{site.url(f"/{name}.png")}">', waitFor=2_000, timeout=10_000)


async def test_browser_killed_mid_render_is_relaunched_and_render_retried(
    fresh: Renderer, site: Site
) -> None:
    pid = fresh.pool.browser_pid
    assert pid is not None
    render = asyncio.create_task(fresh.render(slow_page(site, "kill-once")))
    await asyncio.to_thread(site.wait_for_hits, "/kill-once.png", 1)
    os.kill(pid, signal.SIGKILL)
    artifact = await render  # retried once on the new browser
    assert artifact.width == 1280
    assert len(site.hits("/kill-once.png")) == 2
    assert fresh.pool.browser_launches == 2
    assert fresh.pool.browser_pid not in (None, pid)
    await assert_serves(fresh)
    assert fresh.pool.ready


async def test_browser_killed_twice_fails_cleanly_with_503(fresh: Renderer, site: Site) -> None:
    render = asyncio.create_task(fresh.render(slow_page(site, "kill-twice")))
    for attempt in (1, 2):
        await asyncio.to_thread(site.wait_for_hits, "/kill-twice.png", attempt)
        pid = fresh.pool.browser_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
    with pytest.raises(BrowserUnavailable) as failure:
        await render
    assert failure.value.status == 503
    await assert_serves(fresh)


async def test_infinite_loop_times_out_while_others_are_served(fresh: Renderer) -> None:
    loop = ScreenshotRequest(html="<script>while (true) {}</script>", timeout=1_500)
    runaway = asyncio.create_task(fresh.render(loop))
    await assert_serves(fresh)  # the other slot keeps working meanwhile
    with pytest.raises(RenderTimeout) as failure:
        await runaway
    assert failure.value.status == 504
    await assert_serves(fresh)


async def test_endless_network_times_out(fresh: Renderer, site: Site) -> None:
    url = site.add("/never", "", hang=True)
    with pytest.raises(RenderTimeout) as failure:
        await fresh.render(ScreenshotRequest(url=url, timeout=1_500))
    assert "loading" in failure.value.message
    await assert_serves(fresh)


async def test_js_heap_memory_bomb_is_cut(fresh: Renderer) -> None:
    bomb = "<script>const a = []; while (true) a.push(new Array(1e6).fill(1.5));</script>"
    with pytest.raises((PageCrashed, RenderTimeout)) as failure:
        await fresh.render(ScreenshotRequest(html=bomb, timeout=20_000))
    assert failure.value.status == 504
    await assert_serves(fresh)


async def test_buffer_memory_bomb_is_killed_by_the_watchdog(fresh: Renderer) -> None:
    # ArrayBuffers live outside V8's heap cap; the watchdog kills the renderer past 256 MB.
    grow = "const a = []; for (;;) { const b = new Uint8Array(32 << 20); b.fill(7); a.push(b); }"
    bomb = f"<script>{grow}</script>"
    with pytest.raises(PageCrashed) as failure:
        await fresh.render(ScreenshotRequest(html=bomb, timeout=20_000))
    assert failure.value.status == 504
    process = fresh.pool._browser.process() if fresh.pool._browser else None
    assert process is not None
    assert psutil.pid_exists(process.pid)  # the browser itself lives on
    await assert_serves(fresh)
