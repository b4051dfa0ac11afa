"""``/v1/jobs``: durable render jobs, plus the seed's ``/render-async`` and ``/download``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from pagecast.api.routes.compat import CompatHtml, to_screenshot_request
from pagecast.errors import JobConflict, JobNotFound, QueueUnavailable
from pagecast.jobs.models import JobOptions, parse_submission
from pagecast.jobs.runtime import Jobs
from pagecast.jobs.store import public

router = APIRouter(tags=["jobs"])

_SUBMISSION_EXAMPLE = {
    "kind": "render",
    "html": "<h1>Hello</h1>",
    "viewport": {"width": 800, "height": 600},
    "priority": "normal",
    "idempotencyKey": "order-42",
    "webhook": {"url": "https://example.com/hook", "events": ["completed", "failed"]},
}


def jobs(request: Request) -> Jobs:
    runtime: Jobs | None = getattr(request.app.state, "jobs", None)
    if runtime is None:
        raise QueueUnavailable("Jobs are not enabled on this instance", retry_after=60)
    return runtime


async def _record(request: Request, job_id: str) -> dict[str, Any]:
    record = await jobs(request).get(job_id)
    if record is None:
        raise JobNotFound(f"No job {job_id} (it may have expired)")
    return record


def _accepted(record: dict[str, Any]) -> dict[str, Any]:
    return {"jobId": record["id"], "status": record["status"], "statusUrl": f"/v1/jobs/{record['id']}"}


@router.post("/v1/jobs", status_code=202, summary="Queue a render or pdf job")
async def submit(
    request: Request,
    body: dict[str, Any] = Body(  # noqa: B008 - FastAPI's way to attach OpenAPI examples
        openapi_examples={"render": {"summary": "A screenshot job", "value": _SUBMISSION_EXAMPLE}}
    ),
) -> dict[str, Any]:
    """The body is the sync endpoint's body plus `kind`, and optional `webhook`, `priority`
    (high|normal|low), `idempotencyKey` and `maxAttempts`. It is validated now: an invalid
    body is a 422 here, never a failed job later."""
    try:
        options, render_request = parse_submission(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None
    record, _ = await jobs(request).submit(options, render_request)
    return _accepted(record)


@router.get("/v1/jobs", summary="Dead letters: failed jobs, newest first")
async def list_failed(
    request: Request,
    status: Literal["failed"] = "failed",
    offset: int = Query(0, ge=0),
    limit: int = Query(50, ge=1, le=500),
) -> dict[str, Any]:
    items, total = await jobs(request).dead_letters(offset, limit)
    return {"jobs": items, "total": total, "offset": offset, "limit": limit}


@router.get("/v1/jobs/{job_id}", summary="A job's status, progress and result metadata")
async def status(request: Request, job_id: str) -> dict[str, Any]:
    return public(await _record(request, job_id))


@router.get("/v1/jobs/{job_id}/result", summary="The job's artifact bytes", response_class=Response)
async def result(request: Request, job_id: str) -> Response:
    record = await _record(request, job_id)
    if record["status"] != "completed":
        raise JobConflict(f"Job {job_id} is {record['status']}, not completed")
    data = await jobs(request).result(job_id)
    if data is None:
        raise JobNotFound(f"The result of job {job_id} has expired")
    return Response(data, media_type=record["result"]["contentType"])


@router.get("/v1/jobs/{job_id}/events", summary="Server-Sent Events of status and progress")
async def events(request: Request, job_id: str) -> StreamingResponse:
    await _record(request, job_id)  # 404 before the stream starts

    async def stream() -> AsyncIterator[bytes]:
        async for state in jobs(request).updates(job_id):
            yield f"event: {state['status']}\ndata: {json.dumps(state)}\n\n".encode()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.delete("/v1/jobs/{job_id}", summary="Cancel a job (a running one is stopped)")
async def cancel(request: Request, job_id: str) -> dict[str, Any]:
    record = await jobs(request).cancel(job_id)
    if record is None:
        raise JobNotFound(f"No job {job_id} (it may have expired)")
    return public(record)


@router.post("/v1/jobs/{job_id}/retry", status_code=202, summary="Run a failed or cancelled job again")
async def retry(request: Request, job_id: str) -> dict[str, Any]:
    record = await jobs(request).retry(job_id)
    if record is None:
        raise JobNotFound(f"No job {job_id} (it may have expired)")
    if record["status"] != "pending":
        raise JobConflict(f"Job {job_id} is {record['status']}; only failed or cancelled jobs are retried")
    return _accepted(record)


# ----- seed 002 compatibility -----


@router.post("/render-async", status_code=202, tags=["compatibility"], summary="Seed-compatible async render")
async def render_async(request: Request, body: CompatHtml) -> dict[str, Any]:
    record, _ = await jobs(request).submit(
        JobOptions(kind="render"), to_screenshot_request({"html": body.html}, body.options)
    )
    return {"success": True, "jobId": record["id"], "statusUrl": f"/render-async/{record['id']}"}


@router.get("/render-async/{job_id}", tags=["compatibility"], summary="Seed-compatible job status")
async def render_async_status(request: Request, job_id: str) -> dict[str, Any]:
    record = await _record(request, job_id)
    if record["status"] == "completed":
        result = record["result"]
        return {
            "status": "completed",
            "size": result["size"],
            "format": result["format"],
            "downloadUrl": f"/download/{job_id}",
            "completedAt": record["completedAt"],
        }
    if record["status"] in ("failed", "cancelled"):
        error = (record.get("error") or {}).get("message", record["status"])
        return {
            "status": record["status"],
            "error": error,
            "failedAt": record.get("failedAt") or record.get("cancelledAt"),
        }
    return {"status": record["status"], "createdAt": record["createdAt"]}


@router.get(
    "/download/{job_id}", tags=["compatibility"], response_class=Response, summary="Seed-compatible download"
)
async def download(request: Request, job_id: str) -> Response:
    return await result(request, job_id)
