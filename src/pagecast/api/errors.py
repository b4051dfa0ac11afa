"""The one place that turns failures into HTTP responses.

Shape: ``{"success": false, "error": {"code", "message", "requestId"}}``. Validation errors add
``details`` with field paths. Unexpected exceptions are logged with their traceback and the
client gets a generic message: internals (paths, stack traces) never leave the server.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from pagecast.api.responses import ORJSONResponse
from pagecast.errors import PagecastError

log = logging.getLogger(__name__)


def request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def error_response(request: Request, status: int, code: str, message: str,
                   *, retry_after: float | None = None, **extra: Any) -> ORJSONResponse:  # fmt: skip
    body = _utf8({"success": False, "error": {"code": code, "message": message,
                                              "requestId": request_id(request), **extra}})  # fmt: skip
    headers = {"Retry-After": str(max(1, round(retry_after)))} if retry_after is not None else None
    return ORJSONResponse(body, status_code=status, headers=headers)


def _utf8(value: Any) -> Any:
    """``value`` with lone surrogates escaped: JSON's ``"\\ud800"`` decodes to one, messages echo
    the client's input (a URL, a header name) and orjson refuses to encode it, which turned a
    4xx into a 500."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {k: _utf8(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_utf8(v) for v in value]
    return value


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


async def _pagecast_error(request: Request, exc: Exception) -> ORJSONResponse:
    assert isinstance(exc, PagecastError)
    if exc.status >= 500 and exc.code == "internal_error":
        log.error("request %s failed: %s", request_id(request), exc, exc_info=exc.__cause__)
    else:
        log.info("request %s: %s %s", request_id(request), exc.code, exc.message)
    extra = {"details": [{"field": exc.field, "message": exc.message}]} if hasattr(exc, "field") else {}
    return error_response(request, exc.status, exc.code, exc.message,
                          retry_after=exc.retry_after, **extra)  # fmt: skip


async def _validation_error(request: Request, exc: Exception) -> ORJSONResponse:
    assert isinstance(exc, RequestValidationError)
    if any(e["type"] == "json_invalid" for e in exc.errors()):
        # Its loc is ("body", <character offset>): a path like "1" would name no field.
        error = next(e for e in exc.errors() if e["type"] == "json_invalid")
        reason = error.get("ctx", {}).get("error", error["msg"])
        message = f"Malformed JSON body: {reason}"
        return error_response(request, 422, "invalid_request", message,
                              details=[{"field": "body", "message": message}])  # fmt: skip
    details = [{"field": _field(tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]
    if any(e["type"] == "payload_too_large" for e in exc.errors()):
        return error_response(request, 413, "payload_too_large", "html is larger than 50 MB")
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return error_response(request, 422, "invalid_request", f"Invalid request: {summary}", details=details)


async def _http_error(request: Request, exc: Exception) -> ORJSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400:
        # FastAPI's 400 means its JSON parser raised something other than a decode error
        # (nesting too deep, an integer over 4300 digits): malformed JSON all the same.
        message = "Malformed JSON body: it could not be parsed"
        return error_response(request, 422, "invalid_request", message,
                              details=[{"field": "body", "message": message}])  # fmt: skip
    code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
        exc.status_code, "http_error"
    )
    return error_response(request, exc.status_code, code, str(exc.detail))


async def _unexpected(request: Request, exc: Exception) -> ORJSONResponse:
    log.exception("request %s failed unexpectedly", request_id(request), exc_info=exc)
    return error_response(request, 500, "internal_error", "Internal error; see the server log")


def install(app: FastAPI) -> None:
    app.add_exception_handler(PagecastError, _pagecast_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
