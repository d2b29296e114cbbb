"""Uniform parameter checks: ``"<name> must be <constraint>, but was <value!r>"``."""

from __future__ import annotations

import math
from typing import Any

from remission.errors import ValidationError

__all__ = ["check_finite", "check_fraction", "check_in", "check_nonnegative", "check_positive"]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_finite(name: str, value: Any) -> float:
    """Return ``value`` as float if it is a finite real number, else raise ValidationError."""
    if not _is_number(value) or not math.isfinite(value):
        raise ValidationError(f"{name} must be a finite number, but was {value!r}")
    return float(value)


def check_positive(name: str, value: Any) -> float:
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise ValidationError(f"{name} must be a finite number > 0, but was {value!r}")
    return float(value)


def check_nonnegative(name: str, value: Any) -> float:
    if not _is_number(value) or not math.isfinite(value) or value < 0:
        raise ValidationError(f"{name} must be a finite number >= 0, but was {value!r}")
    return float(value)


def check_fraction(name: str, value: Any, *, open_low: bool = False) -> float:
    """A fraction in [0, 1] (or (0, 1] with ``open_low``)."""
    ok = _is_number(value) and math.isfinite(value) and 0 <= value <= 1
    if ok and open_low and value == 0:
        ok = False
    if not ok:
        bound = "(0, 1]" if open_low else "[0, 1]"
        raise ValidationError(f"{name} must be a fraction in {bound}, but was {value!r}")
    return float(value)


def check_in(name: str, value: Any, allowed: tuple[Any, ...] | list[Any]) -> Any:
    if value not in allowed:
        choices = ", ".join(map(str, allowed))
        raise ValidationError(f"{name} must be one of {choices}, but was {value!r}")
    return value
