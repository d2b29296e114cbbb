"""Case and MRD builders for the clinic tests (imported by the test modules)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from remission.domain import Case, MrdResult


def make_case(
    *,
    lineage: str = "B",
    dx: dt.date = dt.date(2015, 1, 10),
    relapse: dt.date = dt.date(2019, 1, 10),
    end: dt.date | None = dt.date(2017, 3, 10),
    site: str = "isolated_bm",
    blasts: float | None = 60.0,
    age_at_dx: float = 5.0,
    dx_lesions: list[dict[str, Any]] | None = None,
    relapse_lesions: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
    relapses: list[dict[str, Any]] | None = None,
) -> Case:
    """A synthetic case with one relapse (override anything through ``extra``)."""
    data: dict[str, Any] = {
        "schema": "remission.case/1",
        "patient": {"id": "T-1", "age_at_diagnosis_years": age_at_dx},
        "diagnosis": {"date": dx.isoformat(), "lineage": lineage, "lesions": dx_lesions or []},
        "frontline": {"end_date": end.isoformat() if end else None},
        "relapses": relapses if relapses is not None else [
            {"number": 1, "date": relapse.isoformat(), "site": site,
             "marrow_blasts_percent": blasts, "lesions": relapse_lesions or []}],
    }
    data.update(extra or {})
    return Case.model_validate(data)


def mrd(value: float | None, date: dt.date, *, status: str | None = None, timepoint: str =
        "end_of_induction", lod: float | None = 1e-5, loq: float | None = 1e-5,
        method: str = "flow") -> MrdResult:
    st = status or ("negative" if value is None else "positive")
    return MrdResult(method=method, status=st, value=value, lod=lod, loq=loq, date=date,
                     timepoint=timepoint, material="bone_marrow", source="reported")
