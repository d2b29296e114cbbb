"""Helpers for the MRD-course tests: MRD results built in code."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from remission.domain.mrd import MrdResult

D0 = dt.date(2022, 1, 1)


def mrd(day: int, status: str, value: float | None = None, *, method: str = "pcr",
        lod: float | None = 1e-5, loq: float | None = 1e-4, **kw: Any) -> MrdResult:
    return MrdResult(method=method, status=status, value=value, lod=lod, loq=loq,  # type: ignore[arg-type]
                     date=D0 + dt.timedelta(days=day), **kw)


@pytest.fixture(scope="session")
def make_mrd() -> Callable[..., MrdResult]:
    return mrd
