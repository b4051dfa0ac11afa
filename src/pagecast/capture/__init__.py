"""Captures: each takes a loaded page and its request and returns an Artifact.

``CAPTURES`` names each kind once; the API, the CLI and (later) the job queue look kinds up here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pagecast.browser.slot import WarmPage
from pagecast.capture.artifact import Artifact
from pagecast.capture.pdf import capture_pdf
from pagecast.capture.screenshot import capture_screenshot
from pagecast.models.page import PageOptions
from pagecast.models.pdf import PdfRequest
from pagecast.models.screenshot import ScreenshotRequest

R = TypeVar("R", bound=PageOptions)


@dataclass(frozen=True)
class Capture(Generic[R]):
    kind: str
    request_model: type[R]
    run: Callable[[WarmPage, R], Awaitable[Artifact]]
    default_media: str = ""  # CSS media type when the request sets none


SCREENSHOT = Capture("render", ScreenshotRequest, capture_screenshot)
PDF = Capture("pdf", PdfRequest, capture_pdf, default_media="print")
CAPTURES: dict[str, Capture[Any]] = {c.kind: c for c in (SCREENSHOT, PDF)}


def capture_for(request: PageOptions) -> Capture[Any]:
    """The capture a request model belongs to."""
    for capture in CAPTURES.values():
        if type(request) is capture.request_model:
            return capture
    raise TypeError(f"no capture for {type(request).__name__}")


__all__ = ["CAPTURES", "PDF", "SCREENSHOT", "Artifact", "Capture", "capture_for"]
