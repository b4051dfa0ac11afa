"""Every capture option of ``POST /v1/render`` against real Chromium.

Each test is built so that it fails if its option were ignored: sizes differ from the
default 1280x720 capture, colours differ from what the page would show otherwise. Page state
the test cannot see in an image (touch support, the user agent) is either painted by the
page as a background colour or seen by the loopback site.
"""

from __future__ import annotations

import io
import itertools
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.conftest import close_to, image, pixel
from tests.site import Site

RED, LIME, BLUE, WHITE = (255, 0, 0, 255), (0, 255, 0, 255), (0, 0, 255, 255), (255, 255, 255, 255)
IPHONE_13_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 15_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/27.2 Mobile/15E148 Safari/604.1"
)
_paths = itertools.count()


def unique(name: str) -> str:
    """A site path no other test uses (the site lives for the whole session)."""
    return f"/shot/{next(_paths)}/{name}"


async def render(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    r = await client.post("/v1/render", json=body)
    assert r.status_code == 200, r.text
    return r


def paint(condition_js: str, head: str = "") -> str:
    """A page painted lime when the JS condition holds while it loads, red otherwise."""
    return f"""<!doctype html><html><head>{head}</head><body style="margin:0"><script>
      let ok = false;
      try {{ ok = Boolean({condition_js}); }} catch (e) {{ ok = false; }}
      document.body.style.background = ok ? '#00ff00' : '#ff0000';
    </script></body></html>"""


# --- format and quality ---


@pytest.mark.parametrize(("fmt", "content_type", "pil_format"), [
    ("png", "image/png", "PNG"),
    ("jpeg", "image/jpeg", "JPEG"),
    ("webp", "image/webp", "WEBP"),
])  # fmt: skip
async def test_format_sets_content_type_and_encoding(
    client: httpx.AsyncClient, fmt: str, content_type: str, pil_format: str
) -> None:
    r = await render(client, html="<body style='margin:0;background:#0000ff'></body>", format=fmt)
    assert r.headers["content-type"] == content_type
    with Image.open(io.BytesIO(r.content)) as decoded:
        assert decoded.format == pil_format
        assert decoded.size == (1280, 720)
    assert close_to(pixel(r.content, 640, 360), BLUE, tolerance=12)


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
async def test_lower_quality_gives_smaller_image(client: httpx.AsyncClient, fmt: str) -> None:
    # Fine stripes and text: detail that a low quality setting throws away.
    html = (
        "<body style='margin:0;background:repeating-linear-gradient(45deg,#e33 0 3px,#36c 3px 7px)'>"
        + "<p style='font:14px serif;color:#ff0'>" + "pagecast quality " * 400 + "</p></body>"
    )  # fmt: skip
    small = {"width": 400, "height": 300}
    low = await render(client, html=html, format=fmt, quality=5, viewport=small)
    high = await render(client, html=html, format=fmt, quality=95, viewport=small)
    assert len(low.content) * 2 < len(high.content), (len(low.content), len(high.content))


# --- capture area ---

TALL = (
    "<body style='margin:0'><div style='height:2000px;background:#ff0000'></div>"
    "<div style='height:1000px;background:#0000ff'></div></body>"
)


async def test_full_page_captures_whole_document(client: httpx.AsyncClient) -> None:
    narrow = {"width": 100, "height": 720}
    viewport_only = await render(client, html=TALL, viewport=narrow)
    assert image(viewport_only.content).size == (100, 720)

    r = await render(client, html=TALL, fullPage=True, viewport=narrow)
    assert image(r.content).size == (100, 3000)
    assert close_to(pixel(r.content, 10, 10), RED)
    assert close_to(pixel(r.content, 10, 2990), BLUE)


async def test_clip_captures_exactly_that_rectangle(client: httpx.AsyncClient) -> None:
    html = (
        "<body style='margin:0;background:#fff'>"
        "<div style='position:absolute;left:100px;top:50px;width:40px;height:30px;background:#00f'></div>"
    )
    r = await render(client, html=html, clip={"x": 100, "y": 50, "width": 40, "height": 30})
    shot = image(r.content)
    assert shot.size == (40, 30)
    for corner in [(0, 0), (39, 0), (0, 29), (39, 29), (20, 15)]:
        assert close_to(shot.getpixel(corner), BLUE), corner  # type: ignore[arg-type]


async def test_clip_below_the_fold(client: httpx.AsyncClient) -> None:
    r = await render(client, html=TALL, clip={"x": 0, "y": 1900, "width": 50, "height": 200})
    assert image(r.content).size == (50, 200)
    assert close_to(pixel(r.content, 25, 50), RED)  # document y 1950
    assert close_to(pixel(r.content, 25, 150), BLUE)  # document y 2050


async def test_clip_is_scaled_by_device_scale_factor(client: httpx.AsyncClient) -> None:
    html = "<body style='margin:0;background:#00f'></body>"
    r = await render(
        client, html=html, clip={"x": 10, "y": 10, "width": 40, "height": 30},
        viewport={"width": 200, "height": 100, "deviceScaleFactor": 2},
    )  # fmt: skip
    assert image(r.content).size == (80, 60)


@pytest.mark.parametrize("top", [40, 1500])  # in view, and below the fold (scrolled to)
async def test_selector_captures_the_element(client: httpx.AsyncClient, top: int) -> None:
    html = (
        "<body style='margin:0;height:3000px;background:#ff0000'>"
        f"<div id='box' style='position:absolute;left:30px;top:{top}px;width:123px;height:45px;"
        "background:#0000ff'></div></body>"
    )
    r = await render(client, html=html, selector="#box")
    shot = image(r.content)
    assert shot.size == (123, 45)
    for corner in [(0, 0), (122, 0), (0, 44), (122, 44)]:
        assert close_to(shot.getpixel(corner), BLUE), corner  # type: ignore[arg-type]


async def test_selector_that_matches_nothing_is_a_content_error(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/render", json={"html": "<p>x</p>", "selector": "#missing"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "content_error"


@pytest.mark.parametrize("fmt", ["png", "webp"])
async def test_omit_background_gives_transparent_pixels(client: httpx.AsyncClient, fmt: str) -> None:
    html = "<body style='margin:0'><div style='width:20px;height:20px;background:#00f'></div></body>"
    r = await render(client, html=html, format=fmt, omitBackground=True)
    assert pixel(r.content, 100, 100)[3] == 0
    assert close_to(pixel(r.content, 5, 5), BLUE)  # content keeps its own colour

    # The override is undone: the next capture has the default white background again.
    after = await render(client, html=html, format=fmt)
    assert close_to(pixel(after.content, 100, 100), WHITE)


# --- emulation ---


async def test_viewport_size_and_device_scale_factor(client: httpx.AsyncClient) -> None:
    html = paint("innerWidth === 300 && innerHeight === 200 && devicePixelRatio === 2")
    r = await render(client, html=html, viewport={"width": 300, "height": 200, "deviceScaleFactor": 2})
    assert image(r.content).size == (600, 400)
    assert close_to(pixel(r.content, 10, 10), LIME)


@pytest.mark.parametrize(("is_mobile", "layout_width"), [(True, 600), (False, 300)])
async def test_is_mobile_honours_meta_viewport(
    client: httpx.AsyncClient, is_mobile: bool, layout_width: int
) -> None:
    # A phone lays the page out at the width <meta name=viewport> asks for; a desktop ignores it.
    html = paint(
        f"document.documentElement.clientWidth === {layout_width}",
        head="<meta name='viewport' content='width=600'>",
    )
    r = await render(client, html=html, viewport={"width": 300, "height": 200, "isMobile": is_mobile})
    assert close_to(pixel(r.content, 10, 10), LIME)


TOUCH = "'ontouchstart' in window && navigator.maxTouchPoints > 0 && matchMedia('(pointer: coarse)').matches"
NO_TOUCH = (
    "!('ontouchstart' in window) && navigator.maxTouchPoints === 0 && matchMedia('(pointer: fine)').matches"
)


@pytest.mark.parametrize(("has_touch", "condition"), [(True, TOUCH), (False, NO_TOUCH)])
async def test_has_touch_is_reported_to_the_page(
    client: httpx.AsyncClient, has_touch: bool, condition: str
) -> None:
    r = await render(
        client, html=paint(condition), viewport={"width": 100, "height": 100, "hasTouch": has_touch}
    )
    assert close_to(pixel(r.content, 10, 10), LIME)


async def test_device_sets_viewport_scale_and_user_agent(client: httpx.AsyncClient, site: Site) -> None:
    path = unique("device")
    url = site.add(path, paint(f"navigator.userAgent === {IPHONE_13_UA!r} && devicePixelRatio === 3"))
    r = await render(client, url=url, device="iPhone 13")
    assert image(r.content).size == (390 * 3, 664 * 3)
    assert close_to(pixel(r.content, 10, 10), LIME)
    assert site.hits(path)[0].headers["user-agent"] == IPHONE_13_UA


async def test_viewport_overrides_device_size_but_keeps_its_user_agent(
    client: httpx.AsyncClient, site: Site
) -> None:
    path = unique("device-viewport")
    url = site.add(path, "<body></body>")
    r = await render(client, url=url, device="iPhone 13", viewport={"width": 200, "height": 100})
    assert image(r.content).size == (200, 100)
    assert site.hits(path)[0].headers["user-agent"] == IPHONE_13_UA
