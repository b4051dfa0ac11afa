"""PDF capture through Chromium's print pipeline."""

from __future__ import annotations

from typing import Any

from pagecast.browser.slot import WarmPage
from pagecast.capture.artifact import Artifact
from pagecast.models.pdf import PdfRequest


def pdf_options(request: PdfRequest) -> dict[str, Any]:
    """Keyword arguments for Playwright's ``page.pdf`` (which maps to ``Page.printToPDF``)."""
    options: dict[str, Any] = {
        "landscape": request.landscape,
        "print_background": request.print_background,
        "scale": request.scale,
        "display_header_footer": request.display_header_footer,
        "prefer_css_page_size": request.prefer_css_page_size,
        "outline": request.outline,
        "tagged": request.tagged,
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
    data = await target.page.pdf(**pdf_options(request))
    return Artifact(data, "application/pdf", "pdf")
