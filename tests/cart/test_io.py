"""Strict readers for CAR-T files: bad input names file, line and field (issue 7 acceptance)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from remission.errors import ObservationFormatError
from remission.io.cart import read_b_cells, read_kinetics, read_observations

HEADER = "day,temperature_c,antipyretic,anti_cytokine,hypotension,vasopressors,oxygen,oxygen_l_min,ice_score,consciousness"


def _write(tmp_path: Path, text: str, name: str = "obs.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_good_observation_file(tmp_path: Path) -> None:
    p = _write(tmp_path, f"# comment\n{HEADER}\n0,36.8,F,F,F,0,none,,10,awake\n3,39.5,T,T,T,1,low_flow,2,8,voice\n")
    rows = read_observations(p, age_years=14)
    assert len(rows) == 2 and rows[1].vasopressors == 1 and rows[1].oxygen_l_min == 2.0
    assert rows[1].line == 4 and rows[1].consciousness == "voice"


def test_dates_become_days_since_infusion(tmp_path: Path) -> None:
    p = _write(tmp_path, "date,temperature_c\n2022-07-08,38.9\n")
    (a,) = read_observations(p, infusion_date=dt.date(2022, 7, 5))
    assert a.day == 3 and a.date == dt.date(2022, 7, 8)


BAD_OBS = [
    ("impossible temperature", "3,98.6,F,F,F,0,none,,10,awake", "field temperature_c: impossible body temperature"),
    ("unknown oxygen category", "3,38.5,F,F,F,0,mask,,10,awake", "field oxygen: unknown category 'mask'"),
    ("unknown consciousness", "3,38.5,F,F,F,0,none,,10,sleepy", "field consciousness: unknown category 'sleepy'"),
    ("oxygen flow without a mode", "3,38.5,F,F,F,0,none,4,10,awake",
     "field oxygen_l_min: oxygen flow 4 L/min without an oxygen mode"),
    ("oxygen flow with empty mode", "3,38.5,F,F,F,0,,4,10,awake", "without an oxygen mode"),
    ("bad boolean", "3,38.5,maybe,F,F,0,none,,10,awake", "field antipyretic: expected T or F, got 'maybe'"),
    ("vasopressors without hypotension", "3,38.5,F,F,F,1,none,,10,awake", "field hypotension: vasopressors given"),
    ("ICE out of range", "3,38.5,F,F,F,0,none,,11,awake", r"field ice_score: expected an ICE score \(0-10\)"),
    ("no day", ",38.5,F,F,F,0,none,,10,awake", "field day: expected a day"),
    ("wrong field count", "3,38.5,F", ": expected 10 fields, got 3"),
]


@pytest.mark.parametrize(("row", "msg"), [c[1:] for c in BAD_OBS], ids=[c[0] for c in BAD_OBS])
def test_bad_observation_rows(tmp_path: Path, row: str, msg: str) -> None:
    p = _write(tmp_path, f"{HEADER}\n{row}\n")
    with pytest.raises(ObservationFormatError, match=rf"observation file 'obs.csv', line 2.*{msg}"):
        read_observations(p)


def test_ice_score_for_a_five_year_old(tmp_path: Path) -> None:
    p = _write(tmp_path, f"{HEADER}\n0,36.8,F,F,F,0,none,,10,awake\n1,37.0,F,F,F,0,none,,9,awake\n")
    with pytest.raises(ObservationFormatError,
                       match=r"line 2, field ice_score: ICE score given for a patient aged 5.0 y; .* CAPD"):
        read_observations(p, age_years=5.0)


def test_capd_for_a_five_year_old_is_fine(tmp_path: Path) -> None:
    p = _write(tmp_path, "day,capd_score,consciousness\n1,10,awake\n2,unable,unarousable\n")
    rows = read_observations(p, age_years=5.0)
    assert rows[0].capd_score == 10 and rows[1].capd_unable


def test_unknown_column_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ObservationFormatError, match="line 1, field temp: unknown column 'temp'"):
        read_observations(_write(tmp_path, "day,temp\n1,38\n"))
    with pytest.raises(ObservationFormatError, match="empty file"):
        read_observations(_write(tmp_path, "", "empty.csv"))
    with pytest.raises(ObservationFormatError, match="no assessments"):
        read_observations(_write(tmp_path, "day,temperature_c\n", "head.csv"))
    with pytest.raises(ObservationFormatError, match="cannot open"):
        read_observations(tmp_path / "missing.csv")


def test_kinetics_reader(tmp_path: Path) -> None:
    p = _write(tmp_path, "day,value,unit,below_lod\n7,2000,copies_per_ug,F\n0,5,copies_per_ug,T\n", "k.csv")
    s = read_kinetics(p)
    assert s.days == (0.0, 7.0) and s.below_lod == (True, False) and s.unit == "copies_per_ug"


BAD_KIN = [
    ("unknown unit", "1,20,copies,F", "field unit: unknown category 'copies'"),
    ("negative value", "1,-3,copies_per_ug,F", "field value: expected a value >= 0"),
    ("below LoD without LoD", "1,,copies_per_ug,T", "field value: expected a value"),
    ("zero not marked", "1,0,copies_per_ug,F", "field value: a measured value of 0 must be marked below_lod"),
    ("missing below_lod", "1,20,copies_per_ug,", "field below_lod: expected T or F"),
]


@pytest.mark.parametrize(("row", "msg"), [c[1:] for c in BAD_KIN], ids=[c[0] for c in BAD_KIN])
def test_bad_kinetics_rows(tmp_path: Path, row: str, msg: str) -> None:
    p = _write(tmp_path, f"day,value,unit,below_lod\n{row}\n", "k.csv")
    with pytest.raises(ObservationFormatError, match=rf"'k.csv', line 2, {msg}"):
        read_kinetics(p)


def test_kinetics_mixed_units_and_duplicate_days(tmp_path: Path) -> None:
    p = _write(tmp_path, "day,value,unit,below_lod\n1,20,copies_per_ug,F\n2,20,cells_per_ul,F\n", "k.csv")
    with pytest.raises(ObservationFormatError, match="line 3, field unit: unit 'cells_per_ul' differs"):
        read_kinetics(p)
    p = _write(tmp_path, "day,value,unit,below_lod\n1,20,copies_per_ug,F\n1,30,copies_per_ug,F\n", "k.csv")
    with pytest.raises(ObservationFormatError, match="line 3, field day: day 1 appears twice"):
        read_kinetics(p)


def test_b_cell_reader(tmp_path: Path) -> None:
    s = read_b_cells(_write(tmp_path, "day,value,unit\n28,0.1,percent_lymphocytes\n7,0.3,percent_lymphocytes\n",
                            "b.csv"))
    assert s.days == (7.0, 28.0) and s.values == (0.3, 0.1)
    with pytest.raises(ObservationFormatError, match="line 2, field value: a percentage must be <= 100"):
        read_b_cells(_write(tmp_path, "day,value,unit\n7,130,percent_lymphocytes\n", "b.csv"))
