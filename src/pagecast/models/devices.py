"""Playwright's device descriptors, snapshotted so validation needs no browser.

Regenerate with ``scripts/update_devices.py`` after upgrading Playwright.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from typing_extensions import TypedDict


class Size(TypedDict):
    width: int
    height: int


class Device(TypedDict):
    viewport: Size
    userAgent: str
    deviceScaleFactor: float
    isMobile: bool
    hasTouch: bool


@cache
def devices() -> dict[str, Device]:
    text = resources.files(__package__).joinpath("devices.json").read_text()
    loaded: dict[str, Device] = json.loads(text)
    return loaded
