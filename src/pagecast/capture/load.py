"""Load a request's page and wait until it is ready to capture: shared by every capture.

All waiting here is bounded by the renderer's one deadline (``asyncio.timeout``), so
Playwright's own timeouts are switched off (0) and ``stage`` names what we were doing when
the deadline hit.
"""

from __future__ import annotations

import asyncio

from playwright.async_api import Error as PlaywrightError

from pagecast.browser.origin import DOCUMENT_URL
from pagecast.browser.slot import WarmPage
from pagecast.errors import ContentError, NavigationFailed
from pagecast.models.page import PageOptions


class Stage:
    """The step a render is in, for error messages."""

    def __init__(self) -> None:
        self.now = "waiting for a browser slot"


# Scroll one viewport at a time so IntersectionObserver-based lazy loaders fire, then wait for
# the images they started and return to the top for the capture.
_SCROLL_THROUGH = """async () => {
  const frame = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)));
  const step = Math.max(200, Math.floor(window.innerHeight * 0.8));
  for (let y = 0; y < document.documentElement.scrollHeight; y += step) {
    window.scrollTo(0, y);
    await frame();
  }
  window.scrollTo(0, document.documentElement.scrollHeight);
  await frame();
  await Promise.all([...document.images].filter(i => !i.complete).map(
    i => new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); })));
  window.scrollTo(0, 0);
  await frame();
}"""

_HIDE = "{ visibility: hidden !important; }"
# An inline <style> applies as soon as it is in the document. Playwright's add_style_tag also
# awaits the element's load event, which never fires with javaScriptEnabled=false (event
# handlers are script): a style tag or hideSelectors then hung the render until its timeout.
_ADD_STYLE = """css => {
  const style = document.createElement('style');
  style.textContent = css;
  (document.head || document.documentElement).append(style);
}"""


async def load(target: WarmPage, options: PageOptions, stage: Stage) -> None:
    page = target.page
    url = options.url or DOCUMENT_URL
    stage.now = f"loading {options.url or 'the html'} (waitUntil={options.wait_until})"
    try:
        await page.goto(url, wait_until=options.wait_until, timeout=0)
    except PlaywrightError as exc:
        raise NavigationFailed(f"Could not load {url}: {_first_line(exc)}") from exc

    try:
        for tag in options.add_style_tag:
            stage.now = "adding a style tag"
            if tag.content is not None:
                await page.evaluate(_ADD_STYLE, tag.content)
            else:  # waits for the stylesheet; the model requires javaScriptEnabled for this
                await page.add_style_tag(url=tag.url)
        for tag in options.add_script_tag:
            stage.now = "adding a script tag"
            await page.add_script_tag(url=tag.url, content=tag.content)
        if options.hide_selectors:
            stage.now = "hiding selectors"
            css = "\n".join(f"{selector} {_HIDE}" for selector in options.hide_selectors)
            await page.evaluate(_ADD_STYLE, css)
    except PlaywrightError as exc:
        raise ContentError(f"{stage.now} failed: {_first_line(exc)}") from exc

    if options.wait_for_selector:
        stage.now = f"waiting for selector {options.wait_for_selector!r}"
        await _content_step(page.wait_for_selector(options.wait_for_selector, timeout=0), stage)
    if options.wait_for_function:
        stage.now = f"waiting for function {options.wait_for_function!r}"
        await _content_step(
            page.wait_for_function(options.wait_for_function, timeout=0, polling="raf"), stage
        )
    # Without scripting the browser loads lazy images at once (HTML spec: lazy loading is off
    # when scripting is), so there is nothing to scroll for, and the scroll script's frame
    # waits would never resolve with the page's timers disabled.
    if options.scroll_page and options.java_script_enabled:
        stage.now = "scrolling through the page"
        await _content_step(page.evaluate(_SCROLL_THROUGH), stage)
    if options.wait_for_fonts:
        stage.now = "waiting for web fonts"
        await _content_step(page.evaluate("document.fonts.ready.then(() => true)"), stage)
    if options.wait_for:
        stage.now = f"waiting {options.wait_for} ms (waitFor)"
        await asyncio.sleep(options.wait_for / 1000)  # a delay the client asked for, not a sync
    stage.now = "capturing"


async def _content_step(awaitable: object, stage: Stage) -> None:
    try:
        await awaitable  # type: ignore[misc]
    except PlaywrightError as exc:
        raise ContentError(f"{stage.now} failed: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
