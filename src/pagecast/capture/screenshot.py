"""Image capture through CDP ``Page.captureScreenshot``.

Playwright's ``page.screenshot`` adds several round trips (viewport bookkeeping, scrollbar
hiding) that cost ~40 ms per shot; the raw CDP call does the same capture directly.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any

from PIL import Image
from playwright.async_api import Error as PlaywrightError

from pagecast.browser.slot import WarmPage
from pagecast.capture.artifact import Artifact
from pagecast.errors import ContentError
from pagecast.models.screenshot import ScreenshotRequest


def _header_only(data: bytes) -> Image.Image:
    """Open our own capture just to read its size; Pillow decodes nothing until asked.

    Pillow's decompression-bomb guard (over ~179 Mpx) is for untrusted files to be decoded;
    this image came from Chromium and is never decoded, so the guard only turned large but
    legitimate captures (16384x16384 full pages) into errors.
    """
    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        return Image.open(io.BytesIO(data))
    finally:
        Image.MAX_IMAGE_PIXELS = limit


CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}

# Document coordinates of an element's box (viewport rect + scroll offset).
_ELEMENT_BOX = """(el) => {
  el.scrollIntoView({block: 'nearest', inline: 'nearest'});
  const r = el.getBoundingClientRect();
  return {x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width, height: r.height};
}"""
_NEXT_FRAME = "() => new Promise(r => requestAnimationFrame(() => r(true)))"


async def _area(target: WarmPage, request: ScreenshotRequest) -> dict[str, float] | None:
    if request.full_page:
        metrics = await target.cdp.send("Page.getLayoutMetrics")
        size = metrics["cssContentSize"]
        return {"x": 0, "y": 0, "width": math.ceil(size["width"]), "height": math.ceil(size["height"])}
    if request.clip is not None:
        return request.clip.model_dump()
    if request.selector is not None:
        element = await target.page.query_selector(request.selector)
        if element is None:
            raise ContentError(f"selector {request.selector!r} matched no element")
        box: dict[str, float] = await element.evaluate(_ELEMENT_BOX)
        if box["width"] <= 0 or box["height"] <= 0:
            raise ContentError(f"selector {request.selector!r} matched an element with no size")
        return box
    return None


async def capture_screenshot(target: WarmPage, request: ScreenshotRequest) -> Artifact:
    cdp = target.cdp
    params: dict[str, Any] = {"format": request.format, "optimizeForSpeed": True}
    if request.quality is not None:
        params["quality"] = request.quality
    try:
        area = await _area(target, request)
    except PlaywrightError as exc:
        raise ContentError(f"selector {request.selector!r} is not valid: {exc.message}") from exc
    if area is not None:
        params["clip"] = {**area, "scale": 1}
        params["captureBeyondViewport"] = True
    if request.omit_background:
        transparent = {"color": {"r": 0, "g": 0, "b": 0, "a": 0}}
        await cdp.send("Emulation.setDefaultBackgroundColorOverride", transparent)
    try:
        try:
            shot = await cdp.send("Page.captureScreenshot", params)
        except PlaywrightError:
            # Right after a navigation the compositor may not have produced a frame yet.
            await target.page.evaluate(_NEXT_FRAME)
            shot = await cdp.send("Page.captureScreenshot", params)
    finally:
        if request.omit_background:
            await cdp.send("Emulation.setDefaultBackgroundColorOverride", {})
    data = base64.b64decode(shot["data"])
    with _header_only(data) as image:
        width, height = image.size
    return Artifact(data, CONTENT_TYPES[request.format], request.format, width, height)
