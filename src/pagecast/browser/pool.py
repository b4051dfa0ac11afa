"""The browser pool: admission control, warm slots, crash recovery and recycling.

Flow of one request: ``lease()`` admits it (or answers 429 when the wait queue is full),
hands it an idle warm slot, and on exit gives the slot back *before* it is scrubbed, so the
client never waits for cleanup. There are ``max_concurrency + spare_slots`` slots, so while
one is being scrubbed or rebuilt another is already idle: in steady state no request waits
for a context or page to be created.

Every slot that is discarded (crashed, timed out, worn out, on an old browser) is replaced
by exactly one new slot, which keeps the slot count constant without bookkeeping. A dead
browser is relaunched by the first replacement that needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from playwright.async_api import Playwright, async_playwright

from pagecast.browser.launcher import BrowserProcess, launch
from pagecast.browser.memory import kill_oversized_renderers, tree_memory_mb
from pagecast.browser.slot import Slot
from pagecast.errors import BrowserUnavailable, PagecastError, QueueFull
from pagecast.settings import Settings

log = logging.getLogger(__name__)
RELAUNCH_BACKOFF_S = (0.1, 0.5, 1.0, 2.0, 5.0)


class BrowserPool:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._playwright: Playwright | None = None
        self._browser: BrowserProcess | None = None
        self._user_agent = ""
        self._launch_lock = asyncio.Lock()
        self._admission = asyncio.Semaphore(settings.max_concurrency)
        self._idle: asyncio.Queue[Slot] = asyncio.Queue()
        self._slots: set[Slot] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting = 0
        self._in_flight = 0
        self._stopping = False
        self.started_at = time.monotonic()
        self.browser_launches = 0
        self.renders = 0
        self._render_seconds = 0.0

    # ----- lifecycle -----

    async def start(self) -> None:
        self._playwright = await async_playwright().start()
        await self._current_browser()
        await asyncio.gather(*(self._add_slot() for _ in range(self.settings.pool_size)))
        self._spawn(self._monitor())

    async def stop(self) -> None:
        self._stopping = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(slot.close() for slot in list(self._slots)), return_exceptions=True)
        if self._browser is not None:
            with contextlib.suppress(Exception):
                await self._browser.browser.close()
        if self._playwright is not None:
            await self._playwright.stop()

    # ----- state for health and tests -----

    @property
    def ready(self) -> bool:
        # Not "has idle slots": after a burst of failures every slot may be mid-rebuild for a
        # moment, and a readiness probe must not flap while the browser is fine.
        browser = self._browser
        return browser is not None and browser.browser.is_connected() and not self._stopping

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def queued(self) -> int:
        return self._waiting

    @property
    def browser_pid(self) -> int | None:
        return self._browser.pid if self._browser else None

    @property
    def browser_renders(self) -> int:
        return self._browser.renders if self._browser else 0

    def memory_mb(self) -> float:
        return tree_memory_mb(self._browser.process()) if self._browser else 0.0

    def retry_after(self) -> float:
        """Seconds until a queue slot is likely free: the backlog times the mean render time."""
        mean = self._render_seconds / self.renders if self.renders else 1.0
        backlog = (self._waiting + self._in_flight) / self.settings.max_concurrency
        return max(1.0, round(backlog * mean, 1))

    # ----- leasing -----

    @contextlib.asynccontextmanager
    async def lease(self) -> AsyncIterator[Slot]:
        """A clean slot for one render. The time spent here is not part of the render's timeout."""
        if self._admission.locked() and self._waiting >= self.settings.max_queue:
            raise QueueFull("Too many requests are waiting; retry later", retry_after=self.retry_after())
        self._waiting += 1
        try:
            async with asyncio.timeout(self.settings.queue_timeout_ms / 1000):
                await self._admission.acquire()
                try:
                    slot = await self._idle.get()
                except BaseException:
                    self._admission.release()
                    raise
        except TimeoutError:
            raise BrowserUnavailable(
                "No render slot became free in time", retry_after=self.retry_after()
            ) from None
        finally:
            self._waiting -= 1
        self._in_flight += 1
        started = time.monotonic()
        try:
            yield slot
        except BaseException as exc:
            if not (isinstance(exc, PagecastError) and exc.page_intact):
                slot.poisoned = True
            raise
        finally:
            self._in_flight -= 1
            self.renders += 1
            self._render_seconds += time.monotonic() - started
            self._admission.release()
            self._spawn(self._recover(slot))

    async def _recover(self, slot: Slot) -> None:
        """Scrub a used slot back into the idle queue, or replace it."""
        browser = slot.browser
        reusable = (
            not slot.poisoned
            and not slot.crashed
            and slot.uses < self.settings.slot_max_uses
            and browser is self._browser
            and browser.browser.is_connected()
        )
        if reusable:
            try:
                await slot.scrub()
            except Exception as exc:
                log.info("scrub failed, rebuilding slot: %s", exc)
            else:
                self._idle.put_nowait(slot)
                return
        await self._discard(slot)
        await self._add_slot()

    async def _discard(self, slot: Slot) -> None:
        self._slots.discard(slot)
        await slot.close()
        old = slot.browser
        if old is not self._browser and not any(s.browser is old for s in self._slots):
            log.info("closing retired browser pid=%s after %d renders", old.pid, old.renders)
            with contextlib.suppress(Exception):
                await old.browser.close()

    async def _add_slot(self) -> None:
        for delay in (*RELAUNCH_BACKOFF_S, None):
            if self._stopping:
                return
            try:
                browser = await self._current_browser()
                slot = await Slot.open(browser, self._user_agent)
            except Exception as exc:
                if delay is None:
                    log.error("could not open a browser slot: %s", exc)
                    return
                log.warning("opening a browser slot failed (%s); retrying in %ss", exc, delay)
                await asyncio.sleep(delay)
                continue
            self._slots.add(slot)
            self._idle.put_nowait(slot)
            return

    async def _current_browser(self) -> BrowserProcess:
        async with self._launch_lock:
            browser = self._browser
            if browser is not None and browser.browser.is_connected():
                return browser
            return await self._launch()

    async def _launch(self) -> BrowserProcess:
        assert self._playwright is not None
        settings = self.settings
        browser = await launch(
            self._playwright, settings.chromium_path, settings.chromium_args,
            heap_mb=settings.page_max_memory_mb,
        )  # fmt: skip
        session = await browser.browser.new_browser_cdp_session()
        version = await session.send("Browser.getVersion")
        await session.detach()
        # Sites treat "HeadlessChrome" as a bot; present the same browser as a normal Chrome.
        self._user_agent = str(version["userAgent"]).replace("HeadlessChrome", "Chrome")
        browser.browser.on("disconnected", lambda _: self._on_disconnected(browser))
        self._browser = browser
        self.browser_launches += 1
        log.info("browser launched pid=%s (%s)", browser.pid, version.get("product"))
        return browser

    def _on_disconnected(self, browser: BrowserProcess) -> None:
        if self._stopping or browser is not self._browser:
            return
        log.error("browser pid=%s disconnected; relaunching", browser.pid)
        # Idle slots on the dead browser are useless: replace them now, not on first use.
        dead = []
        while not self._idle.empty():
            dead.append(self._idle.get_nowait())
        for slot in dead:
            self._spawn(self._replace(slot))

    async def _replace(self, slot: Slot) -> None:
        await self._discard(slot)
        await self._add_slot()

    async def recycle(self, reason: str) -> None:
        """Move to a fresh browser; in-flight renders finish on the old one."""
        async with self._launch_lock:
            old = self._browser
            log.info("recycling browser pid=%s: %s", old.pid if old else None, reason)
            await self._launch()
        idle = []
        while not self._idle.empty():
            idle.append(self._idle.get_nowait())
        await asyncio.gather(*(self._replace(slot) for slot in idle))

    # ----- monitoring -----

    async def _monitor(self) -> None:
        settings = self.settings
        while True:
            await asyncio.sleep(settings.monitor_interval_ms / 1000)
            browser = self._browser
            if browser is None or not browser.browser.is_connected():
                continue
            try:
                process = browser.process()
                killed = await asyncio.to_thread(
                    kill_oversized_renderers, process, settings.page_max_memory_mb
                )
                for pid, mb in killed:
                    log.warning("killed renderer pid=%s at %.0f MB (limit %d MB)",
                                pid, mb, settings.page_max_memory_mb)  # fmt: skip
                if browser.renders >= settings.browser_max_renders:
                    await self.recycle(f"{browser.renders} renders")
                elif (
                    mb := await asyncio.to_thread(tree_memory_mb, process)
                ) > settings.browser_max_memory_mb:
                    await self.recycle(f"{mb:.0f} MB in use")
            except Exception:  # the monitor must outlive any single failure
                log.exception("browser monitor iteration failed")

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
