"""Version of the bundled clinical knowledge base (``knowledge/data/VERSION``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

__all__ = ["knowledge_base_version"]


@cache
def knowledge_base_version() -> str | None:
    f = Path(__file__).parent / "data" / "VERSION"
    return f.read_text(encoding="utf-8").strip() if f.is_file() else None
