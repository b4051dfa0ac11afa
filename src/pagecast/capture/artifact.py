"""What every capture returns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Artifact:
    data: bytes
    content_type: str
    format: str
    width: int | None = None
    height: int | None = None

    @property
    def size(self) -> int:
        return len(self.data)
