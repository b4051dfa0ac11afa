"""A warm, reusable page that is scrubbed back to a clean state after every render.

Creating a context and page costs ~150 ms (a renderer process spawn); reusing a page costs
nothing. Reuse must not leak anything between requests, so each slot owns its own
BrowserContext (concurrent requests never share cookies or storage) and after every render
``scrub`` navigates to a fresh document (new Window: JS globals gone), resets ``window.name``
and history, and clears cookies, permissions, storage of every origin the page touched and
the HTTP cache. Service workers are blocked outright. A slot that fails anything is rebuilt.
"""

from __future__ import annotations

import asyncio
import fnmatch
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from playwright._impl._api_structures import SetCookieParam
from playwright.async_api import BrowserContext, CDPSession, Page, Route

from pagecast.browser.emulation import Emulation, EmulationState
from pagecast.browser.launcher import BrowserProcess
from pagecast.browser.origin import BLANK_URL, DOCUMENT_URL, SYNTHETIC_ORIGIN
from pagecast.models.page import Cookie, PageOptions

_BLANK = b"<!doctype html><html><head><meta charset=utf-8></head><body></body></html>"
SCRUB_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class WarmPage:
    """What a capture function gets: the page and a CDP session attached to it."""

    page: Page
    cdp: CDPSession


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _glob(patterns: list[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(fnmatch.translate(p) for p in patterns))


class Slot:
    def __init__(self, browser: BrowserProcess, context: BrowserContext, page: Page,
                 cdp: CDPSession, default_user_agent: str) -> None:  # fmt: skip
        self.browser = browser
        self.context = context
        self.target = WarmPage(page, cdp)
        self.uses = 0
        self.crashed = False
        self.poisoned = False  # set when a render failed mid-way: rebuild, never reuse
        self._emulation = EmulationState(cdp, default_user_agent)
        self._document = _BLANK
        self._origins: set[str] = set()
        self._blocked_types: frozenset[str] = frozenset()
        self._blocked_urls: re.Pattern[str] | None = None
        self._dirty_headers = False
        self._dirty_permissions = False
        page.on("crash", self._on_crash)
        page.on("framenavigated", lambda frame: self._remember(frame.url))

    @classmethod
    async def open(cls, browser: BrowserProcess, default_user_agent: str) -> Slot:
        context = await browser.browser.new_context(
            no_viewport=True,  # viewport comes from CDP per request; see emulation.py
            service_workers="block",  # a registered worker would outlive the request
            color_scheme="no-preference",
            reduced_motion="no-preference",
            accept_downloads=False,
        )
        try:
            page = await context.new_page()
            cdp = await context.new_cdp_session(page)
            slot = cls(browser, context, page, cdp, default_user_agent)
            await page.route(f"{SYNTHETIC_ORIGIN}/**", slot._serve_synthetic)
            await page.goto(BLANK_URL, wait_until="commit")
        except BaseException:
            await asyncio.shield(context.close())
            raise
        return slot

    @property
    def page(self) -> Page:
        return self.target.page

    def _on_crash(self, _page: Page) -> None:
        self.crashed = True

    def _remember(self, url: str) -> None:
        origin = _origin(url)
        if origin is not None:
            self._origins.add(origin)

    async def _serve_synthetic(self, route: Route) -> None:
        url = route.request.url
        if url == DOCUMENT_URL:
            body = self._document
        elif url == BLANK_URL:
            body = _BLANK
        else:
            # Relative URLs of an html source without baseUrl: fail fast, never hit the network.
            await route.fulfill(status=404, body=b"", content_type="text/plain")
            return
        await route.fulfill(status=200, body=body, content_type="text/html; charset=utf-8")

    async def _filter(self, route: Route) -> None:
        request = route.request
        if request.resource_type in self._blocked_types or (
            self._blocked_urls is not None and self._blocked_urls.match(request.url)
        ):
            await route.abort("blockedbyclient")
        else:
            await route.fallback()

    async def prepare(self, options: PageOptions, emulation: Emulation, document: bytes | None) -> None:
        """Apply one request's settings to the page, before navigation."""
        self.uses += 1
        self.browser.renders += 1
        if document is not None:
            self._document = document
        steps: list[Awaitable[object]] = [self._emulation.apply(emulation)]
        if options.headers:
            self._dirty_headers = True
            steps.append(self.page.set_extra_http_headers(options.headers))
        if options.cookies:
            steps.append(self.context.add_cookies([_cookie(c, options) for c in options.cookies]))
        if options.permissions:
            self._dirty_permissions = True
            steps.append(self.context.grant_permissions(options.permissions))
        if options.block_resource_types or options.block_url_patterns:
            self._blocked_types = frozenset(options.block_resource_types)
            self._blocked_urls = _glob(options.block_url_patterns)
            steps.append(self.page.route("**/*", self._filter))
        await asyncio.gather(*steps)

    async def scrub(self) -> None:
        """Return the page to a state no later request can tell apart from a new one."""
        async with asyncio.timeout(SCRUB_TIMEOUT_S):
            if self._blocked_types or self._blocked_urls is not None:
                await self.page.unroute("**/*", self._filter)
                self._blocked_types, self._blocked_urls = frozenset(), None
            if self._dirty_headers:
                await self.page.set_extra_http_headers({})
                self._dirty_headers = False
            # Navigate first: once the old document is gone, none of its scripts can write
            # storage again behind our back. The new document gets a new Window object.
            self._document = _BLANK
            await self.page.goto(BLANK_URL, wait_until="commit")
            origins, self._origins = self._origins | {SYNTHETIC_ORIGIN}, set()
            cdp = self.target.cdp
            steps: list[Awaitable[object]] = [
                # window.name survives same-site navigations by design; reset it by hand.
                self.page.evaluate("window.name = ''"),
                cdp.send("Page.resetNavigationHistory"),
                cdp.send("Network.clearBrowserCache"),
                self.context.clear_cookies(),
                *(
                    cdp.send("Storage.clearDataForOrigin", {"origin": o, "storageTypes": "all"})
                    for o in origins
                ),
            ]
            if self._dirty_permissions:
                steps.append(self.context.clear_permissions())
                self._dirty_permissions = False
            await asyncio.gather(*steps)

    async def close(self) -> None:
        try:
            async with asyncio.timeout(SCRUB_TIMEOUT_S):
                await self.context.close()
        except Exception:
            pass


def _cookie(cookie: Cookie, options: PageOptions) -> SetCookieParam:
    """Playwright's cookie shape; a cookie without url or domain belongs to the page's URL."""
    spec: dict[str, Any] = {
        k: v
        for k, v in cookie.model_dump(exclude_none=True).items()
        if k in ("name", "value", "url", "domain", "path", "expires", "secure")
    }
    if cookie.http_only is not None:
        spec["httpOnly"] = cookie.http_only
    if cookie.same_site is not None:
        spec["sameSite"] = cookie.same_site
    if "url" not in spec and "domain" not in spec:
        spec["url"] = options.url or options.base_url or DOCUMENT_URL
    if "domain" in spec and "path" not in spec:
        spec["path"] = "/"
    return cast(SetCookieParam, spec)
