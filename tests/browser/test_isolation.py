"""Nothing from one request is visible to the next on the same warm page.

The renderer here has exactly one slot, so consecutive requests are guaranteed to reuse the
same page: each test writes state in request 1 (and proves in that request that the write
took effect), then shows request 2 cannot see it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pagecast.models import ScreenshotRequest
from pagecast.renderer import Renderer
from tests.conftest import close_to, make_settings, pixel
from tests.site import Site

GREEN, RED = (0, 255, 0, 255), (255, 0, 0, 255)


@pytest.fixture(scope="module")
async def one_slot() -> AsyncIterator[Renderer]:
    r = Renderer(make_settings(max_concurrency=1, spare_slots=0))
    await r.start()
    yield r
    await r.stop()


def painter(check_js: str) -> str:
    """A page whose background is green when the async JS expression is true, else red."""
    return f"""<!doctype html><body style="margin:0"><script>
      (async () => {{
        let ok = false;
        try {{ ok = await ({check_js}); }} catch (e) {{ ok = false; }}
        document.body.style.background = ok ? '#00ff00' : '#ff0000';
        window.__done = true;
      }})();
    </script></body>"""


async def shot(r: Renderer, js: str, **options: object) -> tuple[int, int, int, int]:
    source = {"html": painter(js)} if "url" not in options else {}
    request = ScreenshotRequest.model_validate(
        {
            **source,
            **options,
            "waitForFunction": "window.__done === true",
            "viewport": {"width": 50, "height": 50},
        }
    )
    artifact = await r.render(request)
    return pixel(artifact.data, 5, 5)


async def written_then_clean(r: Renderer, write: str, clean: str) -> None:
    assert close_to(await shot(r, write), GREEN), "request 1 could not write the state"
    assert close_to(await shot(r, clean), GREEN), "request 2 saw request 1's state"


async def test_js_globals_and_prototypes_do_not_survive(one_slot: Renderer) -> None:
    await written_then_clean(
        one_slot,
        "(window.leaked = 1, Object.prototype.leakedProto = 2, window.leaked === 1)",
        "typeof window.leaked === 'undefined' && ({}).leakedProto === undefined",
    )


async def test_window_name_is_reset(one_slot: Renderer) -> None:
    await written_then_clean(
        one_slot, "(window.name = 'secret', window.name === 'secret')", "window.name === ''"
    )


async def test_local_and_session_storage_are_cleared(one_slot: Renderer) -> None:
    await written_then_clean(
        one_slot,
        "(localStorage.setItem('k', 'v'), sessionStorage.setItem('s', 'v'),"
        " localStorage.getItem('k') === 'v')",
        "localStorage.length === 0 && sessionStorage.length === 0",
    )


async def test_indexeddb_is_cleared(one_slot: Renderer) -> None:
    write = """new Promise((resolve) => {
        const open = indexedDB.open('leak', 1);
        open.onupgradeneeded = () => open.result.createObjectStore('s');
        open.onsuccess = () => {
          const tx = open.result.transaction('s', 'readwrite');
          tx.objectStore('s').put('v', 'k');
          tx.oncomplete = async () => resolve((await indexedDB.databases()).length === 1);
        };
      })"""
    await written_then_clean(one_slot, write, "indexedDB.databases().then(d => d.length === 0)")


async def test_cookies_are_cleared(one_slot: Renderer, site: Site) -> None:
    url = site.add("/cookie-page", "<body>cookies</body>")
    first = "(document.cookie = 'leak=1; max-age=3600', document.cookie.includes('leak=1'))"
    assert close_to(await shot(one_slot, "true", url=url, addScriptTag=[{"content": _paint(first)}]), GREEN)
    await one_slot.render(ScreenshotRequest(url=url))
    assert "cookie" not in site.hits("/cookie-page")[-1].headers


async def test_http_cache_is_cleared(one_slot: Renderer, site: Site) -> None:
    site.add(
        "/cached.js", "window.fromCache = 1;", "text/javascript", headers={"Cache-Control": "max-age=3600"}
    )
    page = site.add("/uses-cache", f'<script src="{site.url("/cached.js")}"></script>')
    await one_slot.render(ScreenshotRequest(url=page))
    await one_slot.render(ScreenshotRequest(url=page))
    assert len(site.hits("/cached.js")) == 2, "the second request was served from the first one's cache"


async def test_permissions_are_revoked(one_slot: Renderer) -> None:
    query = "navigator.permissions.query({name: 'geolocation'}).then(p => p.state === '%s')"
    assert close_to(await shot(one_slot, query % "granted", permissions=["geolocation"]), GREEN)
    assert close_to(await shot(one_slot, query % "prompt"), GREEN)


async def test_service_workers_do_not_survive(one_slot: Renderer, site: Site) -> None:
    site.add("/sw.js", "self.addEventListener('fetch', () => {});", "text/javascript")
    page = site.add("/sw-page", "<body>sw</body>")
    register = (
        "navigator.serviceWorker.register('/sw.js').then(() => true, () => true)"
        ".then(() => navigator.serviceWorker.getRegistrations()).then(r => r.length === 0)"
    )
    # Service workers are blocked, so even the registering request holds no registration...
    assert close_to(
        await shot(one_slot, "true", url=page, addScriptTag=[{"content": _paint(register)}]), GREEN
    )
    # ...and nothing is registered for the next one either.
    check = "navigator.serviceWorker.getRegistrations().then(r => r.length === 0)"
    assert close_to(await shot(one_slot, "true", url=page, addScriptTag=[{"content": _paint(check)}]), GREEN)


async def test_emulation_does_not_leak(one_slot: Renderer) -> None:
    dark = "matchMedia('(prefers-color-scheme: dark)').matches"
    tz = "Intl.DateTimeFormat().resolvedOptions().timeZone"
    assert close_to(
        await shot(one_slot, f"{dark} && {tz} === 'Asia/Tokyo'", colorScheme="dark", timezone="Asia/Tokyo"),
        GREEN,
    )
    assert close_to(await shot(one_slot, f"!{dark} && {tz} !== 'Asia/Tokyo'"), GREEN)


def _paint(check_js: str) -> str:
    return painter(check_js).split("<script>")[1].split("</script>")[0]
