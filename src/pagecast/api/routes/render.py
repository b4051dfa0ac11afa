"""``/v1``: screenshots, PDFs and the device list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from pagecast.api.routes._shared import artifact_response, timed_render
from pagecast.models.devices import Device, devices
from pagecast.models.pdf import PdfRequest
from pagecast.models.screenshot import ScreenshotRequest

router = APIRouter(prefix="/v1", tags=["render"])

_IMAGE = {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}}, "description": (
    "The image. With `Accept: application/json`: `{success, data: {imageBase64, contentType, "
    "size, format, width, height, requestId}}`.")}  # fmt: skip
_PDF = {"content": {"application/pdf": {}}, "description": "The PDF document."}
_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"description": "html or body too large"},
    422: {"description": "Invalid options (with field paths)"},
    429: {"description": "Wait queue full; see Retry-After"},
    502: {"description": "The page's URL could not be loaded"},
    503: {"description": "Browser unavailable; see Retry-After"},
    504: {"description": "Render timed out or the page crashed"},
}


@router.post("/render", response_class=Response, responses={200: _IMAGE, **_ERRORS},
             summary="Screenshot a URL or HTML")  # fmt: skip
async def render(request: Request, body: ScreenshotRequest) -> Response:
    artifact, elapsed = await timed_render(request, body)
    return artifact_response(request, artifact, elapsed)


@router.post("/pdf", response_class=Response, responses={200: _PDF, **_ERRORS},
             summary="Print a URL or HTML to PDF")  # fmt: skip
async def pdf(request: Request, body: PdfRequest) -> Response:
    artifact, elapsed = await timed_render(request, body)
    return artifact_response(request, artifact, elapsed)


@router.get("/devices", summary="Device names accepted by `device`")
async def list_devices() -> dict[str, Device]:
    return devices()
