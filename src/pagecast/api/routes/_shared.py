"""Helpers the route groups share: the renderer, artifact responses."""

from __future__ import annotations

import base64
import time
from typing import Any

from fastapi import Request, Response

from pagecast.api.errors import request_id
from pagecast.api.responses import ORJSONResponse
from pagecast.capture import Artifact
from pagecast.models.page import PageOptions
from pagecast.renderer import RenderService


def renderer(request: Request) -> RenderService:
    return request.app.state.renderer  # type: ignore[no-any-return]


async def timed_render(request: Request, options: PageOptions) -> tuple[Artifact, float]:
    started = time.perf_counter()
    artifact = await renderer(request).render(options)
    return artifact, (time.perf_counter() - started) * 1000


def image_json(request: Request, artifact: Artifact) -> dict[str, Any]:
    """The seed renderer's response body (its clients depend on these exact keys)."""
    return {
        "imageBase64": base64.b64encode(artifact.data).decode(),
        "contentType": artifact.content_type,
        "size": artifact.size,
        "format": artifact.format,
        "width": artifact.width,
        "height": artifact.height,
        "requestId": request_id(request),
    }


def artifact_response(request: Request, artifact: Artifact, elapsed_ms: float) -> Response:
    headers = {"Server-Timing": f"render;dur={elapsed_ms:.1f}"}
    if "application/json" in request.headers.get("accept", ""):
        return ORJSONResponse({"success": True, "data": image_json(request, artifact)}, headers=headers)
    return Response(artifact.data, media_type=artifact.content_type, headers=headers)
