"""Paired MRD results of two methods on the same samples (CSV), for method comparison.

Columns (header required, any order)::

    sample, method_a, status_a, value_a, method_b, status_b, value_b
    [lod_a, loq_a, lod_b, loq_b]           (optional)

``method_*``: ngs | flow | pcr; ``status_*``: negative | positive_not_quantifiable | positive;
``value_*``: MRD as a fraction (``3e-4``, never percent), empty when negative. Strict: errors
name file, line and field.
"""

from __future__ import annotations

import csv
from pathlib import Path

from pydantic import ValidationError as PydanticValidationError

from remission.domain.mrd import MrdResult
from remission.errors import InputError, excerpt
from remission.io._text import iter_text_lines

__all__ = ["MrdPairsFormatError", "read_mrd_pairs"]

REQUIRED = ("sample", "method_a", "status_a", "value_a", "method_b", "status_b", "value_b")
OPTIONAL = ("lod_a", "loq_a", "lod_b", "loq_b")
METHODS = ("ngs", "flow", "pcr")
STATUSES = ("negative", "positive_not_quantifiable", "positive")


class MrdPairsFormatError(InputError):
    """A paired-MRD CSV is malformed."""

    kind = "MRD pairs file"


def _fraction(text: str, *, path: Path, line: int, field: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        v = float(text)
    except ValueError:
        raise MrdPairsFormatError(f"expected a fraction in [0, 1], got {excerpt(text)}", path=path,
                                  line=line, field=field) from None
    if not 0 <= v <= 1:
        raise MrdPairsFormatError(f"expected a fraction in [0, 1] (not percent), got {excerpt(text)}",
                                  path=path, line=line, field=field)
    return v


def read_mrd_pairs(path: str | Path) -> list[tuple[MrdResult, MrdResult]]:
    """Read the pairs; each side becomes an :class:`MrdResult` (``sample_id`` = sample)."""
    p = Path(path)
    out: list[tuple[MrdResult, MrdResult]] = []
    reader = csv.DictReader(iter_text_lines(p, MrdPairsFormatError))
    try:
        names = [n.strip() for n in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise MrdPairsFormatError(f"missing column(s) {', '.join(missing)}; expected "
                                      + ", ".join(REQUIRED), path=p, line=1, field=missing[0])
        unknown = [c for c in names if c not in REQUIRED + OPTIONAL]
        if unknown:
            raise MrdPairsFormatError(f"unknown column(s) {', '.join(map(excerpt, unknown))}",
                                      path=p, line=1, field=unknown[0])
        reader.fieldnames = names
        for row in reader:
            line = reader.line_num
            if None in row or any(v is None for v in row.values()):
                raise MrdPairsFormatError(f"expected {len(names)} fields", path=p, line=line)
            sides = []
            for side in ("a", "b"):
                method = row[f"method_{side}"].strip()
                if method not in METHODS:
                    raise MrdPairsFormatError(f"expected one of {', '.join(METHODS)}, got "
                                              f"{excerpt(method)}", path=p, line=line,
                                              field=f"method_{side}")
                status = row[f"status_{side}"].strip()
                if status not in STATUSES:
                    raise MrdPairsFormatError(f"expected one of {', '.join(STATUSES)}, got "
                                              f"{excerpt(status)}", path=p, line=line,
                                              field=f"status_{side}")
                value = _fraction(row[f"value_{side}"], path=p, line=line, field=f"value_{side}")
                if status == "positive" and value is None:
                    raise MrdPairsFormatError("a positive result needs a value", path=p,
                                              line=line, field=f"value_{side}")
                if status == "negative" and value is not None:
                    raise MrdPairsFormatError("a negative result has no value (leave it empty)",
                                              path=p, line=line, field=f"value_{side}")
                lims = {k: _fraction(row.get(f"{k}_{side}", "") or "", path=p, line=line,
                                     field=f"{k}_{side}") for k in ("lod", "loq")}
                try:
                    sides.append(MrdResult(method=method, status=status, value=value,
                                           sample_id=row["sample"].strip() or None,
                                           source="reported", **lims))
                except PydanticValidationError as exc:
                    raise MrdPairsFormatError(exc.errors()[0]["msg"], path=p, line=line) from None
            out.append((sides[0], sides[1]))
    except csv.Error as exc:
        raise MrdPairsFormatError(f"malformed CSV: {exc}", path=p, line=reader.line_num) from None
    if not out:
        raise MrdPairsFormatError("no pairs: the file has no data rows", path=p, line=2)
    return out
