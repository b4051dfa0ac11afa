"""The seed renderer's endpoints: ``POST /render`` and ``POST /render-url``.

Existing clients parse these responses, so the shape is checked exactly, key for key.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.conftest import close_to
from tests.site import Site

DATA_KEYS = {"imageBase64", "contentType", "size", "format", "width", "height", "requestId"}


def decoded(r: httpx.Response) -> tuple[dict[str, Any], Image.Image]:
    """Check the exact success shape; return ``data`` and its image."""
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"success", "data"}
    assert body["success"] is True
    data = body["data"]
    assert set(data) == DATA_KEYS
    raw = base64.b64decode(data["imageBase64"], validate=True)
    assert data["size"] == len(raw)
    assert data["requestId"] == r.headers["x-request-id"]
    image = Image.open(io.BytesIO(raw))
    assert (data["width"], data["height"]) == image.size
    return data, image


def colour(image: Image.Image, x: int = 5, y: int = 5) -> tuple[int, ...]:
    return image.convert("RGB").getpixel((x, y))  # type: ignore[return-value]


_RED = "<body style='margin:0;background:#ff0000'></body>"


async def test_render_html_defaults(client: httpx.AsyncClient) -> None:
    data, image = decoded(await client.post("/render", json={"html": _RED}))
    assert (data["width"], data["height"]) == (1280, 720)
    assert (data["format"], data["contentType"], image.format) == ("png", "image/png", "PNG")
    assert close_to(colour(image), (255, 0, 0))


async def test_render_html_with_options(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/render",
        json={"html": _RED, "options": {"width": 300, "height": 150, "format": "png", "waitFor": 10}},
    )
    data, image = decoded(r)
    assert (data["width"], data["height"]) == (300, 150)
    assert image.format == "PNG"


async def test_render_jpeg(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/render", json={"html": _RED, "options": {"width": 200, "height": 100, "format": "jpeg"}}
    )
    data, image = decoded(r)
    assert (data["format"], data["contentType"], image.format) == ("jpeg", "image/jpeg", "JPEG")
    assert image.size == (200, 100)
    assert close_to(colour(image), (255, 0, 0), tolerance=16)


async def test_jpeg_quality_is_passed_through(client: httpx.AsyncClient) -> None:
    noisy = (
        "<body style='margin:0'><div style='width:400px;height:300px;"
        "background:repeating-linear-gradient(45deg,#123 0 3px,#fe9 3px 7px,#39c 7px 9px)'></div></body>"
    )
    sizes = []
    for quality in (10, 95):
        options = {"width": 400, "height": 300, "format": "jpeg", "quality": quality}
        data, _ = decoded(await client.post("/render", json={"html": noisy, "options": options}))
        sizes.append(data["size"])
    assert sizes[0] < sizes[1] / 2, sizes


async def test_wait_for_delays_the_capture(client: httpx.AsyncClient) -> None:
    late_blue = (
        "<body style='margin:0;background:#ff0000'>"
        "<script>setTimeout(() => document.body.style.background = '#0000ff', 800)</script></body>"
    )
    options = {"width": 100, "height": 100}
    _, now = decoded(await client.post("/render", json={"html": late_blue, "options": options}))
    assert close_to(colour(now), (255, 0, 0))
    waited = {**options, "waitFor": 1500}
    _, later = decoded(await client.post("/render", json={"html": late_blue, "options": waited}))
    assert close_to(colour(later), (0, 0, 255))


async def test_full_page(client: httpx.AsyncClient) -> None:
    tall = "<body style='margin:0'><div style='height:1000px'></div></body>"
    options = {"width": 300, "height": 200, "fullPage": True}
    data, _ = decoded(await client.post("/render", json={"html": tall, "options": options}))
    assert (data["width"], data["height"]) == (300, 1000)


async def test_unknown_options_from_old_clients_are_ignored(client: httpx.AsyncClient) -> None:
    options = {"width": 120, "height": 80, "deviceScaleFactor": 2, "somethingElse": {"x": 1}}
    data, _ = decoded(await client.post("/render", json={"html": _RED, "options": options}))
    assert (data["width"], data["height"]) == (120, 80)


async def test_render_url(client: httpx.AsyncClient, site: Site) -> None:
    url = site.add("/compat", "<body style='margin:0;background:#00ff00'></body>")
    options = {"width": 250, "height": 120, "format": "jpeg"}
    data, image = decoded(await client.post("/render-url", json={"url": url, "options": options}))
    assert (data["width"], data["height"], data["format"]) == (250, 120, "jpeg")
    assert close_to(colour(image), (0, 255, 0), tolerance=16)
    assert site.hits("/compat")


async def test_render_url_defaults(client: httpx.AsyncClient, site: Site) -> None:
    url = site.add("/compat-default", "<p>x</p>")
    data, _ = decoded(await client.post("/render-url", json={"url": url}))
    assert (data["width"], data["height"], data["format"]) == (1280, 720, "png")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "not a url", "", "javascript:1", "http://"])
async def test_render_url_with_a_bad_url_is_422(client: httpx.AsyncClient, url: str) -> None:
    r = await client.post("/render-url", json={"url": url})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_request"
    assert [d["field"] for d in error["details"]] == ["url"]


async def test_render_url_unreachable_is_502(client: httpx.AsyncClient) -> None:
    r = await client.post("/render-url", json={"url": "http://127.0.0.1:1/"})
    assert r.status_code == 502, r.text
    assert r.json()["success"] is False
    assert r.json()["error"]["code"] == "navigation_failed"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/render", {}, "html"),
        ("/render-url", {"html": "x"}, "url"),
        ("/render", {"html": "x", "options": {"width": 0}}, "options.width"),
        ("/render", {"html": "x", "options": {"format": "gif"}}, "options.format"),
        ("/render", {"html": "x", "options": {"waitFor": -1}}, "options.waitFor"),
        ("/render", {"html": "x", "options": "big"}, "options"),
    ],
)
async def test_invalid_compat_bodies_are_422(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    r = await client.post(path, json=body)
    assert r.status_code == 422, r.text
    assert [d["field"] for d in r.json()["error"]["details"]] == [field]
