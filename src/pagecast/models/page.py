"""Options every capture shares: where the page comes from and how it is loaded.

Each option is defined here once; the HTTP API, OpenAPI docs and the CLI are derived from it.
"""

from __future__ import annotations

import re
import zoneinfo
from functools import cache
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from pagecast.models.base import ApiModel
from pagecast.models.devices import devices

ResourceType = Literal[
    "document", "stylesheet", "image", "media", "font", "script", "texttrack", "xhr",
    "fetch", "eventsource", "websocket", "manifest", "other",
]  # fmt: skip
WaitUntil = Literal["load", "domcontentloaded", "networkidle", "commit"]
# The names Playwright (1.65) grants in Chromium. Any other name made grant_permissions throw
# mid-render, which reached the client as a 500 instead of a 422.
Permission = Literal[
    "geolocation", "midi", "midi-sysex", "notifications", "camera", "microphone", "background-sync",
    "ambient-light-sensor", "accelerometer", "gyroscope", "magnetometer", "clipboard-read",
    "clipboard-write", "payment-handler", "storage-access", "local-fonts", "local-network-access",
    "screen-wake-lock",
]  # fmt: skip
MAX_HTML_BYTES = 50 * 1024 * 1024


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


# What Chromium refuses (with a protocol error, so a 500 unless caught here): header names that
# are not RFC 9110 tokens, and CR, LF or NUL in a header value or the user agent.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_HEADER_VALUE = re.compile(r"[\r\n\x00]")
# Cookie name and value: no control characters (tab included) or ";", the name no "=", and no
# whitespace at either end (Chromium's "Invalid cookie fields").
_BAD_COOKIE_TEXT = re.compile(r"[\x00-\x1f\x7f;]|^\s|\s$")


def _header_value(value: str, what: str) -> str:
    if _BAD_HEADER_VALUE.search(value):
        raise PydanticCustomError("header", f"{what} must not contain CR, LF or NUL")
    return value


def _http_url(value: str) -> str:
    # Only http(s): file:, chrome:, data: and javascript: URLs would read the server's own
    # disk or browser internals.
    if not value.lower().startswith(("http://", "https://")) or len(value) < 8:
        raise PydanticCustomError("url_scheme", "must be an http:// or https:// URL")
    return value


class Viewport(ApiModel):
    width: int = Field(1280, ge=1, le=16384, examples=[1280])
    height: int = Field(720, ge=1, le=16384, examples=[720])
    device_scale_factor: float = Field(1, gt=0, le=8, examples=[2], description="Pixel density.")
    is_mobile: bool = Field(False, description="Honour `<meta name=viewport>` as phones do.")
    has_touch: bool = Field(False, description="Report touch support to the page.")


class Cookie(ApiModel):
    name: str = Field(min_length=1, examples=["session"])
    value: str = Field(examples=["abc123"])
    url: str | None = Field(None, description="Defaults to the page's URL.")
    domain: str | None = Field(None, examples=[".example.com"])
    path: str | None = Field(None, examples=["/"])
    expires: float | None = Field(None, description="Unix time in seconds.")
    http_only: bool | None = None
    secure: bool | None = None
    same_site: Literal["Strict", "Lax", "None"] | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @field_validator("name", "value")
    @classmethod
    def _text(cls, value: str) -> str:
        if _BAD_COOKIE_TEXT.search(value):
            raise PydanticCustomError(
                "cookie", "no control characters, ';' or whitespace at either end in a cookie"
            )
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if "=" in value:
            raise PydanticCustomError("cookie", "a cookie name cannot contain '='")
        return value

    @model_validator(mode="after")
    def _url_or_domain(self) -> Self:
        if self.url is not None and self.domain is not None:
            raise PydanticCustomError("cookie", "give url or domain, not both")
        return self


class Tag(ApiModel):
    """A style or script to add after load: a URL or inline content."""

    url: str | None = Field(None, examples=["https://cdn.example.com/print.css"])
    content: str | None = Field(None, examples=["h1 { color: red }"])

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.url is None) == (self.content is None):
            raise PydanticCustomError("tag", "give exactly one of url or content")
        if self.url is not None:
            _http_url(self.url)
        return self


class PageOptions(ApiModel):
    """Source, emulation and waiting: everything before the capture itself."""

    # --- source: exactly one of url / html ---
    url: str | None = Field(None, description="Page to load.", examples=["https://example.com"])
    html: str | None = Field(
        None,
        description="Document to render, served at a synthetic origin with a real navigation.",
        examples=["<h1>Hello</h1>"],
    )
    css: str | None = Field(None, description="Stylesheet added to `html`.", examples=["h1{color:red}"])
    javascript: str | None = Field(
        None, description="Script run at the end of `html`'s body.", examples=["document.title='x'"]
    )
    base_url: str | None = Field(
        None, description="URL that relative links in `html` resolve against.",
        examples=["https://example.com/assets/"],
    )  # fmt: skip

    # --- emulation ---
    viewport: Viewport | None = Field(None, description="Defaults to 1280x720, or the device's.")
    device: str | None = Field(None, description="A Playwright device name.", examples=["iPhone 13"])
    user_agent: str | None = Field(None, examples=["Mozilla/5.0 (X11; Linux x86_64) ..."])
    locale: str | None = Field(None, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", examples=["de-DE"])
    timezone: str | None = Field(None, description="IANA zone.", examples=["Asia/Tokyo"])
    color_scheme: Literal["light", "dark", "no-preference"] | None = Field(None, examples=["dark"])
    emulate_media: Literal["screen", "print"] | None = Field(
        None, description="CSS media type; PDFs default to print.", examples=["screen"]
    )
    java_script_enabled: bool = Field(True, description="Run the page's scripts.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra HTTP headers on every request.",
        examples=[{"Authorization": "Bearer token"}],
    )  # fmt: skip
    cookies: list[Cookie] = Field(
        default_factory=list, max_length=200, description="Cookies set before loading.",
        examples=[[{"name": "session", "value": "abc123"}]],
    )  # fmt: skip
    permissions: list[Permission] = Field(
        default_factory=list, description="Browser permissions to grant.", examples=[["geolocation"]]
    )

    # --- network ---
    block_resource_types: list[ResourceType] = Field(default_factory=list, examples=[["image", "font"]])
    block_url_patterns: list[str] = Field(
        default_factory=list, description="Glob patterns (`*` any characters).",
        examples=[["*://ads.example.com/*", "*.mp4"]],
    )  # fmt: skip

    # --- waiting ---
    wait_until: WaitUntil = Field("load", description="Navigation event to wait for.")
    wait_for_selector: str | None = Field(None, description="Wait until visible.", examples=["#chart"])
    wait_for_function: str | None = Field(
        None, description="JS expression awaited until truthy.", examples=["window.ready === true"]
    )
    wait_for: int = Field(0, ge=0, le=60_000, description="Extra delay in ms.", examples=[500])
    wait_for_fonts: bool = Field(True, description="Wait for `document.fonts.ready`.")
    scroll_page: bool = Field(False, description="Scroll to the end and back to trigger lazy loading.")

    # --- page changes before capture ---
    add_style_tag: list[Tag] = Field(
        default_factory=list, description="Stylesheets added after load (url or content).",
        examples=[[{"content": ".banner { display: none }"}]],
    )  # fmt: skip
    add_script_tag: list[Tag] = Field(
        default_factory=list, description="Scripts run after load (url or content).",
        examples=[[{"content": "document.body.classList.add('print')"}]],
    )  # fmt: skip
    hide_selectors: list[str] = Field(default_factory=list, examples=[[".cookie-banner"]])

    timeout: int | None = Field(
        None, ge=100, description="Render timeout in ms (default 30000), queueing not counted.",
        examples=[30000],
    )  # fmt: skip

    @field_validator("url", "base_url")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _TOKEN.fullmatch(name):
                raise PydanticCustomError(
                    "header", "header name {name} is not a valid token", {"name": repr(name)}
                )
            _header_value(text, f"header {name}")
        return value

    @field_validator("user_agent")
    @classmethod
    def _user_agent(cls, value: str | None) -> str | None:
        return None if value is None else _header_value(value, "userAgent")

    @field_validator("html")
    @classmethod
    def _html_size(cls, value: str | None) -> str | None:
        if value is not None and len(value) > MAX_HTML_BYTES // 4 and len(value.encode()) > MAX_HTML_BYTES:
            raise PydanticCustomError("payload_too_large", "html is larger than 50 MB")
        return value

    @field_validator("device")
    @classmethod
    def _device(cls, value: str | None) -> str | None:
        if value is not None and value not in devices():
            raise PydanticCustomError("device", "unknown device; GET /v1/devices lists them")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is not None and value not in _timezones():
            raise PydanticCustomError("timezone", "unknown IANA time zone")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.url is None) == (self.html is None):
            raise PydanticCustomError("source", "give exactly one of url or html")
        if self.html is None and (self.css or self.javascript or self.base_url):
            raise PydanticCustomError("source", "css, javascript and baseUrl apply only to html")
        # Waiting for a script or stylesheet to load needs its load event, which is script: with
        # scripts disabled the render would hang until its timeout (and a script cannot run).
        if not self.java_script_enabled and (self.add_script_tag or any(t.url for t in self.add_style_tag)):
            raise PydanticCustomError(
                "javascript", "addScriptTag, and addStyleTag with a url, need javaScriptEnabled"
            )
        return self
