"""Job submission and job record shapes.

A submission is ``{kind, ...the sync endpoint's body..., webhook?, priority?, idempotencyKey?}``:
the render options are validated by the very model the sync endpoint uses, at submission
time, so an invalid job is a 422 and never reaches a worker.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import httpx
from pydantic import Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from pagecast.capture import CAPTURES
from pagecast.models.base import ApiModel
from pagecast.models.page import PageOptions

Priority = Literal["high", "normal", "low"]
PRIORITIES: tuple[Priority, ...] = ("high", "normal", "low")
Status = Literal["pending", "processing", "completed", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
WebhookEvent = Literal["completed", "failed", "progress"]
JOB_FIELDS = {"kind", "webhook", "priority", "idempotency_key", "max_attempts"}
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")


class Webhook(ApiModel):
    url: str = Field(description="Receives POST {event, job}.", examples=["https://example.com/hook"])
    headers: dict[str, str] = Field(default_factory=dict, description="Extra headers on each delivery.")
    events: list[WebhookEvent] = Field(
        default_factory=lambda: ["completed", "failed"],  # type: ignore[arg-type]
        description="Which events to deliver.",
    )

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.lower().startswith(("http://", "https://")):
            raise PydanticCustomError("url_scheme", "must be an http:// or https:// URL")
        # What httpx cannot send ("http://", a bad port) is a 422 now, not a lost delivery later.
        try:
            host = httpx.URL(value).host
        except httpx.InvalidURL as exc:
            raise PydanticCustomError("url", "invalid URL: {reason}", {"reason": str(exc)}) from None
        if not host:
            raise PydanticCustomError("url", "the URL has no host")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        # httpx raises on non-ASCII values and h11 on bad names or CR/LF: check them here.
        for name, text in value.items():
            if not _TOKEN.fullmatch(name):
                raise PydanticCustomError("header", "invalid header name {name}", {"name": name})
            if not _HEADER_VALUE.fullmatch(text):
                raise PydanticCustomError(
                    "header", "header {name} must be printable ASCII without CR, LF or NUL", {"name": name}
                )
        return value


class JobOptions(ApiModel):
    """What a job adds to a render request."""

    model_config = {**ApiModel.model_config, "extra": "ignore"}  # the rest is the render body

    kind: str = Field(description="Which capture: " + ", ".join(CAPTURES), examples=["render"])
    webhook: Webhook | None = None
    priority: Priority = "normal"
    idempotency_key: str | None = Field(
        None, max_length=200, description="Same key, same job, while the job lives."
    )
    max_attempts: int = Field(3, ge=1, le=10, description="Tries before the job is dead-lettered.")

    @field_validator("kind")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in CAPTURES:
            raise PydanticCustomError("kind", "unknown kind; one of {kinds}", {"kinds": ", ".join(CAPTURES)})
        return value


def parse_submission(body: dict[str, Any]) -> tuple[JobOptions, PageOptions]:
    """Split a submission into job options and a validated render request.

    Raises ``ValidationError`` with locations relative to the whole body.
    """
    options = JobOptions.model_validate(body)
    aliases = {"kind", "webhook", "priority", "idempotencyKey", "maxAttempts", *JOB_FIELDS}
    request_body = {k: v for k, v in body.items() if k not in aliases}
    request = CAPTURES[options.kind].request_model.model_validate(request_body)
    return options, request


__all__ = [
    "PRIORITIES",
    "TERMINAL",
    "JobOptions",
    "Priority",
    "Status",
    "ValidationError",
    "Webhook",
    "parse_submission",
]
