"""Admission control and recycling of the browser pool."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import psutil
import pytest

from pagecast.api import create_app
from pagecast.models import ScreenshotRequest
from pagecast.renderer import Renderer
from tests.conftest import make_settings
from tests.site import Site

SIMPLE = ScreenshotRequest(html="<p>hi</p>", viewport={"width": 100, "height": 100})


async def started(**overrides: object) -> Renderer:
    r = Renderer(make_settings(**overrides))
    await r.start()
    return r


@pytest.fixture
async def single() -> AsyncIterator[Renderer]:
    r = await started(max_concurrency=1, spare_slots=0, max_queue=1)
    yield r
    await r.stop()


def busy_page(site: Site, name: str, hold_ms: int) -> dict[str, object]:
    site.add(f"/{name}.png", b"", "image/png")
    return {"html": f'<img src="{site.url(f"/{name}.png")}">', "waitFor": hold_ms}


async def test_full_queue_answers_429_with_retry_after(single: Renderer, site: Site) -> None:
    app = create_app(single.settings, single)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        running = asyncio.create_task(client.post("/v1/render", json=busy_page(site, "q-run", 1500)))
        await asyncio.to_thread(site.wait_for_hits, "/q-run.png")
        queued = asyncio.create_task(client.post("/v1/render", json={"html": "<p>queued</p>"}))
        while single.pool.queued < 1:  # noqa: ASYNC110 - yield until that task parks in the queue
            await asyncio.sleep(0)
        rejected = await client.post("/v1/render", json={"html": "<p>one too many</p>"})
        assert rejected.status_code == 429
        assert rejected.json()["error"]["code"] == "too_many_requests"
        assert int(rejected.headers["retry-after"]) >= 1
        assert (await running).status_code == 200
        assert (await queued).status_code == 200


async def test_time_in_queue_is_not_charged_to_the_render_timeout(single: Renderer, site: Site) -> None:
    running = asyncio.create_task(
        single.render(ScreenshotRequest.model_validate(busy_page(site, "q-hold", 1500)))
    )
    await asyncio.to_thread(site.wait_for_hits, "/q-hold.png")
    # Waits ~1.5 s for the slot, far beyond its own 1 s timeout, and still succeeds.
    artifact = await single.render(ScreenshotRequest(html="<p>patient</p>", timeout=1000))
    assert artifact.width == 1280
    await running


async def test_queue_wait_has_its_own_deadline(site: Site) -> None:
    r = await started(max_concurrency=1, spare_slots=0, queue_timeout_ms=300)
    try:
        running = asyncio.create_task(
            r.render(ScreenshotRequest.model_validate(busy_page(site, "q-dl", 1500)))
        )
        await asyncio.to_thread(site.wait_for_hits, "/q-dl.png")
        from pagecast.errors import BrowserUnavailable

        with pytest.raises(BrowserUnavailable) as failure:
            await r.render(SIMPLE)
        assert failure.value.status == 503
        assert failure.value.retry_after
        await running
    finally:
        await r.stop()


async def test_browser_recycled_after_n_renders_without_failing_requests() -> None:
    r = await started(browser_max_renders=4, monitor_interval_ms=50)
    try:
        first_pid = r.pool.browser_pid
        results = []
        for _ in range(6):
            results += await asyncio.gather(*(r.render(SIMPLE) for _ in range(3)))
        assert all(a.width == 100 for a in results)
        assert r.pool.browser_launches >= 2
        assert r.pool.browser_pid != first_pid
        # The retired browser is closed once its last slot is gone.
        for _ in range(200):
            if first_pid is None or not psutil.pid_exists(first_pid):
                break
            await asyncio.sleep(0.05)
        assert first_pid is not None
        assert not psutil.pid_exists(first_pid)
    finally:
        await r.stop()


async def test_browser_recycled_when_memory_passes_limit() -> None:
    r = await started(browser_max_memory_mb=64, monitor_interval_ms=50)
    try:
        results = []
        for _ in range(8):
            results += await asyncio.gather(*(r.render(SIMPLE) for _ in range(2)))
        assert all(a.width == 100 for a in results)
        assert r.pool.browser_launches >= 2
    finally:
        await r.stop()


async def test_no_browser_ui_renderers_beside_our_pages(renderer: Renderer) -> None:
    # New headless Chrome prewarms a WebUI omnibox popup per window (~45 MB each); the
    # launcher disables it. Any browser_ui target here is memory spent per slot for nothing.
    browser = renderer.pool._browser
    assert browser is not None
    session = await browser.browser.new_browser_cdp_session()
    targets = (await session.send("Target.getTargets", {"filter": [{}]}))["targetInfos"]
    await session.detach()
    assert [t["url"] for t in targets if t["type"] == "browser_ui"] == []
    assert sum(t["type"] == "page" for t in targets) == renderer.settings.pool_size
