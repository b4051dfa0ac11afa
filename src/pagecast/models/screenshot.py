"""Options of ``POST /v1/render``: an image of the page."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from pagecast.models.base import ApiModel
from pagecast.models.page import PageOptions

ImageFormat = Literal["png", "jpeg", "webp"]


class Clip(ApiModel):
    """A rectangle in CSS pixels from the top-left of the document."""

    x: float = Field(ge=0, examples=[0])
    y: float = Field(ge=0, examples=[0])
    width: float = Field(gt=0, le=16384, examples=[400])
    height: float = Field(gt=0, le=16384, examples=[300])


class ScreenshotRequest(PageOptions):
    format: ImageFormat = Field("png", examples=["png"])
    quality: int | None = Field(None, ge=0, le=100, description="jpeg/webp only.", examples=[80])
    full_page: bool = Field(False, description="Capture the whole scrollable page.")
    clip: Clip | None = Field(
        None,
        description="Capture this rectangle (CSS px, document coordinates).",
        examples=[{"x": 0, "y": 0, "width": 400, "height": 300}],
    )
    selector: str | None = Field(None, description="Capture one element.", examples=["#chart"])
    omit_background: bool = Field(False, description="Transparent background (png/webp).")

    @model_validator(mode="after")
    def _capture_area(self) -> Self:
        if sum((self.full_page, self.clip is not None, self.selector is not None)) > 1:
            raise PydanticCustomError("area", "fullPage, clip and selector exclude each other")
        if self.quality is not None and self.format == "png":
            raise PydanticCustomError("quality", "quality applies to jpeg and webp only")
        if self.omit_background and self.format == "jpeg":
            raise PydanticCustomError("background", "jpeg has no transparency; use png or webp")
        return self
