"""Per-request emulation applied to a warm page through CDP instead of a new context.

A request's emulation is computed in full (defaults included) and compared with what the
page currently has, so only changed settings cost a round trip and nothing from the previous
request can linger: every setting is either re-sent or already equal.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from playwright.async_api import CDPSession

from pagecast.models.devices import devices
from pagecast.models.page import PageOptions

DEFAULT_WIDTH, DEFAULT_HEIGHT = 1280, 720


@dataclass(frozen=True)
class Emulation:
    width: int
    height: int
    scale: float
    mobile: bool
    touch: bool
    user_agent: str | None
    locale: str | None
    timezone: str | None
    media: str
    color_scheme: str | None
    scripts: bool


def emulation_for(options: PageOptions, *, default_media: str = "") -> Emulation:
    device = devices()[options.device] if options.device else None
    viewport = options.viewport
    if viewport is not None:
        width, height = viewport.width, viewport.height
        scale, mobile, touch = viewport.device_scale_factor, viewport.is_mobile, viewport.has_touch
    elif device is not None:
        width, height = device["viewport"]["width"], device["viewport"]["height"]
        scale, mobile, touch = device["deviceScaleFactor"], device["isMobile"], device["hasTouch"]
    else:
        width, height, scale, mobile, touch = DEFAULT_WIDTH, DEFAULT_HEIGHT, 1.0, False, False
    user_agent = options.user_agent or (device["userAgent"] if device else None)
    return Emulation(
        width=width, height=height, scale=float(scale), mobile=mobile, touch=touch,
        user_agent=user_agent, locale=options.locale, timezone=options.timezone,
        media=options.emulate_media or default_media, color_scheme=options.color_scheme,
        scripts=options.java_script_enabled,
    )  # fmt: skip


def _commands(e: Emulation, default_user_agent: str) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """CDP calls per setting group; a group is re-sent only when its calls change."""
    features = [{"name": "prefers-color-scheme", "value": e.color_scheme or ""}]
    return {
        "metrics": [("Emulation.setDeviceMetricsOverride", {
            "width": e.width, "height": e.height, "deviceScaleFactor": e.scale, "mobile": e.mobile,
        })],
        "touch": [("Emulation.setTouchEmulationEnabled", {"enabled": e.touch, "maxTouchPoints": 5})],
        "user_agent": [("Emulation.setUserAgentOverride", {
            "userAgent": e.user_agent or default_user_agent,
            **({"acceptLanguage": e.locale} if e.locale else {}),
        })],
        # Chromium refuses to replace an active locale/timezone override, so clear first.
        "locale": [("Emulation.setLocaleOverride", {})]
        + ([("Emulation.setLocaleOverride", {"locale": e.locale})] if e.locale else []),
        "timezone": [("Emulation.setTimezoneOverride", {"timezoneId": ""})]
        + ([("Emulation.setTimezoneOverride", {"timezoneId": e.timezone})] if e.timezone else []),
        "media": [("Emulation.setEmulatedMedia", {"media": e.media, "features": features})],
        "scripts": [("Emulation.setScriptExecutionDisabled", {"value": not e.scripts})],
    }  # fmt: skip


class EmulationState:
    """What one page's CDP session currently has applied."""

    def __init__(self, cdp: CDPSession, default_user_agent: str) -> None:
        self._cdp = cdp
        self._default_user_agent = default_user_agent
        self._applied: dict[str, list[tuple[str, dict[str, Any]]]] = {}

    async def apply(self, emulation: Emulation) -> None:
        wanted = _commands(emulation, self._default_user_agent)
        changed = [group for group, calls in wanted.items() if self._applied.get(group) != calls]
        # Groups are independent, so their round trips overlap; calls inside a group are ordered.
        await asyncio.gather(*(self._send_group(group, wanted[group]) for group in changed))

    async def _send_group(self, group: str, calls: list[tuple[str, dict[str, Any]]]) -> None:
        # Forget the group first: if a call fails half-way, the next request re-sends it all
        # instead of trusting a state the page may not have.
        self._applied.pop(group, None)
        for method, params in calls:
            await self._cdp.send(method, params)
        self._applied[group] = calls
