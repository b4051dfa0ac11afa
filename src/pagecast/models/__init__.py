"""Request models: each option is defined once here."""

from pagecast.models.page import Cookie, PageOptions, Tag, Viewport
from pagecast.models.pdf import Margin, PdfRequest
from pagecast.models.screenshot import Clip, ScreenshotRequest

__all__ = [
    "Clip", "Cookie", "Margin", "PageOptions", "PdfRequest", "ScreenshotRequest", "Tag", "Viewport",
]  # fmt: skip
