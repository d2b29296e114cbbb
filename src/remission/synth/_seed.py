"""Stable seeds from names (the same text gives the same seed on every machine and run)."""

from __future__ import annotations

import hashlib

__all__ = ["stable_seed"]


def stable_seed(text: str) -> int:
    """A 64-bit seed derived from ``text`` by SHA-256 (``hash()`` is salted per process)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
