"""The seed renderer's endpoints (``/render``, ``/render-url``), kept for its existing clients."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pagecast.api.routes._shared import image_json, timed_render
from pagecast.models.page import Viewport
from pagecast.models.screenshot import ScreenshotRequest

router = APIRouter(tags=["compatibility"])


class CompatOptions(BaseModel):
    # Lenient on purpose: old clients send options this service never had.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    width: int = Field(1280, ge=1, le=16384)
    height: int = Field(720, ge=1, le=16384)
    format: Literal["png", "jpeg"] = "png"
    wait_for: int = Field(0, ge=0, le=60_000, alias="waitFor")
    quality: int | None = Field(None, ge=0, le=100)
    full_page: bool = Field(False, alias="fullPage")


class CompatHtml(BaseModel):
    html: str
    options: CompatOptions = Field(default_factory=CompatOptions)


class CompatUrl(BaseModel):
    url: str
    options: CompatOptions = Field(default_factory=CompatOptions)


def to_screenshot_request(source: dict[str, str], options: CompatOptions) -> ScreenshotRequest:
    try:
        return _translate(source, options)
    except ValidationError as exc:
        # Same 422 with field paths as the native endpoints, not an unhandled error.
        raise RequestValidationError(exc.errors(include_url=False)) from None


def _translate(source: dict[str, str], options: CompatOptions) -> ScreenshotRequest:
    return ScreenshotRequest.model_validate({
        **source,
        "viewport": Viewport(width=options.width, height=options.height),
        "format": options.format,
        "waitFor": options.wait_for,
        "fullPage": options.full_page,
        "quality": options.quality if options.format == "jpeg" else None,
    })  # fmt: skip


@router.post("/render", summary="Seed-compatible: HTML to image, base64 in JSON")
async def render_html(request: Request, body: CompatHtml) -> dict[str, Any]:
    artifact, _ = await timed_render(request, to_screenshot_request({"html": body.html}, body.options))
    return {"success": True, "data": image_json(request, artifact)}


@router.post("/render-url", summary="Seed-compatible: URL to image, base64 in JSON")
async def render_url(request: Request, body: CompatUrl) -> dict[str, Any]:
    artifact, _ = await timed_render(request, to_screenshot_request({"url": body.url}, body.options))
    return {"success": True, "data": image_json(request, artifact)}
