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
    # recovery = first of 2 samples >= 1 % after aplasia: day 120, confirmed day 180
    # (<= 183 days -> early loss, Mueller 2018)
    assert r.recovery_day == 120 and r.recovery_date == inf + dt.timedelta(days=120)
    assert r.early_loss and not r.ongoing
    sources = " ".join(s["source"] for s in r.signals)
    assert "Mueller" in sources and "Pulsipher" in sources and "HR 4.5" in sources


def test_late_recovery_is_not_early_but_within_first_year() -> None:
    # day 300 at 2 % is confirmed by day 330 at 1.8 % (loss needs a second sample [C], single centre)
    r = b_cell_aplasia(_series([14, 90, 180, 300, 330], [0.1, 0.1, 0.2, 2.0, 1.8]))
    assert r.recovery_day == 300 and not r.early_loss and r.status == "lost"
    assert [s["kind"] for s in r.signals] == ["relapse_risk"]


def test_one_value_above_threshold_at_the_end_is_not_yet_loss() -> None:
    r = b_cell_aplasia(_series([14, 90, 180, 300], [0.1, 0.1, 0.2, 2.0]))
    assert r.recovery_day is None and r.status == "loss_unconfirmed" and r.ongoing
    assert [s["kind"] for s in r.signals] == ["awaiting_confirmation"]


def test_transient_excursion_returns_to_ongoing_aplasia() -> None:
    # 1.5 % on day 60 (>= 1 % [R]) then 0.2 % and 0.1 %: one unconfirmed value, aplasia goes on
    r = b_cell_aplasia(_series([7, 28, 60, 90, 120], [0.1, 0.0, 1.5, 0.2, 0.1]))
    assert r.status == "ongoing" and r.ongoing and r.recovery_day is None
    assert [t["day"] for t in r.transient] == [60]
    assert r.as_dict()["transient_excursions"][0]["samples"] == 1


def test_never_aplastic() -> None:
    r = b_cell_aplasia(_series([7, 28], [5.0, 6.0]))
    assert not r.aplasia_reached and r.recovery_day is None
    assert r.signals[0]["kind"] == "no_aplasia"


def test_two_periods_and_confirmation_rule() -> None:
    vals = [0.1, 1.2, 0.2, 0.1, 2.0, 3.0]
    # default: 2 consecutive samples at/above the threshold; day 30 alone is transient
    r = b_cell_aplasia(_series([7, 30, 60, 90, 200, 240], vals))
    assert len(r.periods) == 2 and r.recovery_day == 200 and r.status == "lost"
    assert [t["day"] for t in r.transient] == [30]
    # one sample (a user override) makes day 30 the recovery
    r1 = b_cell_aplasia(_series([7, 30, 60, 90, 200, 240], vals), overrides={"recovery_confirm_samples": 1})
    assert r1.recovery_day == 30
    assert any(x["name"] == "recovery_confirm_samples" and x["tag"] == "user" for x in r1.rests_on)


def test_cells_per_ul_needs_a_threshold() -> None:
    s = _series([7, 28], [0.0, 1.0], unit="cells_per_ul")
    with pytest.raises(ValidationError, match="bca_threshold_cells_per_ul must be set"):
        b_cell_aplasia(s)
    assert b_cell_aplasia(s, overrides={"bca_threshold_cells_per_ul": 20}).ongoing


def test_percent_mnc_threshold() -> None:
    # 3 % of mononuclear cells [R]
    assert b_cell_aplasia(_series([7, 28], [1.0, 2.9], unit="percent_mnc")).ongoing
    assert b_cell_aplasia(_series([7, 28, 35], [1.0, 3.0, 3.2], unit="percent_mnc")).recovery_day == 28


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
