"""Spike-in calibrator tables for NGS-MRD (CSV or TSV).

One row per calibrator with a header line; columns (any order)::

    name, copies, junction          (``sequence`` is accepted for ``junction``)

``copies`` is the number of calibrator copies added to the sample (a finite number > 0);
``junction`` the calibrator's junction in nucleotides (A, C, G, T, N; case-insensitive). A tab in
the header line selects TSV, else CSV. Strict: a missing column, an empty table, a bad number or a
non-nucleotide junction raise :class:`~remission.errors.SpikeInFormatError` naming file, line and
field. The engine's ``SpikeIn`` records are built from these rows by the caller (``io`` does not
import engines).
"""

from __future__ import annotations

import csv
import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path

from remission.errors import SpikeInFormatError, excerpt
from remission.io._text import iter_text_lines

__all__ = ["SpikeInRow", "read_spike_ins"]

_NUC = re.compile(r"[ACGTN]+")


@dataclass(frozen=True)
class SpikeInRow:
    """One calibrator: its name, the copies added, its junction (upper case) and file line."""

    name: str
    copies: float
    junction: str
    line: int


def read_spike_ins(path: str | Path) -> list[SpikeInRow]:
    """Read a spike-in table (see the module docstring).

    Raises
    ------
    SpikeInFormatError
        naming file, line and field.
    """
    p = Path(path)
    lines = iter_text_lines(p, SpikeInFormatError)
    try:
        first = next(lines)
    except StopIteration:
        raise SpikeInFormatError("empty file; expected a header line name, copies, junction",
                                 path=p, line=1) from None
    reader = csv.reader(itertools.chain([first], lines),
                        dialect="excel-tab" if "\t" in first else "excel")
    out: list[SpikeInRow] = []
    seen: dict[str, int] = {}
    try:
        header = [h.strip() for h in next(reader)]
        col = {h: i for i, h in enumerate(header)}
        seq_col = "junction" if "junction" in col else "sequence"
        missing = [c for c in ("copies", seq_col) if c not in col]
        if missing:
            raise SpikeInFormatError(f"missing column(s) {', '.join(missing)}; expected name, "
                                     "copies, junction", path=p, line=1, field=missing[0])
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise SpikeInFormatError(f"expected {len(header)} fields, got {len(row)}",
                                         path=p, line=line)
            raw = row[col["copies"]].strip()
            try:
                copies = float(raw)
            except ValueError:
                copies = math.nan
            if not (math.isfinite(copies) and copies > 0):
                raise SpikeInFormatError(f"expected a number of copies > 0, got {excerpt(raw)}",
                                         path=p, line=line, field="copies")
            junction = row[col[seq_col]].strip().upper()
            if not _NUC.fullmatch(junction):
                raise SpikeInFormatError(f"expected a nucleotide junction (A, C, G, T, N), got "
                                         f"{excerpt(junction)}", path=p, line=line, field=seq_col)
            name = row[col["name"]].strip() if "name" in col else ""
            name = name or f"spike{len(out) + 1}"
            if name in seen:
                raise SpikeInFormatError(f"spike-in {excerpt(name)} occurs twice (first on line "
                                         f"{seen[name]})", path=p, line=line, field="name")
            seen[name] = line
            out.append(SpikeInRow(name=name, copies=copies, junction=junction, line=line))
    except csv.Error as exc:
        raise SpikeInFormatError(f"malformed CSV: {exc}", path=p, line=reader.line_num) from None
    if not out:
        raise SpikeInFormatError("no spike-ins: the file has a header but no rows", path=p, line=2)
    return out
