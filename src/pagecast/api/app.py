"""The FastAPI application: wiring only; each route group lives in ``routes/``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from pagecast import __version__
from pagecast.api import errors
from pagecast.api.middleware import BodyLimit, RequestId
from pagecast.api.responses import ORJSONResponse
from pagecast.api.routes import compat, health, render
from pagecast.api.routes import jobs as jobs_routes
from pagecast.jobs.runtime import Jobs
from pagecast.renderer import Renderer, RenderService
from pagecast.settings import Settings

DESCRIPTION = """Render HTML or a URL to an image or a PDF with a warm pool of isolated Chromium
pages. Every error has the shape `{success: false, error: {code, message, requestId}}`."""


def create_app(settings: Settings | None = None, renderer: RenderService | None = None,
               *, jobs: Jobs | None = None) -> FastAPI:  # fmt: skip
    """The app. ``renderer`` serves the sync endpoints (a local pool, or the queue for an API-only
    instance); ``jobs`` enables ``/v1/jobs``. The lifespan starts and stops both."""
    settings = settings or Settings()
    service: RenderService = renderer or Renderer(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            if jobs is not None:
                await jobs.start()
            yield
        finally:
            if jobs is not None:
                await jobs.stop()  # drains the worker while the browser still runs
            await service.stop()

    app = FastAPI(
        title="pagecast", version=__version__, description=DESCRIPTION, lifespan=lifespan,
        default_response_class=ORJSONResponse,
    )  # fmt: skip
    app.state.settings = settings
    app.state.renderer = service
    app.state.jobs = jobs
    errors.install(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(RequestId)  # outermost, so even a 413 carries the id
    app.include_router(render.router)
    app.include_router(compat.router)
    app.include_router(jobs_routes.router)
    app.include_router(health.router)
    return app
