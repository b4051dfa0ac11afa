"""PDF capture through Chromium's print pipeline."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Error as PlaywrightError

from pagecast.browser.slot import WarmPage
from pagecast.capture.artifact import Artifact
from pagecast.errors import ContentError
from pagecast.models.pdf import PdfRequest

# How Playwright reports Chromium rejecting printToPDF's parameters for this document (a page
# range past the last page, margins larger than the paper, a paper size it cannot lay out).
_PRINT_REFUSED = "Protocol error (Page.printToPDF)"


def pdf_options(request: PdfRequest) -> dict[str, Any]:
    """Keyword arguments for Playwright's ``page.pdf`` (which maps to ``Page.printToPDF``)."""
    options: dict[str, Any] = {
        "landscape": request.landscape,
        "print_background": request.print_background,
        "scale": request.scale,
        "display_header_footer": request.display_header_footer,
        "prefer_css_page_size": request.prefer_css_page_size,
        "outline": request.outline,
        # Chromium builds the outline from the structure tree, so an untagged PDF silently
        # gets no outline at all: outline implies tagged.
        "tagged": request.tagged or request.outline,
    }
    if request.width is not None:
        options["width"], options["height"] = request.width, request.height
    else:
        options["format"] = request.format or "Letter"
    if request.margin is not None:
        options["margin"] = request.margin.model_dump(exclude_none=True)
    if request.page_ranges:
        options["page_ranges"] = request.page_ranges
    if request.display_header_footer:
        # Chromium prints its own default header (date, title) when a template is missing;
        # an empty span means "nothing" instead.
        options["header_template"] = request.header_template or "<span></span>"
        options["footer_template"] = request.footer_template or "<span></span>"
    return options


async def capture_pdf(target: WarmPage, request: PdfRequest) -> Artifact:
    try:
        data = await target.page.pdf(**pdf_options(request))
    except PlaywrightError as exc:
        # These depend on the document (its page count) or on option combinations the model
        # cannot judge, so they are the client's to fix: 422, not a 500 "bug".
        if _PRINT_REFUSED not in exc.message:
            raise
        reason = exc.message.split(_PRINT_REFUSED, 1)[1].lstrip(": ").strip() or "printing failed"
        raise ContentError(f"Chromium cannot print this page with these options: {reason}") from exc
    return Artifact(data, "application/pdf", "pdf")
