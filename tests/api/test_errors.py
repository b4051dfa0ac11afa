"""The one error shape, ``{success: false, error: {code, message, requestId}}``, for every failure.

Also that no client input, however odd, reaches the generic 500 handler.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from PIL import Image

from pagecast.api import create_app
from pagecast.models.page import MAX_HTML_BYTES
from pagecast.renderer import Renderer
from tests.conftest import make_settings

JSON = {"content-type": "application/json"}


def error_of(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Check the shape and return ``error``."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"success", "error"}
    assert body["success"] is False
    error = body["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str)
    assert error["message"]
    assert error["requestId"]
    assert error["requestId"] == r.headers["x-request-id"]
    return error  # type: ignore[no-any-return]


def fields(error: dict[str, Any]) -> list[str]:
    return [d["field"] for d in error["details"]]


# --- validation: 422 with field paths ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/render", {"html": "x", "viewport": {"width": 0}}, "viewport.width"),
        ("/v1/render", {"html": "x", "viewport": {"width": 100, "deviceScaleFactor": 9}},
         "viewport.deviceScaleFactor"),
        ("/v1/render", {"html": "x", "clip": {"x": -1, "y": 0, "width": 10, "height": 10}}, "clip.x"),
        ("/v1/render", {"html": "x", "cookies": [{"name": "a", "value": "b"}, {"name": "", "value": "v"}]},
         "cookies.1.name"),
        ("/v1/render", {"html": "x", "format": "gif"}, "format"),
        ("/v1/render", {"html": "x", "quality": 101, "format": "jpeg"}, "quality"),
        ("/v1/render", {"html": "x", "waitUntil": "forever"}, "waitUntil"),
        ("/v1/render", {"html": "x", "timezone": "Mars/Olympus"}, "timezone"),
        ("/v1/render", {"html": "x", "device": "Nokia 3310"}, "device"),
        ("/v1/render", {"html": "x", "headers": {"X-A": 1}}, "headers.X-A"),
        ("/v1/render", {"html": "x", "blockResourceTypes": ["image", "pictures"]}, "blockResourceTypes.1"),
        ("/v1/pdf", {"html": "x", "margin": {"top": "1 inch"}}, "margin.top"),
        ("/v1/pdf", {"html": "x", "scale": 3}, "scale"),
        ("/v1/pdf", {"html": "x", "format": "B5"}, "format"),
        ("/v1/pdf", {"html": "x", "pageRanges": "1-"}, "pageRanges"),
        ("/render", {"html": "x", "options": {"width": 0}}, "options.width"),
    ],
)  # fmt: skip
async def test_invalid_option_names_its_field(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    error = error_of(await client.post(path, json=body), 422, "invalid_request")
    assert fields(error) == [field]
    assert field in error["message"]
    assert all(d["message"] for d in error["details"])


async def test_every_invalid_field_is_reported(client: httpx.AsyncClient) -> None:
    body = {"html": "x", "viewport": {"width": -1, "height": 0}, "format": "bmp", "waitFor": -5}
    error = error_of(await client.post("/v1/render", json=body), 422, "invalid_request")
    assert sorted(fields(error)) == ["format", "viewport.height", "viewport.width", "waitFor"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"html": "x", "fullpage": True}, "fullpage"),
        ({"html": "x", "viewport": {"widht": 5}}, "viewport.widht"),
    ],
)
async def test_unknown_option_is_rejected(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    error = error_of(await client.post("/v1/render", json=body), 422, "invalid_request")
    assert fields(error) == [field]


@pytest.mark.parametrize("path", ["/v1/render", "/v1/pdf"])
@pytest.mark.parametrize("body", [{}, {"html": "x", "url": "https://example.com"}, {"css": "p{}"}])
async def test_exactly_one_of_url_and_html(
    client: httpx.AsyncClient, path: str, body: dict[str, Any]
) -> None:
    error = error_of(await client.post(path, json=body), 422, "invalid_request")
    assert "url or html" in error["message"]


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "javascript:alert(1)", "data:text/html,hi", "chrome://version", "ftp://x.y/"],
)
async def test_non_http_url_is_rejected(client: httpx.AsyncClient, url: str) -> None:
    for path, body in (
        ("/v1/render", {"url": url}),
        ("/v1/pdf", {"url": url}),
        ("/render-url", {"url": url}),
    ):
        error = error_of(await client.post(path, json=body), 422, "invalid_request")
        assert fields(error) == ["url"], path


@pytest.mark.parametrize(
    "raw",
    [
        b"{bad",
        b'{"html": "x",}',
        b"",
        b"\xff\xfe",
        b"[" * 50_000,
        b'{"html":"x","timeout":' + b"9" * 5000 + b"}",
    ],
)
@pytest.mark.parametrize("path", ["/v1/render", "/v1/pdf", "/render"])
async def test_malformed_json_is_422(client: httpx.AsyncClient, path: str, raw: bytes) -> None:
    error = error_of(await client.post(path, content=raw, headers=JSON), 422, "invalid_request")
    assert fields(error) == ["body"]


# --- size limits: 413 ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def small_client(renderer: Renderer) -> AsyncIterator[httpx.AsyncClient]:
    """The app with the smallest html limit (body limit = 1 KiB + 1 MiB of JSON envelope)."""
    app = create_app(make_settings(max_body_bytes=1024), renderer)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pagecast.test", timeout=60) as c:
        yield c


_OVER = b'{"html": "' + b"a" * (2 * 1024 * 1024) + b'"}'


async def test_body_over_the_limit_is_413(small_client: httpx.AsyncClient) -> None:
    r = await small_client.post("/v1/render", content=_OVER, headers=JSON)
    error_of(r, 413, "payload_too_large")


async def test_streamed_body_over_the_limit_is_413(small_client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit counts bytes read
        for start in range(0, len(_OVER), 64 * 1024):
            yield _OVER[start : start + 64 * 1024]

    r = await small_client.post("/v1/pdf", content=chunks(), headers=JSON)
    assert "content-length" not in r.request.headers
    error_of(r, 413, "payload_too_large")


async def test_body_under_the_limit_renders(small_client: httpx.AsyncClient) -> None:
    r = await small_client.post("/v1/render", json={"html": "<p>" + "a" * 1000 + "</p>"})
    assert r.status_code == 200, r.text


async def test_html_over_50_mb_is_413(client: httpx.AsyncClient) -> None:
    # Within the body limit (50 MB + 1 MB of envelope), so this is the html check itself.
    body = b'{"html": "' + b"a" * (MAX_HTML_BYTES + 1) + b'"}'
    error = error_of(await client.post("/v1/render", content=body, headers=JSON), 413, "payload_too_large")
    assert "50 MB" in error["message"]


# --- failures of the page ------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/", f"http://127.0.0.1:{_closed_port()}/"])
async def test_unreachable_url_is_502(client: httpx.AsyncClient, url: str) -> None:
    error = error_of(await client.post("/v1/render", json={"url": url}), 502, "navigation_failed")
    assert url in error["message"]


async def test_unknown_route_and_method_use_the_shape(client: httpx.AsyncClient) -> None:
    error_of(await client.get("/v2/nothing"), 404, "not_found")
    error_of(await client.get("/v1/render"), 405, "method_not_allowed")


# --- request ids ---------------------------------------------------------------------------------


async def test_request_id_is_echoed_in_header_and_error(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/render", json={"url": "file:///etc/passwd"}, headers={"X-Request-Id": "abc-123"}
    )
    assert r.headers["x-request-id"] == "abc-123"
    assert error_of(r, 422, "invalid_request")["requestId"] == "abc-123"


async def test_request_id_on_a_413_from_the_body_limit(small_client: httpx.AsyncClient) -> None:
    r = await small_client.post("/v1/render", content=_OVER, headers={**JSON, "X-Request-Id": "big-1"})
    assert error_of(r, 413, "payload_too_large")["requestId"] == "big-1"


@pytest.mark.parametrize("given", ["x" * 129, "tab\there"])
async def test_unusable_request_id_is_replaced(client: httpx.AsyncClient, given: str) -> None:
    r = await client.post("/v1/render", json={}, headers={"X-Request-Id": given})
    rid = error_of(r, 422, "invalid_request")["requestId"]
    assert rid != given
    assert len(rid) == 36  # a uuid4


async def test_each_request_gets_its_own_id(client: httpx.AsyncClient) -> None:
    ids = {(await client.post("/v1/render", json={})).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


# --- JSON success responses ----------------------------------------------------------------------


async def test_render_with_accept_json(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/render", json={"html": "<p>hi</p>", "viewport": {"width": 320, "height": 200}},
        headers={"Accept": "application/json", "X-Request-Id": "json-1"},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True
    data = body["data"]
    assert set(data) == {"imageBase64", "contentType", "size", "format", "width", "height", "requestId"}
    image = base64.b64decode(data["imageBase64"], validate=True)
    assert data["size"] == len(image)
    assert (data["contentType"], data["format"]) == ("image/png", "png")
    assert (data["width"], data["height"]) == (320, 200) == Image.open(io.BytesIO(image)).size
    assert data["requestId"] == "json-1" == r.headers["x-request-id"]


# --- fuzz: no input is a 500 ---------------------------------------------------------------------

# Values of the wrong type (or out of range) for almost any field.
_ODD_VALUES: list[Any] = [None, [], {}, 10**30, -(10**30), 1.5e308, True, ""]
_ODD_JSON: list[Any] = [
    [], [1, 2], None, 0, "html", True, [{"html": "x"}], {"html": None}, {"html": 5}, {"url": 5},
    {"html": ["<p>"]}, {"html": {"x": 1}}, {"url": None, "html": None}, {"": ""}, {"html": "x", "": 1},
    {"html": "x", "viewport": []}, {"html": "x", "viewport": "800x600"}, {"html": "x", "cookies": {}},
    {"html": "x", "cookies": [None]}, {"html": "x", "clip": {"x": 0}}, {"html": "x", "headers": []},
    {"html": "x", "options": {"width": "wide"}}, {"html": "x", "margin": {"top": 5}},
]  # fmt: skip
# Python's JSON parser takes these; they are not JSON.
_NOT_QUITE_JSON = [b"NaN", b"1e999", b'{"html":"x","waitFor":NaN}', b'{"html":"x","scale":-Infinity}']
_ODD_BODIES: list[bytes] = [json.dumps(b).encode() for b in _ODD_JSON] + [*_NOT_QUITE_JSON, b'"\\ud800"']


def _odd_field_bodies(path: str) -> list[dict[str, Any]]:
    """Each field of the endpoint's model set to each odd value (except its own default)."""
    from pagecast.models.pdf import PdfRequest
    from pagecast.models.screenshot import ScreenshotRequest

    model = PdfRequest if path == "/v1/pdf" else ScreenshotRequest
    bodies = []
    for name, field in model.model_fields.items():
        default = field.get_default(call_default_factory=True)
        for value in _ODD_VALUES:
            if name in ("html", "timeout") or (type(value) is type(default) and value == default):
                continue  # same as leaving the field out: an ordinary render
            bodies.append({"html": "<p>x</p>", "timeout": 5000, field.alias or name: value})
    return bodies


@pytest.mark.parametrize("path", ["/v1/render", "/v1/pdf", "/render", "/render-url"])
async def test_odd_bodies_never_500(client: httpx.AsyncClient, path: str) -> None:
    bodies = [*_ODD_BODIES]
    if path.startswith("/v1"):
        bodies += [json.dumps(b).encode() for b in _odd_field_bodies(path)]
    else:
        compat = ["width", "height", "format", "waitFor", "quality", "fullPage"]
        bodies += [json.dumps({"html": "x", "url": "http://127.0.0.1:1/", "options": {f: v}}).encode()
                   for f in compat for v in _ODD_VALUES]  # fmt: skip
    limit = asyncio.Semaphore(4)  # the bodies that are valid render; overlap them

    async def post(body: bytes) -> tuple[bytes, httpx.Response]:
        async with limit:
            return body, await client.post(path, content=body, headers=JSON)

    statuses: dict[int, int] = {}
    for body, r in await asyncio.gather(*(post(b) for b in bodies)):
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        assert r.status_code < 500 or r.status_code in (502, 504), (body[:200], r.text)
        if r.status_code != 200:
            error_of(r, r.status_code, r.json()["error"]["code"])
    assert statuses.get(422, 0) > len(_ODD_BODIES) // 2, statuses


async def test_lone_surrogate_echoed_in_a_message_is_not_500(client: httpx.AsyncClient) -> None:
    # JSON "\ud800" decodes to a lone surrogate; the 502's message quotes the URL back.
    body = json.dumps({"url": "http://a\ud800.invalid/"}).encode()
    error = error_of(await client.post("/v1/render", content=body, headers=JSON), 502, "navigation_failed")
    assert "\\ud800" in error["message"]


# --- values only Chromium can judge: still the client's input, so 4xx -----------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"headers": {"bad\nname": "x"}},  # Network.setExtraHTTPHeaders: Invalid header name
        {"userAgent": "bad\u0000agent"},  # Emulation.setUserAgentOverride: Invalid characters
        {"cookies": [{"name": "a;b", "value": "c"}]},  # Storage.setCookies: Invalid cookie fields
        {"cookies": [{"name": "a", "value": "b", "domain": "..."}]},
        {"permissions": ["not-a-permission"]},  # grant_permissions: Unknown permission
    ],
)
async def test_options_chromium_refuses_are_4xx(client: httpx.AsyncClient, options: dict[str, Any]) -> None:
    body = json.dumps({"html": "<p>x</p>", **options}).encode()
    r = await client.post("/v1/render", content=body, headers=JSON)
    assert r.status_code == 422, r.text


async def test_lone_surrogate_in_html_sources_is_replaced_not_500(client: httpx.AsyncClient) -> None:
    body = json.dumps({"html": "<p>x\ud800</p>", "css": "p{}\ud800", "javascript": "//\ud800"}).encode()
    r = await client.post("/v1/render", content=body, headers=JSON)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
