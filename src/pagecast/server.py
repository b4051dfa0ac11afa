"""Running the API under uvicorn."""

from __future__ import annotations

import logging

import uvicorn

from pagecast.api import create_app
from pagecast.settings import Settings


def serve(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,  # one line per render at 40 renders/s is noise; errors are logged
    )
