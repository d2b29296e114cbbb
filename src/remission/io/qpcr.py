"""RQ-PCR plate export CSV (allele-specific Ig/TR MRD, EuroMRD style).

One row per well, with exactly these columns (any order; header names are case-sensitive)::

    well, sample, target, kind, level, ct, replicate

- ``kind``: ``standard`` (dilution of diagnostic DNA in polyclonal background DNA),
  ``follow_up``, ``ntc`` (no-template control, water), ``background`` (polyclonal
  buffy-coat DNA) or ``control_gene`` (e.g. albumin, for DNA quantity/quality);
- ``level``: the dilution of the diagnostic DNA for ``standard`` wells (a fraction in
  (0, 1], e.g. ``1e-3``); empty for every other kind;
- ``ct``: a number, or ``Undetermined`` when the well did not amplify;
- ``replicate``: a positive integer.

The reader is strict: a missing or unknown column, an unknown kind, a Ct that is neither a
number nor ``Undetermined``, a level on a non-standard well, a duplicate well, ... raise
:class:`~remission.errors.QpcrFormatError` naming the file, line and field.

See Also
--------
remission.mrd.pcr.analyze_plate : interprets the wells.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from remission.errors import QpcrFormatError, excerpt
from remission.io._text import iter_text_lines

__all__ = ["COLUMNS", "KINDS", "QpcrWell", "read_plate", "write_plate"]

COLUMNS = ("well", "sample", "target", "kind", "level", "ct", "replicate")
KINDS = ("standard", "follow_up", "ntc", "background", "control_gene")
WellKind = Literal["standard", "follow_up", "ntc", "background", "control_gene"]
UNDETERMINED = "Undetermined"


@dataclass(frozen=True)
class QpcrWell:
    """One well of an RQ-PCR plate. ``ct`` is ``None`` when the well did not amplify."""

    well: str
    sample: str
    target: str
    kind: WellKind
    level: float | None
    ct: float | None
    replicate: int
    line: int | None = None


def _number(text: str, *, path: Path, line: int, field: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise QpcrFormatError(f"expected {what}, got {excerpt(text)}", path=path, line=line,
                              field=field) from None
    if not math.isfinite(value):
        raise QpcrFormatError(f"expected {what}, got {excerpt(text)}", path=path, line=line, field=field)
    return value


def _parse_row(row: dict[str, str], *, path: Path, line: int) -> QpcrWell:
    well = row["well"].strip()
    if not well:
        raise QpcrFormatError("expected a well name, got an empty value", path=path, line=line,
                              field="well")
    sample = row["sample"].strip()
    if not sample:
        raise QpcrFormatError("expected a sample name, got an empty value", path=path, line=line,
                              field="sample")
    target = row["target"].strip()
    if not target:
        raise QpcrFormatError("expected a target (marker or control gene), got an empty value",
                              path=path, line=line, field="target")
    kind = row["kind"].strip()
    if kind not in KINDS:
        raise QpcrFormatError(f"expected one of {', '.join(KINDS)}, got {excerpt(kind)}", path=path,
                              line=line, field="kind")
    level_text = row["level"].strip()
    level: float | None = None
    if kind == "standard":
        if not level_text:
            raise QpcrFormatError("a standard well needs its dilution level (e.g. 1e-3)",
                                  path=path, line=line, field="level")
        level = _number(level_text, path=path, line=line, field="level",
                        what="a dilution level in (0, 1]")
        if not 0 < level <= 1:
            raise QpcrFormatError(f"expected a dilution level in (0, 1], got {excerpt(level_text)}",
                                  path=path, line=line, field="level")
    elif level_text:
        raise QpcrFormatError(f"only standard wells have a level, but this {kind} well has "
                              f"{excerpt(level_text)}", path=path, line=line, field="level")
    ct_text = row["ct"].strip()
    ct: float | None
    if ct_text.lower() == UNDETERMINED.lower():
        ct = None
    else:
        ct = _number(ct_text, path=path, line=line, field="ct",
                     what=f"a Ct value (number) or {UNDETERMINED!r}")
        if not 0 < ct < 100:
            raise QpcrFormatError(f"expected a Ct between 0 and 100, got {excerpt(ct_text)}", path=path,
                                  line=line, field="ct")
    rep_text = row["replicate"].strip()
    try:
        replicate = int(rep_text)
    except ValueError:
        raise QpcrFormatError(f"expected a positive integer, got {excerpt(rep_text)}", path=path,
                              line=line, field="replicate") from None
    if replicate < 1:
        raise QpcrFormatError(f"expected a positive integer, got {excerpt(rep_text)}", path=path,
                              line=line, field="replicate")
    return QpcrWell(well=well, sample=sample, target=target, kind=kind,  # type: ignore[arg-type]
                    level=level, ct=ct, replicate=replicate, line=line)


def read_plate(path: str | Path) -> list[QpcrWell]:
    """Read a plate export CSV into wells (see the module docstring for the format).

    Raises
    ------
    QpcrFormatError
        naming file, line and field, for anything that does not follow the format.
    """
    p = Path(path)
    reader = csv.reader(iter_text_lines(p, QpcrFormatError))
    try:
        header = next(reader)
    except StopIteration:
        raise QpcrFormatError("empty file; expected a header line with columns "
                              + ", ".join(COLUMNS), path=p, line=1) from None
    except csv.Error as exc:
        raise QpcrFormatError(f"not a CSV file: {exc}", path=p, line=1) from None
    names = [h.strip() for h in header]
    missing = [c for c in COLUMNS if c not in names]
    unknown = [c for c in names if c not in COLUMNS]
    if missing:
        raise QpcrFormatError(f"missing column(s) {', '.join(missing)}; expected "
                              + ", ".join(COLUMNS), path=p, line=1, field=missing[0])
    if unknown:
        raise QpcrFormatError(f"unknown column(s) {', '.join(map(excerpt, unknown))}; expected "
                              + ", ".join(COLUMNS), path=p, line=1, field=unknown[0])
    if len(set(names)) != len(names):
        raise QpcrFormatError("duplicate column names in the header", path=p, line=1)
    wells: list[QpcrWell] = []
    seen: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(names):
                raise QpcrFormatError(f"expected {len(names)} fields, got {len(row)}",
                                      path=p, line=line)
            w = _parse_row(dict(zip(names, row, strict=True)), path=p, line=line)
            if w.well in seen:
                raise QpcrFormatError(f"duplicate well {excerpt(w.well)} (first on line "
                                      f"{seen[w.well]})", path=p, line=line, field="well")
            seen[w.well] = line
            wells.append(w)
    except csv.Error as exc:
        raise QpcrFormatError(f"malformed CSV: {exc}", path=p, line=reader.line_num) from None
    if not wells:
        raise QpcrFormatError("no wells: the file has a header but no data rows", path=p, line=2)
    return wells


def write_plate(path: str | Path, wells: Iterable[QpcrWell]) -> None:
    """Write wells in the format :func:`read_plate` reads (round-trips exactly)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(COLUMNS)
        for x in wells:
            w.writerow([x.well, x.sample, x.target, x.kind,
                        "" if x.level is None else repr(x.level),
                        UNDETERMINED if x.ct is None else repr(x.ct), x.replicate])
