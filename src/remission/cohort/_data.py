"""Input checks shared by the cohort engines.

Every check raises :class:`~remission.errors.CohortDataError` naming the first offending row
(1-based, as a spreadsheet or ``pandas.read_csv`` user counts data rows) and the column, so that
a table with 100,000 rows still gets one precise, actionable line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from remission.errors import CohortDataError, excerpt

#: Float and integer arrays (aliases name the intent; numpy's dtype typing is too narrow for
#: the arithmetic results mypy would otherwise reject).
FloatArray = NDArray[Any]
IntArray = NDArray[Any]


def _py(v: Any) -> Any:
    """A numpy scalar as the Python value, so messages read ``-2.0``, not ``np.float64(-2.0)``;
    text (ids, labels) as a bounded, escaped excerpt."""
    v = v.item() if hasattr(v, "item") else v
    return _Quoted(excerpt(v)) if isinstance(v, (str, bytes)) else v


class _Quoted(str):
    """Already-quoted text: its repr is itself (so ``{x!r}`` in a message does not re-quote)."""

    def __repr__(self) -> str:
        return str(self)


def _first_bad(mask: NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(mask)[0])


def as_times(values: ArrayLike, column: str = "time", *, allow_zero: bool = True) -> FloatArray:
    """Float array of non-negative, finite times; the first bad row is named."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CohortDataError(f"{column} must be numeric ({exc})", field=column) from None
    if arr.ndim != 1:
        raise CohortDataError(f"{column} must be one-dimensional, but has shape {arr.shape}",
                              field=column)
    bad = ~np.isfinite(arr)
    if bad.any():
        i = _first_bad(bad)
        raise CohortDataError(f"{column} must be a finite number, but was missing or {_py(arr[i])!r}",
                              record=i + 1, field=column)
    bad = arr < 0 if allow_zero else arr <= 0
    if bad.any():
        i = _first_bad(bad)
        op = ">= 0" if allow_zero else "> 0"
        raise CohortDataError(f"{column} must be {op}, but was {_py(arr[i])!r}", record=i + 1,
                              field=column)
    return arr


def as_status(values: ArrayLike, n: int, column: str = "event", *,
              codes: Sequence[int] | None = None) -> IntArray:
    """Integer event codes (0 = censored); the first non-integer or unknown code is named."""
    try:
        raw = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CohortDataError(f"{column} must be an integer code ({exc})", field=column) from None
    if raw.shape != (n,):
        raise CohortDataError(f"{column} must have one value per row ({n}), but has shape "
                              f"{raw.shape}", field=column)
    bad = ~np.isfinite(raw) | (raw != np.round(raw)) | (raw < 0)
    if bad.any():
        i = _first_bad(bad)
        raise CohortDataError(f"{column} must be 0 (censored) or a positive integer event code, "
                              f"but was {_py(raw[i])!r}", record=i + 1, field=column)
    out = raw.astype(np.int64)
    if codes is not None:
        bad = ~np.isin(out, np.asarray(codes))
        if bad.any():
            i = _first_bad(bad)
            hint = " (0 = censored, 1 = event)" if sorted(codes) == [0, 1] else ""
            raise CohortDataError(f"{column} must be one of {sorted(codes)}{hint}, but was "
                                  f"{_py(out[i])}",
                                  record=i + 1, field=column)
    return out


def as_labels(values: ArrayLike | None, n: int, column: str) -> tuple[IntArray, list[Any]]:
    """Group/strata labels as codes 0..k-1 (sorted label order, as R orders factor levels)."""
    if values is None:
        return np.zeros(n, dtype=np.int64), ["all"]
    arr = np.asarray(values)
    if arr.shape != (n,):
        raise CohortDataError(f"{column} must have one value per row ({n}), but has shape "
                              f"{arr.shape}", field=column)
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            i = _first_bad(bad)
            raise CohortDataError(f"{column} must not be missing", record=i + 1, field=column)
    elif arr.dtype.kind == "O":
        miss = np.array([v is None or (isinstance(v, float) and v != v) for v in arr])
        if miss.any():
            i = _first_bad(miss)
            raise CohortDataError(f"{column} must not be missing", record=i + 1, field=column)
    levels, codes = np.unique(arr, return_inverse=True)
    return codes.astype(np.int64), list(levels.tolist())


def as_covariates(x: ArrayLike, n: int, names: Sequence[str] | None = None) -> FloatArray:
    """Covariate matrix (n, p); a missing value names its row and column."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != n:
        raise CohortDataError(f"covariates must have {n} rows, but have shape {arr.shape}",
                              field="covariates")
    bad = ~np.isfinite(arr)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        col = names[j] if names is not None and j < len(names) else f"covariate {j + 1}"
        raise CohortDataError(f"{col} must be a finite number, but was missing or {_py(arr[i, j])!r}",
                              record=int(i) + 1, field=col)
    return arr


def check_intervals(start: FloatArray, stop: FloatArray, event: IntArray,
                    ids: ArrayLike | None, *, start_column: str = "start",
                    stop_column: str = "stop", event_column: str = "event") -> None:
    """Counting-process rows: ``stop > start``; per patient no overlap and no row after an event.

    An event closes a patient's follow-up (a row of the same patient that starts at or after
    the stop of an event row is an "event after censoring" error, as is a row after the
    patient's censored last row; gaps between rows are allowed, as in R's ``survival``).
    """
    bad = stop <= start
    if bad.any():
        i = _first_bad(bad)
        raise CohortDataError(f"{stop_column} must be > {start_column} ({_py(start[i])!r}), but was "
                              f"{_py(stop[i])!r}", record=i + 1, field=stop_column)
    if ids is None:
        return
    idv = np.asarray(ids)
    if idv.shape != start.shape:
        raise CohortDataError("id must have one value per row", field="id")
    _, idc = np.unique(idv, return_inverse=True)
    order = np.lexsort((stop, start, idc))
    same = idc[order][1:] == idc[order][:-1]
    prev, nxt = order[:-1], order[1:]
    overlap = same & (start[nxt] < stop[prev])
    if overlap.any():
        k = _first_bad(overlap)
        i, j = int(prev[k]), int(nxt[k])
        raise CohortDataError(
            f"interval ({_py(start[j])!r}, {_py(stop[j])!r}] of id {_py(idv[j])!r} overlaps row {i + 1} "
            f"({_py(start[i])!r}, {_py(stop[i])!r}]", record=j + 1, field=start_column)
    after_event = same & (event[prev] != 0)
    if after_event.any():
        k = _first_bad(after_event)
        i, j = int(prev[k]), int(nxt[k])
        raise CohortDataError(
            f"id {_py(idv[j])!r} has a row after its event at {_py(stop[i])!r} (row {i + 1}); an event "
            "ends follow-up", record=j + 1, field=event_column)


def check_event_after_censoring(time: FloatArray, event: IntArray, censor_time: FloatArray,
                                *, time_column: str = "time",
                                censor_column: str = "censor_time") -> None:
    """An event recorded after the patient's last follow-up (censoring) date is impossible."""
    bad = (event != 0) & (time > censor_time)
    if bad.any():
        i = _first_bad(bad)
        raise CohortDataError(
            f"event at {_py(time[i])!r} is after the censoring (last follow-up) time "
            f"{_py(censor_time[i])!r} in column {censor_column}", record=i + 1, field=time_column)
