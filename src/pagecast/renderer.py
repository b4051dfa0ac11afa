"""One render from request to artifact: lease a slot, load, capture, within one deadline.

This is what the HTTP API, the CLI and (later) queue workers call; it knows nothing of any of
them. It owns the two policies that need the whole picture:

* the timeout covers the render only: time spent waiting for a slot is not charged to it;
* a render hit by a browser crash is retried once on the relaunched browser, then gets 503.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol, TypeVar

from playwright._impl._errors import TargetClosedError  # public class, not re-exported by async_api
from playwright.async_api import Error as PlaywrightError

from pagecast.browser.emulation import Emulation, emulation_for
from pagecast.browser.pool import BrowserPool
from pagecast.browser.slot import Slot
from pagecast.capture import Artifact, Capture, capture_for
from pagecast.capture.document import build_document
from pagecast.capture.load import Stage, load
from pagecast.errors import (
    BrowserUnavailable,
    InvalidOption,
    PagecastError,
    PageCrashed,
    RenderTimeout,
)
from pagecast.models.page import PageOptions
from pagecast.settings import Settings

log = logging.getLogger(__name__)
R = TypeVar("R", bound=PageOptions)


async def _document(request: PageOptions) -> bytes | None:
    if request.html is None:
        return None
    if len(request.html) < 1 << 20:
        return build_document(request)
    # Tens of MB of html take a second or two to splice; keep the event loop serving others.
    return await asyncio.to_thread(build_document, request)


class RenderService(Protocol):
    """What the sync endpoints need: a local ``Renderer`` or the queue (API-only instances)."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def render(self, request: PageOptions) -> Artifact: ...


class _BrowserDied(Exception):
    pass


class Renderer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool = BrowserPool(settings)

    async def start(self) -> None:
        await self.pool.start()

    async def stop(self) -> None:
        await self.pool.stop()

    async def render(self, request: R) -> Artifact:
        capture = capture_for(request)
        timeout_ms = request.timeout or self.settings.default_timeout_ms
        if timeout_ms > self.settings.max_timeout_ms:
            raise InvalidOption("timeout", f"at most {self.settings.max_timeout_ms} ms on this server")
        document = await _document(request)
        emulation = emulation_for(request, default_media=capture.default_media)
        for attempt in (1, 2):
            stage = Stage()
            try:
                async with self.pool.lease() as slot:
                    return await self._attempt(slot, capture, request, timeout_ms, stage,
                                               document, emulation)  # fmt: skip
            except _BrowserDied:
                log.warning("browser died while %s (attempt %d)", stage.now, attempt)
        raise BrowserUnavailable("The browser crashed twice during this render", retry_after=1)

    async def _attempt(self, slot: Slot, capture: Capture[Any], request: PageOptions,
                       timeout_ms: int, stage: Stage, document: bytes | None,
                       emulation: Emulation) -> Artifact:  # fmt: skip
        try:
            async with asyncio.timeout(timeout_ms / 1000):
                stage.now = "preparing the page"
                await self._prepare(slot, request, emulation, document)
                await load(slot.target, request, stage)
                return await capture.run(slot.target, request)
        except TimeoutError as exc:
            self._raise_if_dead(slot, exc)
            raise RenderTimeout(f"Render did not finish within {timeout_ms} ms ({stage.now})") from None
        except (PagecastError, PlaywrightError) as exc:
            self._raise_if_dead(slot, exc)
            if isinstance(exc, PagecastError):
                raise
            log.exception("unexpected browser error while %s", stage.now)
            raise PagecastError("The render failed unexpectedly") from exc

    async def _prepare(self, slot: Slot, request: PageOptions, emulation: Emulation,
                       document: bytes | None) -> None:  # fmt: skip
        try:
            await slot.prepare(request, emulation, document)
        except PlaywrightError as exc:
            self._raise_if_dead(slot, exc)
            # Validation cannot foresee every value Chromium rejects (odd header bytes, a
            # cookie domain it dislikes); that is still the client's input, so 422. The slot
            # may be half-configured: never reuse it.
            slot.poisoned = True
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else "rejected"
            raise InvalidOption("options", f"the browser refused an option: {message}") from exc

    def _raise_if_dead(self, slot: Slot, exc: BaseException) -> None:
        """Tell a dead page or browser apart from an ordinary failure of the render."""
        if slot.crashed:
            raise PageCrashed("The page crashed while rendering (it likely ran out of memory)")
        # The "target closed" error can arrive before Playwright marks the browser
        # disconnected, so either sign means the browser (or our page in it) is gone.
        closed = isinstance(exc, TargetClosedError) or isinstance(exc.__cause__, TargetClosedError)
        if closed or not slot.browser.browser.is_connected():
            if self.pool.stopping:
                raise BrowserUnavailable("The server is shutting down", retry_after=1)
            raise _BrowserDied
