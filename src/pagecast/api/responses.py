"""JSON responses rendered with orjson.

FastAPI deprecates its own ``ORJSONResponse`` (it warns on every response it builds); these are
the same few lines on Starlette's ``JSONResponse``, so the API keeps orjson's speed without the
warning, and without depending on a class FastAPI will remove.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class ORJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
