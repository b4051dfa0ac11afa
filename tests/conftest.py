"""Shared fixtures: one warm renderer for the session, an HTTP client on the app, a local site.

Everything is real: Debian's Chromium, the ASGI app, a loopback HTTP server.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from PIL import Image

from pagecast.api import create_app
from pagecast.renderer import Renderer
from pagecast.settings import Settings
from tests.site import Site


def make_settings(**overrides: object) -> Settings:
    base: dict[str, object] = {"max_concurrency": 2, "spare_slots": 1, "default_timeout_ms": 15_000}
    return Settings(**{**base, **overrides})  # type: ignore[arg-type]


@pytest.fixture(scope="session")
async def renderer() -> AsyncIterator[Renderer]:
    r = Renderer(make_settings())
    await r.start()
    yield r
    await r.stop()


@pytest.fixture(scope="session")
async def client(renderer: Renderer) -> AsyncIterator[httpx.AsyncClient]:
    """The real app over ASGI, sharing the session renderer (started above, not by lifespan)."""
    app = create_app(renderer.settings, renderer)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pagecast.test", timeout=60) as c:
        yield c


@pytest.fixture(scope="session")
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


def image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGBA")


def pixel(data: bytes, x: int, y: int) -> tuple[int, int, int, int]:
    return image(data).getpixel((x, y))  # type: ignore[return-value]


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 8) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=False))
