"""Readers for CAR-T monitoring files: toxicity observations, cellular kinetics, B-cell counts.

All three are small CSV files (comma-separated, header line, UTF-8, ``#`` comment lines
allowed). Readers are strict: an unknown column, an unknown category or an impossible value
raises :class:`~remission.errors.ObservationFormatError` naming the file, line and field.

Observation CSV (one row per assessment), columns (``day`` or ``date`` required, the rest
optional; empty cell = not assessed)::

    day | date, temperature_c, antipyretic, anti_cytokine, hypotension, vasopressors,
    vasopressin, vasopressor_high_dose, oxygen, oxygen_l_min, fio2, mechanical_ventilation,
    ice_score, capd_score, consciousness, sedated, seizure, motor, cerebral_edema,
    creatinine_grade, transaminase_grade, organ_toxicity_grade, hospitalized, death_attributed_to

Kinetics CSV: ``day`` (or ``date``), ``value``, ``unit`` (``copies_per_ug`` | ``cells_per_ul``),
``below_lod`` (T/F; for below-LoD rows ``value`` is the limit of detection).

B-cell CSV: ``day`` (or ``date``), ``value``, ``unit`` (``cells_per_ul`` |
``percent_lymphocytes`` | ``percent_mnc``).

Booleans are ``T``/``F`` (also ``true``/``false``, ``1``/``0``, any case).
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from remission.domain.cart import (
    CONSCIOUSNESS,
    EDEMA,
    MOTOR,
    OXYGEN,
    SEIZURE,
    Assessment,
    BCellSeries,
    KineticsSeries,
)
from remission.errors import ObservationFormatError, excerpt
from remission.io._text import iter_text_lines

__all__ = [
    "OBSERVATION_COLUMNS",
    "read_b_cells",
    "read_kinetics",
    "read_observations",
    "write_b_cells",
    "write_kinetics",
    "write_observations",
]

OBSERVATION_COLUMNS = (
    "day", "date", "temperature_c", "antipyretic", "anti_cytokine", "hypotension", "vasopressors",
    "vasopressin", "vasopressor_high_dose", "oxygen", "oxygen_l_min", "fio2",
    "mechanical_ventilation", "ice_score", "capd_score", "consciousness", "sedated", "seizure",
    "motor", "cerebral_edema", "creatinine_grade", "transaminase_grade", "organ_toxicity_grade",
    "hospitalized", "death_attributed_to",
)
KINETICS_COLUMNS = ("day", "date", "value", "unit", "below_lod")
BCELL_COLUMNS = ("day", "date", "value", "unit")
KINETICS_UNITS = ("copies_per_ug", "cells_per_ul")
BCELL_UNITS = ("cells_per_ul", "percent_lymphocytes", "percent_mnc")
DEATH = ("none", "crs", "icans", "other")

_TRUE = {"t", "true", "1", "yes", "y"}
_FALSE = {"f", "false", "0", "no", "n"}


class _Row:
    """One CSV row with typed accessors that raise errors naming path, line and field."""

    def __init__(self, path: Path, line: int, data: dict[str, str]) -> None:
        self.path, self.line, self.data = path, line, data

    def error(self, field: str | None, message: str) -> ObservationFormatError:
        return ObservationFormatError(message, path=self.path, line=self.line, field=field)

    def raw(self, name: str) -> str:
        return (self.data.get(name) or "").strip()

    def text(self, name: str, allowed: tuple[str, ...] | None = None) -> str | None:
        v = self.raw(name)
        if not v:
            return None
        if allowed is not None and v not in allowed:
            raise self.error(name, f"unknown category {excerpt(v)}; expected one of {', '.join(allowed)}")
        return v

    def boolean(self, name: str) -> bool | None:
        v = self.raw(name)
        if not v:
            return None
        if v.lower() in _TRUE:
            return True
        if v.lower() in _FALSE:
            return False
        raise self.error(name, f"expected T or F, got {excerpt(v)}")

    def number(self, name: str, lo: float | None = None, hi: float | None = None,
               what: str = "a number") -> float | None:
        v = self.raw(name)
        if not v:
            return None
        try:
            x = float(v)
        except ValueError:
            raise self.error(name, f"expected {what}, got {excerpt(v)}") from None
        if not math.isfinite(x):
            raise self.error(name, f"expected a finite number, got {excerpt(v)}")
        if (lo is not None and x < lo) or (hi is not None and x > hi):
            raise self.error(name, f"expected {what} in {lo:g}-{hi:g}, got {excerpt(v)}" if lo is not None
                             and hi is not None else f"expected {what}, got {excerpt(v)}")
        return x

    def integer(self, name: str, lo: int, hi: int, what: str = "an integer") -> int | None:
        v = self.raw(name)
        if not v:
            return None
        try:
            x = int(v)
        except ValueError:
            raise self.error(name, f"expected {what} ({lo}-{hi}), got {excerpt(v)}") from None
        if not lo <= x <= hi:
            raise self.error(name, f"expected {what} ({lo}-{hi}), got {excerpt(v)}")
        return x

    def date(self, name: str) -> dt.date | None:
        v = self.raw(name)
        if not v:
            return None
        try:
            return dt.date.fromisoformat(v)
        except ValueError:
            raise self.error(name, f"expected an ISO date (YYYY-MM-DD), got {excerpt(v)}") from None


def _rows(path: str | Path, known: tuple[str, ...]) -> Iterator[_Row]:
    p = Path(path)
    lines = ((i, line) for i, line in enumerate(iter_text_lines(p, ObservationFormatError), start=1)
             if line.strip() and not line.lstrip().startswith("#"))
    lineno = 1
    try:
        try:
            lineno, first = next(lines)
        except StopIteration:
            raise ObservationFormatError("empty file: expected a header line", path=p) from None
        header = [h.strip() for h in next(csv.reader([first]))]
        for h in header:
            if h not in known:
                raise ObservationFormatError(
                    f"unknown column {excerpt(h)}; expected columns among {', '.join(known)}",
                    path=p, line=lineno, field=h)
        if len(set(header)) != len(header):
            raise ObservationFormatError("duplicate column names in header", path=p, line=lineno)
        if "day" not in header and "date" not in header:
            raise ObservationFormatError("header needs a 'day' or a 'date' column", path=p, line=lineno)
        for lineno, line in lines:
            cells = next(csv.reader([line]))
            if len(cells) != len(header):
                raise ObservationFormatError(
                    f"expected {len(header)} fields, got {len(cells)}", path=p, line=lineno)
            yield _Row(p, lineno, dict(zip(header, cells, strict=True)))
    except csv.Error as exc:
        raise ObservationFormatError(f"malformed CSV: {exc}", path=p, line=lineno) from None


def _when(row: _Row, infusion_date: dt.date | None) -> tuple[float | None, dt.date | None]:
    day = row.number("day", -60, 36500, "days since infusion")
    date = row.date("date")
    if day is None and date is None:
        raise row.error("day", "expected a day (days since infusion) or a date; both are empty")
    if date is not None and infusion_date is not None:
        derived = float((date - infusion_date).days)
        if day is not None and day != derived:
            raise row.error("day", f"day {day:g} disagrees with date {date} ({derived:g} days after "
                            f"infusion on {infusion_date})")
        day = derived
    return day, date


def read_observations(path: str | Path, *, age_years: float | None = None,
                      infusion_date: dt.date | None = None,
                      capd_age_below_years: float = 12.0) -> list[Assessment]:
    """Read an observation CSV into :class:`~remission.domain.cart.Assessment` records.

    ``age_years`` (the patient's age at the assessments) enables the ICE/CAPD age check:
    an ICE score for a patient younger than ``capd_age_below_years`` is an error (ASTCT: the
    CAPD is used below 12 y; the boundary is a rule, clinical_rules.md §2.3 [U]).
    ``infusion_date`` converts a ``date`` column into days since infusion.
    """
    out: list[Assessment] = []
    for row in _rows(path, OBSERVATION_COLUMNS):
        day, date = _when(row, infusion_date)
        temp = row.number("temperature_c")
        if temp is not None and not 25.0 <= temp <= 45.0:
            raise row.error("temperature_c", f"impossible body temperature {row.raw('temperature_c')} °C; "
                            "expected 25-45 °C (degrees Celsius, not Fahrenheit)")
        oxygen = row.text("oxygen", OXYGEN)
        flow = row.number("oxygen_l_min", 0, 80, "a flow in L/min")
        if flow and oxygen in (None, "none"):
            raise row.error("oxygen_l_min", f"oxygen flow {flow:g} L/min without an oxygen mode; set "
                            f"oxygen to one of {', '.join(OXYGEN[1:])}")
        fio2 = row.number("fio2", 0.21, 1.0, "an inspired O2 fraction")
        if fio2 is not None and fio2 > 0.21 and oxygen in (None, "none"):
            raise row.error("fio2", f"FiO2 {fio2:g} without an oxygen mode")
        mv = row.boolean("mechanical_ventilation")
        if mv and oxygen != "positive_pressure":
            raise row.error("mechanical_ventilation", "mechanical ventilation needs oxygen = positive_pressure")
        hypo = row.boolean("hypotension")
        pressors = row.integer("vasopressors", 0, 10, "a vasopressor count") or 0
        vasopressin = bool(row.boolean("vasopressin"))
        high = bool(row.boolean("vasopressor_high_dose"))
        if (pressors or vasopressin) and hypo is False:
            raise row.error("hypotension", "vasopressors given but hypotension is F")
        if high and not (pressors or vasopressin):
            raise row.error("vasopressor_high_dose", "high-dose vasopressor flagged but vasopressors is 0")
        ice = row.integer("ice_score", 0, 10, "an ICE score")
        capd_raw = row.raw("capd_score")
        capd_unable = capd_raw.lower() == "unable"
        capd = None if capd_unable else row.integer("capd_score", 0, 32, "a CAPD score or 'unable'")
        if ice is not None and (capd is not None or capd_unable):
            raise row.error("capd_score", "give either ice_score or capd_score, not both")
        if ice is not None and age_years is not None and age_years < capd_age_below_years:
            raise row.error("ice_score", f"ICE score given for a patient aged {age_years:.1f} y; "
                            f"patients younger than {capd_age_below_years:g} y are assessed with the "
                            "CAPD (use capd_score)")
        out.append(Assessment(
            day=day, date=date, temperature_c=temp,
            antipyretic=bool(row.boolean("antipyretic")),
            anti_cytokine=bool(row.boolean("anti_cytokine")),
            hypotension=bool(hypo) or bool(pressors) or vasopressin,
            vasopressors=pressors, vasopressin=vasopressin, vasopressor_high_dose=high,
            oxygen=oxygen or "none",  # type: ignore[arg-type]
            oxygen_l_min=flow, fio2=fio2, mechanical_ventilation=mv,
            ice_score=ice, capd_score=capd, capd_unable=capd_unable,
            consciousness=row.text("consciousness", CONSCIOUSNESS),  # type: ignore[arg-type]
            sedated=bool(row.boolean("sedated")),
            seizure=row.text("seizure", SEIZURE),  # type: ignore[arg-type]
            motor=row.text("motor", MOTOR),  # type: ignore[arg-type]
            cerebral_edema=row.text("cerebral_edema", EDEMA),  # type: ignore[arg-type]
            creatinine_grade=row.integer("creatinine_grade", 0, 5, "a CTCAE grade"),
            transaminase_grade=row.integer("transaminase_grade", 0, 5, "a CTCAE grade"),
            organ_toxicity_grade=row.integer("organ_toxicity_grade", 0, 5, "a CTCAE grade"),
            hospitalized=row.boolean("hospitalized"),
            death_attributed_to=row.text("death_attributed_to", DEATH) or "none",  # type: ignore[arg-type]
            line=row.line,
        ))
    if not out:
        raise ObservationFormatError("no assessments (header only)", path=path)
    return out


def _series(path: str | Path, known: tuple[str, ...], units: tuple[str, ...], infusion_date: dt.date | None,
            extra: Callable[[_Row], Any] | None = None) -> list[tuple[float | None, dt.date | None, float, str, Any]]:
    rows = []
    unit_seen: str | None = None
    for row in _rows(path, known):
        day, date = _when(row, infusion_date)
        unit = row.text("unit", units)
        if unit is None:
            raise row.error("unit", f"expected a unit, one of {', '.join(units)}")
        if unit_seen is not None and unit != unit_seen:
            raise row.error("unit", f"unit {excerpt(unit)} differs from {excerpt(unit_seen)} in earlier rows; one unit per file")
        unit_seen = unit
        value = row.number("value", 0, None, "a value >= 0")
        if value is None:
            raise row.error("value", "expected a value, got an empty cell")
        if unit.startswith("percent") and value > 100:
            raise row.error("value", f"a percentage must be <= 100, got {value:g}")
        rows.append((day, date, value, unit, extra(row) if extra else None))
    if not rows:
        raise ObservationFormatError("no data rows (header only)", path=path)
    return rows


def read_kinetics(path: str | Path, *, infusion_date: dt.date | None = None) -> KineticsSeries:
    """Read a CAR-T cellular-kinetics CSV (sorted by day; days must be unique)."""

    def blq(row: _Row) -> tuple[bool, int]:
        b = row.boolean("below_lod")
        if b is None:
            raise row.error("below_lod", "expected T or F, got an empty cell")
        v = row.number("value")
        if b and not v:
            raise row.error("value", "a below-LoD row needs value = the assay's limit of detection (> 0)")
        if not b and v == 0:
            raise row.error("value", "a measured value of 0 must be marked below_lod = T (with the LoD as value)")
        return b, row.line

    rows = _series(path, KINETICS_COLUMNS, KINETICS_UNITS, infusion_date, blq)
    if any(r[0] is None for r in rows):
        raise ObservationFormatError("kinetics need days since infusion: give a 'day' column or the "
                                     "infusion date", path=path, field="day")
    rows.sort(key=lambda r: r[0])  # type: ignore[arg-type,return-value]
    for a, b in itertools.pairwise(rows):
        if a[0] == b[0]:
            raise ObservationFormatError(f"day {b[0]:g} appears twice", path=path, line=b[4][1], field="day")
    return KineticsSeries(
        days=tuple(float(r[0]) for r in rows),  # type: ignore[arg-type]
        values=tuple(r[2] for r in rows),
        below_lod=tuple(r[4][0] for r in rows),
        unit=rows[0][3],  # type: ignore[arg-type]
        dates=tuple(r[1] for r in rows),
    )


def read_b_cells(path: str | Path, *, infusion_date: dt.date | None = None) -> BCellSeries:
    """Read a CD19+ B-cell CSV (sorted by day or date)."""
    rows = _series(path, BCELL_COLUMNS, BCELL_UNITS, infusion_date)
    if all(r[0] is not None for r in rows):
        rows.sort(key=lambda r: r[0])  # type: ignore[arg-type,return-value]
    elif all(r[1] is not None for r in rows):
        rows.sort(key=lambda r: r[1])  # type: ignore[arg-type,return-value]
    else:
        raise ObservationFormatError("every row needs a day, or every row a date", path=path, field="day")
    return BCellSeries(days=tuple(r[0] for r in rows), dates=tuple(r[1] for r in rows),
                       values=tuple(r[2] for r in rows), unit=rows[0][3])  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- writers --

def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "T" if v else "F"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def write_observations(path: str | Path, assessments: list[Assessment],
                       columns: tuple[str, ...] | None = None) -> None:
    """Write assessments as an observation CSV (only ``columns``, default the issue's set)."""
    cols = columns or ("day", "temperature_c", "antipyretic", "anti_cytokine", "hypotension",
                       "vasopressors", "vasopressor_high_dose", "oxygen", "oxygen_l_min", "ice_score",
                       "consciousness", "seizure", "motor", "cerebral_edema")
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(cols)
        for a in assessments:
            w.writerow([_fmt(getattr(a, c)) for c in cols])


def write_kinetics(path: str | Path, series: KineticsSeries) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(("day", "value", "unit", "below_lod"))
        for d, v, b in zip(series.days, series.values, series.below_lod, strict=True):
            w.writerow((_fmt(d), _fmt(v), series.unit, _fmt(b)))


def write_b_cells(path: str | Path, series: BCellSeries) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(("day", "value", "unit"))
        for d, v in zip(series.days, series.values, strict=True):
            w.writerow((_fmt(d), _fmt(v), series.unit))
