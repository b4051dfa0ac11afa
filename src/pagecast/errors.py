"""Every failure a client can see, with its HTTP status, in one place.

Code below the API raises these; ``pagecast.api.errors`` turns them into the one JSON error
shape. Anything else that escapes is a bug and becomes a generic 500.
"""

from __future__ import annotations


class PagecastError(Exception):
    """Base class: ``code`` is stable for clients, ``message`` is safe to show them."""

    status = 500
    code = "internal_error"
    # True when the page is still healthy after this error, so its slot may be scrubbed and
    # reused instead of rebuilt.
    page_intact = False
    # True for failures a later attempt may not repeat (a crash, a flaky network); a queued
    # job is retried only for these, never for bad input.
    retryable = False

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class InvalidOption(PagecastError):
    """An option that passed schema validation but cannot be honoured (e.g. over a limit)."""

    status = 422
    code = "invalid_request"
    page_intact = True

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class PayloadTooLarge(PagecastError):
    status = 413
    code = "payload_too_large"


class QueueFull(PagecastError):
    status = 429
    code = "too_many_requests"


class RenderTimeout(PagecastError):
    status = 504
    code = "render_timeout"
    retryable = True


class PageCrashed(PagecastError):
    """The page's renderer died: a memory bomb or a renderer bug. Not retried: it would repeat."""

    status = 504
    code = "page_crashed"


class BrowserUnavailable(PagecastError):
    """The browser died or cannot start; the request may succeed if retried shortly."""

    status = 503
    code = "browser_unavailable"
    retryable = True


class NavigationFailed(PagecastError):
    """The page's own URL could not be loaded (DNS, refused connection, TLS...)."""

    status = 502
    code = "navigation_failed"
    retryable = True
    page_intact = True


class ContentError(PagecastError):
    """The page loaded but the request asked for something it lacks (a selector, a script)."""

    status = 422
    code = "content_error"
    page_intact = True


class QueueUnavailable(PagecastError):
    """Redis cannot be reached; the client should come back shortly."""

    status = 503
    code = "queue_unavailable"


class ResultTooLarge(PagecastError):
    """A job's artifact is over the size kept in Redis (blob storage will lift this)."""

    status = 413
    code = "result_too_large"


class JobNotFound(PagecastError):
    status = 404
    code = "job_not_found"


class JobConflict(PagecastError):
    """The job is in a state that does not allow the action (e.g. result of a pending job)."""

    status = 409
    code = "job_conflict"


def error_for(code: str, message: str, status: int) -> PagecastError:
    """Rebuild the error a worker recorded, for a sync caller that awaited a queued render."""
    error = PagecastError(message)
    error.code, error.status = code, status
    return error
