from __future__ import annotations

import httpx

from tests.conftest import close_to, pixel


async def test_render_html_returns_png_with_page_colour(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/render", json={"html": "<body style='margin:0;background:#ff0000'></body>"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert close_to(pixel(r.content, 10, 10), (255, 0, 0, 255))
