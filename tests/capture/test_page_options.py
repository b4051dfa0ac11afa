"""Every source, emulation, network and waiting option of ``PageOptions``, via ``POST /v1/render``.

Each test fails if its option were ignored. Page state is read in one of two ways: the page's
own JS paints the body lime when a condition holds (red otherwise) and the test checks a
pixel, or the loopback ``site`` records the requests Chromium made (headers included).
Waiting options are proven with pages that change only later (a ``setTimeout``) or with
resources that never answer, so no test sleeps to synchronise.
"""

from __future__ import annotations

import io
import itertools
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from PIL import Image

from pagecast.capture.document import build_document
from pagecast.models.page import MAX_HTML_BYTES, PageOptions
from tests.conftest import close_to, pixel
from tests.site import Site

RED, LIME, BLUE = (255, 0, 0, 255), (0, 255, 0, 255), (0, 0, 255, 255)
SMALL = {"width": 200, "height": 150}  # every test that does not test the viewport: fast to encode
_paths = itertools.count()


def unique(name: str) -> str:
    """A site path no other test uses (the site lives for the whole session)."""
    return f"/opt/{next(_paths)}/{name}"


async def post(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post("/v1/render", json={"viewport": SMALL, **body})


async def render(client: httpx.AsyncClient, **body: Any) -> bytes:
    r = await post(client, **body)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    return r.content


async def colour(client: httpx.AsyncClient, **body: Any) -> tuple[int, int, int, int]:
    return pixel(await render(client, **body), 100, 75)


def paint(condition_js: str, head: str = "", body: str = "") -> str:
    """A page painted lime when the JS condition holds while it is parsed, red otherwise."""
    return f"""<!doctype html><html><head>{head}</head><body style="margin:0">{body}<script>
      let ok = false;
      try {{ ok = Boolean({condition_js}); }} catch (e) {{ ok = false; }}
      document.body.style.background = ok ? '#00ff00' : '#ff0000';
    </script></body></html>"""


def paint_later(condition_js: str) -> str:
    """Like ``paint`` for a promise; sets ``window.done`` once painted (for waitForFunction)."""
    return f"""<!doctype html><html><body style="margin:0;background:#808080"><script>
      (async () => {{
        let ok = false;
        try {{ ok = Boolean(await ({condition_js})); }} catch (e) {{ ok = false; }}
        document.body.style.background = ok ? '#00ff00' : '#ff0000';
        window.done = true;
      }})();
    </script></body></html>"""


def png(rgb: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), rgb).save(out, "PNG")
    return out.getvalue()


# --- source ---


async def test_url_source_is_loaded_from_the_site(client: httpx.AsyncClient, site: Site) -> None:
    path = unique("page")
    url = site.add(path, "<body style='margin:0;background:#0000ff'></body>")
    assert close_to(await colour(client, url=url), BLUE)
    assert len(site.hits(path)) == 1


@pytest.mark.parametrize("html", [
    "<html><head><style>body{background:#ff0000}</style></head><body></body></html>",
    "<body style='margin:0'></body>",  # no </head>: the style goes at the end
])  # fmt: skip
async def test_css_is_added_after_the_pages_own_styles(client: httpx.AsyncClient, html: str) -> None:
    # Same specificity, so only coming later in the document makes it win.
    assert close_to(await colour(client, html=html, css="body{margin:0;background:#00ff00}"), LIME)


async def test_javascript_runs_at_the_end_of_the_body(client: httpx.AsyncClient) -> None:
    html = "<body style='margin:0;background:#ff0000'><div id='last'></div></body>"
    # Sees the body's last element, and a literal </script> in the code does not end it early.
    js = "const s = '</script>'; if (document.getElementById('last')) document.body.style.background = '#0f0'"
    assert close_to(await colour(client, html=html, javascript=js), LIME)


async def test_javascript_goes_before_the_real_closing_body_tag(client: httpx.AsyncClient) -> None:
    # "</body>" inside the page's own script is text: inserting our script there broke the page's.
    html = (
        "<body style='margin:0;background:#ff0000'>"
        "<script>window.text = '</body>'; window.pageRan = true</script><!-- </body> --></body>"
    )
    js = "if (window.pageRan) document.body.style.background = '#00ff00'"
    assert close_to(await colour(client, html=html, javascript=js), LIME)


async def test_css_goes_before_the_real_closing_head_tag(client: httpx.AsyncClient) -> None:
    # A "</head>" in a head script is text: the style inserted there became part of a JS string.
    html = "<html><head><script>window.text = '</head>'</script></head><body style='margin:0'></body></html>"
    assert close_to(await colour(client, html=html, css="body{background:#00ff00}"), LIME)


def test_building_the_document_is_linear_on_hostile_html() -> None:
    # "<head " repeated (no ">") made the old head pattern backtrack for ~45 s on 120 KB, on the
    # event loop. Every tag pattern is tried: base (<head>), css (</head>), javascript (</body>).
    for hostile in ("<head " * 20_000, "<html " * 20_000, "</body " * 20_000, "<script " * 20_000):
        options = PageOptions(html=hostile, baseUrl="http://127.0.0.1/", css="p{}", javascript="1")
        started = time.monotonic()
        build_document(options)
        assert time.monotonic() - started < 1, hostile[:10]


async def test_base_url_resolves_relative_image_and_stylesheet(client: httpx.AsyncClient, site: Site) -> None:
    folder = unique("assets/")
    site.add(folder + "pic.png", png((0, 255, 0)), "image/png")
    site.add(folder + "style.css", "body{background:#0000ff}", "text/css")
    html = (
        "<html><head><link rel='stylesheet' href='style.css'></head><body style='margin:0'>"
        "<img src='pic.png' style='position:absolute;left:0;top:0;width:50px;height:50px'></body></html>"
    )
    shot = await render(client, html=html, baseUrl=site.url(folder))
    assert len(site.hits(folder + "pic.png")) == 1
    assert len(site.hits(folder + "style.css")) == 1
    assert close_to(pixel(shot, 10, 10), LIME)
    assert close_to(pixel(shot, 150, 100), BLUE)


# --- waiting ---


@pytest.mark.parametrize(("wait_until", "status"), [
    ("commit", 200), ("domcontentloaded", 200), ("load", 504), ("networkidle", 504),
])  # fmt: skip
async def test_wait_until_chooses_the_navigation_event(
    client: httpx.AsyncClient, site: Site, wait_until: str, status: int
) -> None:
    # An image that never answers holds back `load` (and network idle) forever, but not
    # the response (commit) or the parsed document (domcontentloaded).
    hang = unique("hang.png")
    site.add(hang, b"", "image/png", hang=True)
    url = site.add(unique("page"), f"<body><img src='{hang}'></body>")
    r = await post(client, url=url, waitUntil=wait_until, timeout=1000)
    assert r.status_code == status, r.text
    if status == 504:
        assert r.json()["error"]["code"] == "render_timeout"
        assert f"waitUntil={wait_until}" in r.json()["error"]["message"]


LATER = "<body style='margin:0;background:#ff0000'><script>setTimeout(() => {{ {} }}, {})</script></body>"


async def test_wait_for_selector_waits_for_a_late_element(client: httpx.AsyncClient) -> None:
    add = (
        "const d = document.createElement('div'); d.id = 'late';"
        "d.style.cssText = 'position:fixed;inset:0;background:#00ff00'; document.body.append(d)"
    )
    assert close_to(await colour(client, html=LATER.format(add, 150), waitForSelector="#late"), LIME)


async def test_wait_for_function_waits_until_truthy(client: httpx.AsyncClient) -> None:
    html = LATER.format("document.body.style.background = '#0f0'; window.ready = true", 150)
    assert close_to(await colour(client, html=html, waitForFunction="window.ready === true"), LIME)


async def test_wait_for_delays_the_capture(client: httpx.AsyncClient) -> None:
    html = LATER.format("document.body.style.background = '#0f0'", 150)
    assert close_to(await colour(client, html=html, waitFor=700), LIME)


@pytest.mark.parametrize(("wait_for_fonts", "status"), [(True, 504), (False, 200)])
async def test_wait_for_fonts_waits_for_pending_web_fonts(
    client: httpx.AsyncClient, site: Site, wait_for_fonts: bool, status: int
) -> None:
    # A web font that never arrives keeps document.fonts.ready pending forever.
    font = site.url(unique("font.woff2"))
    site.add(urlsplit(font).path, b"", "font/woff2", hang=True)
    html = f"""<body style="margin:0"><script>
      const face = new FontFace('slow', 'url({font})');
      document.fonts.add(face);
      face.load().catch(() => {{}});
    </script><p style="font-family:slow">text</p></body>"""
    r = await post(client, html=html, waitUntil="domcontentloaded", waitForFonts=wait_for_fonts, timeout=1000)
    assert r.status_code == status, r.text
    if status == 504:
        assert "web fonts" in r.json()["error"]["message"]


# 5000 px is past Chromium's lazy-loading distance (1250-2500 px), so only scrolling loads it.
LAZY_IO = """<body style="margin:0"><div style="height:100px;background:#00ff00"></div>
  <div style="height:5000px"></div><img id="lazy" data-src="{src}" width="10" height="10">
  <script>new IntersectionObserver((entries, observer) => entries.forEach(e => {{
    if (e.isIntersecting) {{ e.target.src = e.target.dataset.src; observer.disconnect(); }}
  }})).observe(document.getElementById('lazy'))</script></body>"""
LAZY_NATIVE = """<body style="margin:0"><div style="height:100px;background:#00ff00"></div>
  <div style="height:5000px"></div><img loading="lazy" src="{src}" width="10" height="10"></body>"""


@pytest.mark.parametrize("page", [LAZY_IO, LAZY_NATIVE], ids=["intersection-observer", "loading-lazy"])
@pytest.mark.parametrize("scroll", [True, False])
async def test_scroll_page_triggers_lazy_loading(
    client: httpx.AsyncClient, site: Site, page: str, scroll: bool
) -> None:
    image = unique("lazy.png")
    site.add(image, png((0, 0, 255)), "image/png")
    url = site.add(unique("page"), page.format(src=image))
    # A tall viewport: fewer scroll steps (each waits a frame), so the test stays fast.
    shot = await render(client, url=url, scrollPage=scroll, viewport={"width": 200, "height": 1000})
    assert len(site.hits(image)) == (1 if scroll else 0)
    assert close_to(pixel(shot, 10, 10), LIME)  # scrolled back to the top for the capture


# --- network ---

ASSETS = "<html><head><link rel='stylesheet' href='{css}'></head><body><img src='{img}'></body></html>"


@pytest.mark.parametrize(("blocked", "kept"), [("image", "stylesheet"), ("stylesheet", "image")])
async def test_block_resource_types(client: httpx.AsyncClient, site: Site, blocked: str, kept: str) -> None:
    paths = {"image": unique("pic.png"), "stylesheet": unique("style.css")}
    site.add(paths["image"], png((0, 0, 255)), "image/png")
    site.add(paths["stylesheet"], "body{background:#00f}", "text/css")
    url = site.add(unique("page"), ASSETS.format(css=paths["stylesheet"], img=paths["image"]))
    await render(client, url=url, blockResourceTypes=[blocked])
    assert site.hits(paths[blocked]) == []
    assert len(site.hits(paths[kept])) == 1


async def test_block_url_patterns(client: httpx.AsyncClient, site: Site) -> None:
    folder = unique("")
    for name in ("ads/banner.png", "ok/photo.png", "ok/clip.gif"):
        site.add(folder + name, png((0, 0, 255)), "image/png")
    body = "".join(f"<img src='{folder}{n}'>" for n in ("ads/banner.png", "ok/photo.png", "ok/clip.gif"))
    url = site.add(unique("page"), f"<body>{body}</body>")
    await render(client, url=url, blockUrlPatterns=["*/ads/*", "*.gif"])
    assert site.hits(folder + "ads/banner.png") == []
    assert site.hits(folder + "ok/clip.gif") == []
    assert len(site.hits(folder + "ok/photo.png")) == 1


async def test_headers_are_sent_with_every_request(client: httpx.AsyncClient, site: Site) -> None:
    image = unique("pic.png")
    site.add(image, png((0, 0, 255)), "image/png")
    page = unique("page")
    url = site.add(page, f"<body><img src='{image}'></body>")
    await render(client, url=url, headers={"X-Pagecast-Test": "hello", "Authorization": "Bearer t0k"})
    for path in (page, image):
        [seen] = site.hits(path)
        assert seen.headers["x-pagecast-test"] == "hello", path
        assert seen.headers["authorization"] == "Bearer t0k", path


async def test_cookies_are_sent_and_scoped(client: httpx.AsyncClient, site: Site) -> None:
    page = unique("page")
    url = site.add(page, paint("document.cookie.includes('implicit=1')"))
    cookies = [
        {"name": "implicit", "value": "1"},  # no url: belongs to the page's URL
        {"name": "explicit", "value": "2", "url": site.url("/")},
        {"name": "elsewhere", "value": "3", "domain": "127.0.0.1", "path": "/somewhere-else"},
        {"name": "hidden", "value": "4", "url": site.url("/"), "httpOnly": True},
    ]
    assert close_to(await colour(client, url=url, cookies=cookies), LIME)
    [seen] = site.hits(page)
    sent = dict(pair.split("=", 1) for pair in seen.headers["cookie"].split("; "))
    assert sent == {"implicit": "1", "explicit": "2", "hidden": "4"}


async def test_cookie_without_url_on_html_source_belongs_to_base_url(
    client: httpx.AsyncClient, site: Site
) -> None:
    # The html is served from the synthetic origin, so the site is cross-site to it and a
    # (default SameSite=Lax) cookie reaches the site only on a top-level navigation: the page
    # navigates to the site after load, and the capture waits for the landing page.
    folder = unique("")
    site.add(folder + "landing.html", paint("document.cookie === 'c=5'", body="<b id='landed'>landed</b>"))
    html = "<script>addEventListener('load', () => setTimeout(() => location.href = 'landing.html'))</script>"
    shot = await render(
        client, html=html, baseUrl=site.url(folder), cookies=[{"name": "c", "value": "5"}],
        waitForSelector="#landed", waitUntil="domcontentloaded",
    )  # fmt: skip
    assert site.hits(folder + "landing.html")[0].headers.get("cookie") == "c=5"
    assert close_to(pixel(shot, 100, 75), LIME)


@pytest.mark.parametrize("option", [
    {"headers": {"bad header": "x"}},
    {"headers": {"X-Split": "a\r\nX-Injected: b"}},
    {"userAgent": "agent\nX-Injected: b"},
    {"permissions": ["no-such-permission"]},
    {"cookies": [{"name": "a", "value": "1", "url": "http://127.0.0.1/", "domain": "127.0.0.1"}]},
    {"cookies": [{"name": "a=b", "value": "1"}]},
    {"cookies": [{"name": "a", "value": "1; b=2"}]},
])  # fmt: skip
async def test_options_chromium_would_refuse_are_422_not_500(
    client: httpx.AsyncClient, option: dict[str, Any]
) -> None:
    # Chromium rejects these with a protocol error mid-render, which surfaced as a 500.
    r = await post(client, html="<p>x</p>", **option)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_request"


# --- emulation ---


async def test_user_agent_is_sent_and_reported(client: httpx.AsyncClient, site: Site) -> None:
    agent = "PagecastTest/1.0 (custom)"
    page = unique("page")
    url = site.add(page, paint(f"navigator.userAgent === {agent!r}"))
    assert close_to(await colour(client, url=url, userAgent=agent), LIME)
    assert site.hits(page)[0].headers["user-agent"] == agent


async def test_default_user_agent_is_not_headless(client: httpx.AsyncClient, site: Site) -> None:
    page = unique("page")
    url = site.add(
        page, paint("!navigator.userAgent.includes('Headless') && navigator.userAgent.includes('Chrome/')")
    )
    assert close_to(await colour(client, url=url), LIME)
    agent = site.hits(page)[0].headers["user-agent"]
    assert "HeadlessChrome" not in agent
    assert "Chrome/" in agent


async def test_locale_sets_language_formatting_and_accept_language(
    client: httpx.AsyncClient, site: Site
) -> None:
    page = unique("page")
    check = "navigator.language === 'de-DE' && new Intl.NumberFormat().format(1234.5) === '1.234,5'"
    url = site.add(page, paint(check))
    assert close_to(await colour(client, url=url, locale="de-DE"), LIME)
    assert site.hits(page)[0].headers["accept-language"].startswith("de-DE")


@pytest.mark.parametrize(("zone", "offset"), [("Asia/Tokyo", -540), ("Pacific/Honolulu", 600)])
async def test_timezone(client: httpx.AsyncClient, zone: str, offset: int) -> None:
    check = (
        f"Intl.DateTimeFormat().resolvedOptions().timeZone === '{zone}'"
        f" && new Date(2020, 0, 1).getTimezoneOffset() === {offset}"
    )
    assert close_to(await colour(client, html=paint(check), timezone=zone), LIME)


SCHEMES = """<style>body{margin:0;background:#808080}
  @media (prefers-color-scheme: dark) { body { background: #00ff00 } }
  @media (prefers-color-scheme: light) { body { background: #0000ff } }</style>"""


@pytest.mark.parametrize(("scheme", "expected"), [("dark", LIME), ("light", BLUE)])
async def test_color_scheme(client: httpx.AsyncClient, scheme: str, expected: tuple[int, ...]) -> None:
    assert close_to(await colour(client, html=SCHEMES, colorScheme=scheme), expected)


MEDIA = """<style>body{margin:0;background:#808080}
  @media print { body { background: #00ff00 } }
  @media screen { body { background: #0000ff } }</style>"""


@pytest.mark.parametrize(("media", "expected"), [("print", LIME), ("screen", BLUE), (None, BLUE)])
async def test_emulate_media(client: httpx.AsyncClient, media: str | None, expected: tuple[int, ...]) -> None:
    options = {"emulateMedia": media} if media else {}
    assert close_to(await colour(client, html=MEDIA, **options), expected)


@pytest.mark.parametrize(("enabled", "expected"), [(False, RED), (True, LIME)])
async def test_java_script_enabled(
    client: httpx.AsyncClient, enabled: bool, expected: tuple[int, ...]
) -> None:
    html = "<body style='margin:0;background:#ff0000'><script>document.body.style.background='#0f0'</script>"
    assert close_to(await colour(client, html=html, javaScriptEnabled=enabled), expected)


async def test_style_tags_and_hide_selectors_work_without_java_script(client: httpx.AsyncClient) -> None:
    # They used to wait for a load event, which never fires without scripts: a hang to timeout.
    html = (
        "<body style='margin:0;background:#ff0000'><div class='banner' style='height:50px;background:#00f'>"
    )
    shot = await render(
        client, html=html, javaScriptEnabled=False, timeout=3000,
        addStyleTag=[{"content": "body{background:#00ff00 !important}"}], hideSelectors=[".banner"],
    )  # fmt: skip
    assert close_to(pixel(shot, 10, 25), LIME)
    assert close_to(pixel(shot, 100, 100), LIME)


async def test_scroll_page_without_java_script_loads_lazy_images(
    client: httpx.AsyncClient, site: Site
) -> None:
    # Without scripting, lazy loading is off (HTML spec), so images load at once and the scroll
    # (whose frame waits need the page's timers) is skipped instead of hanging.
    image = unique("lazy.png")
    site.add(image, png((0, 0, 255)), "image/png")
    url = site.add(unique("page"), LAZY_NATIVE.format(src=image))
    await render(client, url=url, scrollPage=True, javaScriptEnabled=False, timeout=3000)
    assert len(site.hits(image)) == 1


@pytest.mark.parametrize("tags", [
    {"addScriptTag": [{"content": "window.x = 1"}]},
    {"addStyleTag": [{"url": "http://127.0.0.1:9/never.css"}]},
])  # fmt: skip
async def test_tags_that_need_java_script_are_rejected_without_it(
    client: httpx.AsyncClient, tags: dict[str, Any]
) -> None:
    r = await post(client, html="<p>x</p>", javaScriptEnabled=False, **tags)
    assert r.status_code == 422, r.text
    assert "need javaScriptEnabled" in r.json()["error"]["message"]


@pytest.mark.parametrize("permissions", [["geolocation"], []])
async def test_permissions_are_granted(client: httpx.AsyncClient, permissions: list[str]) -> None:
    html = paint_later("navigator.permissions.query({name: 'geolocation'}).then(s => s.state === 'granted')")
    shot = await colour(client, html=html, permissions=permissions, waitForFunction="window.done === true")
    assert close_to(shot, LIME if permissions else RED)


# --- page changes after load ---

PAGE_RED = "<body style='margin:0;background:#ff0000'></body>"


async def test_add_style_tag_content_and_url(client: httpx.AsyncClient, site: Site) -> None:
    css = unique("late.css")
    site.add(css, "div#box{position:fixed;inset:0;background:#0000ff}", "text/css")
    html = "<body style='margin:0;background:#ff0000'><div id='box'></div></body>"
    tags = [{"content": "body{background:#00ff00 !important}"}, {"url": site.url(css)}]
    shot = await render(client, html=html, addStyleTag=tags)
    assert len(site.hits(css)) == 1
    assert close_to(pixel(shot, 100, 75), BLUE)  # the url tag's rule applied

    shot = await render(client, html=html, addStyleTag=tags[:1])
    assert close_to(pixel(shot, 100, 75), LIME)  # the content tag's rule applied


async def test_add_script_tag_content_and_url(client: httpx.AsyncClient, site: Site) -> None:
    js = unique("late.js")
    site.add(js, "window.fromUrl = 1;", "text/javascript")
    content = "document.body.style.background = window.fromUrl === 1 ? '#0f0' : '#00f'"
    tags = [{"url": site.url(js)}, {"content": content}]  # in order: the url script ran first
    assert close_to(await colour(client, html=PAGE_RED, addScriptTag=tags), LIME)
    assert len(site.hits(js)) == 1


async def test_hide_selectors(client: httpx.AsyncClient) -> None:
    html = (
        "<body style='margin:0;background:#0000ff'>"
        "<div class='banner' style='height:50px;background:#ff0000'></div>"
        "<div id='ad' style='height:50px;background:#ff0000'></div>"
        "<div style='height:50px;background:#00ff00'></div></body>"
    )
    shot = await render(client, html=html, hideSelectors=[".banner", "#ad"])
    assert close_to(pixel(shot, 10, 25), BLUE)
    assert close_to(pixel(shot, 10, 75), BLUE)
    assert close_to(pixel(shot, 10, 125), LIME)  # hidden, not removed: layout is unchanged


# --- limits ---


async def test_timeout_gives_504_render_timeout(client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    r = await post(client, html="<p>never ready</p>", waitForFunction="window.never === true", timeout=1000)
    elapsed = time.monotonic() - started
    assert r.status_code == 504, r.text
    error = r.json()["error"]
    assert error["code"] == "render_timeout"
    assert "waiting for function" in error["message"]
    assert 1.0 <= elapsed < 5, elapsed


@pytest.mark.parametrize("char", ["x", "é"])  # bytes count, not characters
async def test_html_over_50_mb_is_413(client: httpx.AsyncClient, char: str) -> None:
    html = char * (MAX_HTML_BYTES // len(char.encode()) + 1)
    body = orjson.dumps({"html": html})
    r = await client.post("/v1/render", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text[:300]
    assert r.json()["error"]["code"] == "payload_too_large"
