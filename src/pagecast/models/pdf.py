"""Options of ``POST /v1/pdf``."""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from pagecast.models.base import ApiModel
from pagecast.models.page import PageOptions

PaperFormat = Literal["Letter", "Legal", "Tabloid", "Ledger", "A0", "A1", "A2", "A3", "A4", "A5", "A6"]
_CSS_LENGTH = re.compile(r"^\d+(\.\d+)?(px|in|cm|mm)?$")


def _css_length(value: str | None) -> str | None:
    if value is not None and not _CSS_LENGTH.match(value.strip()):
        raise PydanticCustomError("css_length", "a length like 10mm, 1in, 2.5cm or 96px")
    return value


class Margin(ApiModel):
    top: str | None = Field(None, examples=["10mm"])
    right: str | None = Field(None, examples=["10mm"])
    bottom: str | None = Field(None, examples=["10mm"])
    left: str | None = Field(None, examples=["10mm"])

    _lengths = field_validator("top", "right", "bottom", "left")(_css_length)


class PdfRequest(PageOptions):
    format: PaperFormat | None = Field(None, description="Paper size; default Letter.", examples=["A4"])
    width: str | None = Field(None, description="Paper width (overrides format).", examples=["8.5in"])
    height: str | None = Field(None, description="Paper height.", examples=["11in"])
    margin: Margin | None = Field(None, description="Blank space around the content; default none.")
    landscape: bool = Field(False, description="Rotate the paper: width and height swap.")
    print_background: bool = Field(False, description="Print CSS backgrounds.")
    scale: float = Field(1, ge=0.1, le=2, description="Zoom of the page content.", examples=[0.8])
    page_ranges: str | None = Field(None, pattern=r"^\s*\d+(\s*-\s*\d+)?(\s*,\s*\d+(\s*-\s*\d+)?)*\s*$",
                                    description="1-based pages to keep.", examples=["1-3, 5"])  # fmt: skip
    display_header_footer: bool = Field(False, description="Print headerTemplate and footerTemplate.")
    header_template: str | None = Field(
        None, description="HTML; classes date, title, url, pageNumber, totalPages are filled in.",
        examples=['<div style="font-size:10px">Page <span class="pageNumber"></span></div>'],
    )  # fmt: skip
    footer_template: str | None = Field(
        None, description="HTML, like headerTemplate.",
        examples=['<div><span class="pageNumber"></span> / <span class="totalPages"></span></div>'],
    )  # fmt: skip
    prefer_css_page_size: bool = Field(
        False, alias="preferCSSPageSize", description="Use the page's @page size."
    )
    outline: bool = Field(False, description="Add a document outline (bookmarks) from headings.")
    tagged: bool = Field(False, description="Produce a tagged (accessible) PDF.")

    _lengths = field_validator("width", "height")(_css_length)

    @field_validator("page_ranges")
    @classmethod
    def _ranges(cls, value: str | None) -> str | None:
        # The pattern checks the syntax; Chromium answers "0" or "3-1" with a protocol error.
        for part in (value or "").split(","):
            bounds = [int(b) for b in part.split("-") if b.strip()]
            if bounds and (min(bounds) < 1 or bounds[0] > bounds[-1]):
                raise PydanticCustomError("page_range", "pages count from 1 and ranges go up, like 1-3, 5")
        return value

    @model_validator(mode="after")
    def _size(self) -> Self:
        if (self.width is None) != (self.height is None):
            raise PydanticCustomError("paper", "give both width and height, or neither")
        return self
