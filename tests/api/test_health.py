"""Health endpoints and the API documentation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from pagecast.api import create_app
from pagecast.renderer import Renderer
from tests.conftest import make_settings


@pytest.fixture
async def settled(client: httpx.AsyncClient) -> None:
    """Wait (on the pool's own queue) until a slot serves again.

    Earlier tests fail renders on purpose; each failure rebuilds its slot in the background
    and, while every slot is being rebuilt, the pool reports itself not ready (reported as a
    pool bug: readiness flaps though the browser is up). One successful render proves a slot
    exists, and a leased slot stays counted.
    """
    r = await client.post("/v1/render", json={"html": "<p>settle</p>"})
    assert r.status_code == 200, r.text


@pytest.mark.usefixtures("settled")
async def test_health_shape_when_healthy(client: httpx.AsyncClient, renderer: Renderer) -> None:
    r = await client.get("/health")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "healthy"
    checks, capacity = body["checks"], body["capacity"]
    assert {"browser", "memory", "uptime"} <= set(checks)
    assert checks["browser"]["status"] == "up"
    assert checks["browser"]["pid"] == renderer.pool.browser_pid
    assert isinstance(checks["browser"]["pid"], int)
    assert checks["memory"]["status"] == "ok"
    assert 0 < checks["memory"]["browserMb"] <= checks["memory"]["browserLimitMb"]
    assert checks["memory"]["serverMb"] > 0
    assert checks["uptime"] >= 0
    assert {"inFlight", "queued", "max"} <= set(capacity)
    assert capacity["max"] == renderer.settings.max_concurrency == 2
    assert capacity["inFlight"] >= 0
    assert capacity["queued"] == 0


@pytest.mark.usefixtures("settled")
async def test_live_and_ready(client: httpx.AsyncClient) -> None:
    live = await client.get("/health/live")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    ready = await client.get("/health/ready")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


@pytest.fixture
async def idle_client() -> AsyncIterator[httpx.AsyncClient]:
    """The app over a renderer that was never started (no lifespan under ASGITransport)."""
    settings = make_settings()
    app = create_app(settings, Renderer(settings))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://pagecast.test"
    ) as c:
        yield c


async def test_no_browser_means_not_ready_but_live(idle_client: httpx.AsyncClient) -> None:
    health = await idle_client.get("/health")
    assert health.status_code == 503
    assert health.json()["status"] == "unhealthy"
    assert health.json()["checks"]["browser"]["status"] == "down"
    assert (await idle_client.get("/health/ready")).status_code == 503
    assert (await idle_client.get("/health/live")).status_code == 200


# --- documentation -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def _undocumented(openapi: dict[str, Any], schema: str, only: set[str] | None = None) -> list[str]:
    properties = openapi["components"]["schemas"][schema]["properties"]
    return [
        name
        for name, prop in properties.items()
        if (only is None or name in only) and not (prop.get("description") or prop.get("examples"))
    ]


def test_openapi_lists_the_endpoints(openapi: dict[str, Any]) -> None:
    paths = openapi["paths"]
    for path in ("/v1/render", "/v1/pdf", "/v1/devices", "/render", "/render-url", "/health"):
        assert path in paths, path
    render, pdf = paths["/v1/render"]["post"], paths["/v1/pdf"]["post"]
    assert render["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ScreenshotRequest"
    )
    assert pdf["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/PdfRequest")
    assert {"image/png", "image/jpeg", "image/webp"} <= set(render["responses"]["200"]["content"])
    assert "application/pdf" in pdf["responses"]["200"]["content"]
    for status in ("413", "422", "429", "502", "503", "504"):
        assert status in render["responses"], status
    assert "requestId" in openapi["info"]["description"]


def test_openapi_uses_camel_case_names(openapi: dict[str, Any]) -> None:
    screenshot = openapi["components"]["schemas"]["ScreenshotRequest"]["properties"]
    assert {"fullPage", "waitForSelector", "omitBackground", "blockResourceTypes"} <= set(screenshot)
    assert "full_page" not in screenshot
    pdf = openapi["components"]["schemas"]["PdfRequest"]["properties"]
    assert {"printBackground", "pageRanges", "preferCSSPageSize", "displayHeaderFooter"} <= set(pdf)


def test_every_screenshot_option_is_documented(openapi: dict[str, Any]) -> None:
    assert _undocumented(openapi, "ScreenshotRequest") == []


def test_every_pdf_option_is_documented(openapi: dict[str, Any]) -> None:
    # The options PdfRequest adds; the shared ones are checked on ScreenshotRequest above.
    page_options = set(openapi["components"]["schemas"]["ScreenshotRequest"]["properties"])
    own = set(openapi["components"]["schemas"]["PdfRequest"]["properties"]) - page_options
    assert {"margin", "landscape", "scale", "pageRanges", "footerTemplate", "outline"} <= own
    assert _undocumented(openapi, "PdfRequest", own) == []
    assert _undocumented(openapi, "Margin") == []
    assert _undocumented(openapi, "Viewport") == []


async def test_swagger_docs_page(client: httpx.AsyncClient) -> None:
    r = await client.get("/docs")
    assert r.status_code == 200
    assert "swagger-ui" in r.text
    assert "/openapi.json" in r.text
