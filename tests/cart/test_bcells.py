"""B-cell aplasia, recovery, early loss and the CD19/CD22 course (cart_models.md §1.3, §5.2)."""

from __future__ import annotations

import datetime as dt

import pytest

from remission.cart.bcells import antigen_course, b_cell_aplasia
from remission.domain.cart import BCellSeries
from remission.domain.case import Antigen
from remission.errors import ValidationError


def _series(days: list[float], values: list[float], unit: str = "percent_lymphocytes") -> BCellSeries:
    return BCellSeries(days=tuple(days), dates=tuple(None for _ in days), values=tuple(values), unit=unit)  # type: ignore[arg-type]


def test_ongoing_aplasia() -> None:
    # threshold 1 % of lymphocytes [R]: every post-infusion sample below -> one ongoing period
    r = b_cell_aplasia(_series([-5, 7, 28, 90, 180], [7.0, 0.2, 0.0, 0.1, 0.05]))
    assert r.ongoing and r.aplasia_reached and r.recovery_day is None and not r.early_loss
    assert len(r.periods) == 1 and r.periods[0]["start_day"] == 7 and not r.periods[0]["ended_by_recovery"]
    assert r.signals == ()


def test_early_recovery_is_flagged_with_its_source() -> None:
    inf = dt.date(2022, 7, 5)
    r = b_cell_aplasia(_series([7, 28, 90, 120, 180], [0.1, 0.0, 0.3, 1.5, 3.0]), infusion_date=inf)
    # recovery = first sample >= 1 % after aplasia: day 120 (<= 183 days -> early loss, Mueller 2018)
    assert r.recovery_day == 120 and r.recovery_date == inf + dt.timedelta(days=120)
    assert r.early_loss and not r.ongoing
    sources = " ".join(s["source"] for s in r.signals)
    assert "Mueller" in sources and "Pulsipher" in sources and "HR 4.5" in sources


def test_late_recovery_is_not_early_but_within_first_year() -> None:
    r = b_cell_aplasia(_series([14, 90, 180, 300], [0.1, 0.1, 0.2, 2.0]))
    assert r.recovery_day == 300 and not r.early_loss
    assert [s["kind"] for s in r.signals] == ["relapse_risk"]


def test_never_aplastic() -> None:
    r = b_cell_aplasia(_series([7, 28], [5.0, 6.0]))
    assert not r.aplasia_reached and r.recovery_day is None
    assert r.signals[0]["kind"] == "no_aplasia"


def test_two_periods_and_confirmation_rule() -> None:
    vals = [0.1, 1.2, 0.2, 0.1, 2.0, 3.0]
    r = b_cell_aplasia(_series([7, 30, 60, 90, 200, 240], vals))
    assert len(r.periods) == 2 and r.recovery_day == 30
    # requiring 2 consecutive samples above threshold moves the recovery to day 200
    r2 = b_cell_aplasia(_series([7, 30, 60, 90, 200, 240], vals), overrides={"recovery_confirm_samples": 2})
    assert r2.recovery_day == 200
    assert any(x["name"] == "recovery_confirm_samples" and x["tag"] == "user" for x in r2.rests_on)


def test_cells_per_ul_needs_a_threshold() -> None:
    s = _series([7, 28], [0.0, 1.0], unit="cells_per_ul")
    with pytest.raises(ValidationError, match="bca_threshold_cells_per_ul must be set"):
        b_cell_aplasia(s)
    assert b_cell_aplasia(s, overrides={"bca_threshold_cells_per_ul": 20}).ongoing


def test_percent_mnc_threshold() -> None:
    # 3 % of mononuclear cells [R]
    assert b_cell_aplasia(_series([7, 28], [1.0, 2.9], unit="percent_mnc")).ongoing
    assert b_cell_aplasia(_series([7, 28], [1.0, 3.0], unit="percent_mnc")).recovery_day == 28


def test_cd19_negative_after_infusion_and_antigen_escape() -> None:
    inf = dt.date(2022, 7, 5)
    ants = [Antigen(date=dt.date(2022, 3, 1), CD19_percent=98, CD22_percent=88),
            Antigen(date=dt.date(2023, 1, 10), CD19_percent=2, CD22_percent=80)]
    c = antigen_course(ants, infusion_date=inf, bca_ongoing=True)
    assert c.cd19_negative and not c.cd19_negative_before_infusion
    assert c.first_cd19_negative_date == dt.date(2023, 1, 10)
    assert c.points[1]["day"] == (dt.date(2023, 1, 10) - inf).days
    assert "88%" in c.signals[0]["source"] and "antigen escape" in c.signals[0]["signal"]
    assert c.rests_on[0]["name"] == "cd19_negative_below_percent"


def test_cd19_positive_course_is_not_flagged() -> None:
    c = antigen_course([Antigen(date=dt.date(2022, 8, 1), CD19_percent=90)], infusion_date=dt.date(2022, 7, 5))
    assert not c.cd19_negative and c.signals == ()
