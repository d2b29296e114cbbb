"""Read and write analysis-ready cohort tables (CSV or Parquet; one row per patient or interval).

The reader only checks what a format can: the file parses, the named columns exist, numeric
columns are numbers. Survival-specific checks (negative times, stop <= start, overlaps) are the
engines'; their :class:`~remission.errors.CohortDataError` carries the 1-based data row, which
:func:`locate` turns into the file's line (header = line 1).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from remission.errors import CohortDataError, excerpt

__all__ = ["locate", "numeric_column", "read_cohort_table", "write_cohort_table"]


def read_cohort_table(path: str | Path, columns: Iterable[str] = ()) -> Any:
    """A ``pandas.DataFrame`` from ``.csv`` (``#`` comments allowed) or ``.parquet``.

    Every name in ``columns`` must be present; a missing one is an error naming the file and
    listing the columns that are there.
    """
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise CohortDataError("file not found", path=p)
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(p)
        else:
            df = pd.read_csv(p, comment="#", skipinitialspace=True)
    except (ValueError, OSError, ImportError) as exc:
        raise CohortDataError(f"cannot read the table ({exc})", path=p) from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise CohortDataError(f"no column {missing[0]!r}; the table has {list(df.columns)}",
                              path=p, line=1, field=missing[0])
    return df


def numeric_column(df: Any, column: str, path: str | Path) -> Any:
    """Column as float; the first non-numeric cell is an error naming its line."""
    import pandas as pd

    raw = df[column]
    num = pd.to_numeric(raw, errors="coerce")
    bad = num.isna() & raw.notna()
    if bool(bad.any()):
        i = int(bad.to_numpy().nonzero()[0][0])
        raise CohortDataError(f"expected a number, got {excerpt(raw.iloc[i])}", path=path,
                              line=i + 2, field=column)
    return num.to_numpy(dtype=float)


def locate(err: CohortDataError, path: str | Path) -> CohortDataError:
    """The engine's error with the file name and the file line of its data row (CSV)."""
    line = err.record + 1 if isinstance(err.record, int) and not str(path).endswith(
        (".parquet", ".pq")) else None
    record = None if line is not None else err.record
    return CohortDataError(err.reason, path=path, line=line, record=record, field=err.field)


def write_cohort_table(df: Any, path: str | Path) -> Path:
    """Write ``.csv`` (default) or ``.parquet`` by suffix."""
    p = Path(path)
    if p.suffix.lower() in (".parquet", ".pq"):
        df.to_parquet(p, index=False)
    else:
        df.to_csv(p, index=False)
    return p
