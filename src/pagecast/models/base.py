"""Base class for request models: camelCase on the wire, snake_case in Python, typos rejected."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        # An unknown option is almost always a typo; silently ignoring it renders the wrong thing.
        extra="forbid",
        frozen=True,
    )
