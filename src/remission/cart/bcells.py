"""B-cell aplasia after CD19-directed therapy, and CD19/CD22 expression over time.

B-cell aplasia (BCA) is the pharmacodynamic marker of functional CAR-T persistence
(recalled, no primary source checked). Loss of BCA (B-cell recovery) is defined by a CD19+
B-cell threshold whose convention differs between centres, so thresholds are rules
([R], recalled, no primary source checked: >= 1 % of lymphocytes, or >= 3 % of mononuclear
cells; no cells/µL threshold is in the specs, so that unit needs a user-set threshold).

Relapse-risk signals and their sources:

* B-cell recovery within 6 months went with earlier transgene loss (Mueller KT et al.,
  *Clin Cancer Res* 2018;24:6175, [V]).
* B-cell recovery within the first year: relapse HR 4.5 (2.03-9.97); at day 28, HR 3.33
  (Pulsipher MA et al., *Blood Cancer Discov* 2022;3:66, [V]).
* Relapses while BCA persisted were 88 % (23/25) CD19-negative (Pulsipher 2022).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from remission.domain.cart import BCellSeries
from remission.domain.case import Antigen
from remission.domain.parameters import Rule, resolve, rests_on, rule_set
from remission.errors import ValidationError

__all__ = [
    "BCELL_RULES",
    "AntigenCourse",
    "BCellAplasia",
    "BCellAplasiaEstimator",
    "antigen_course",
    "b_cell_aplasia",
]

_MUELLER = ("Mueller KT et al., Clin Cancer Res 2018;24:6175: B-cell recovery within 6 months went "
            "with earlier loss of CAR transgene")
_PULSIPHER = ("Pulsipher MA et al., Blood Cancer Discov 2022;3:66: B-cell recovery within the first "
              "year, relapse HR 4.5 (95% CI 2.03-9.97)")
_PULSIPHER_CD19 = ("Pulsipher MA et al., Blood Cancer Discov 2022;3:66: 23/25 (88%) relapses with "
                   "persistent B-cell aplasia were CD19-negative")
_RECALLED = "recalled, no primary source checked"

BCELL_RULES: dict[str, Rule] = rule_set(
    Rule("bca_threshold_percent_lymphocytes", 1.0, "R", _RECALLED,
         "CD19+ B cells (% of lymphocytes) at or above which B-cell aplasia is lost"),
    Rule("bca_threshold_percent_mnc", 3.0, "R", _RECALLED,
         "CD19+ B cells (% of mononuclear cells) at or above which B-cell aplasia is lost"),
    Rule("bca_threshold_cells_per_ul", None, "U", "not in the specs: centre-specific; must be set",
         "CD19+ B cells/µL at or above which B-cell aplasia is lost"),
    Rule("recovery_confirm_samples", 2, "C", "Cincinnati multiple-infusion series (single centre, not "
         "consensus; authorea preprint 614197): loss of B-cell aplasia 'confirmed on a second sample'",
         "consecutive samples at/above threshold needed to call B-cell recovery (the first and its "
         "confirmation); a shorter excursion is transient, not loss"),
    Rule("early_loss_days", 183, "R", _MUELLER,
         "B-cell recovery up to this day after infusion is flagged as early loss of aplasia"),
    Rule("recovery_risk_window_days", 365, "C", _PULSIPHER,
         "B-cell recovery within this many days is a relapse-risk signal"),
    Rule("cd19_negative_below_percent", 20.0, "U",
         "not in the specs; EGIL marker-positivity convention (>= 20 % of blasts) — confirm",
         "CD19 expression (% of blasts) below which disease is called CD19-negative"),
)


@dataclass(frozen=True)
class BCellAplasia:
    """Aplasia periods, recovery and relapse-risk signals of one B-cell course."""

    unit: str
    threshold: float
    samples: tuple[dict[str, Any], ...]
    periods: tuple[dict[str, Any], ...]
    aplasia_reached: bool
    ongoing: bool
    recovery_day: float | None
    recovery_date: dt.date | None
    early_loss: bool
    signals: tuple[dict[str, Any], ...]
    rules: Mapping[str, Rule] = field(default_factory=dict)
    #: ongoing | lost | loss_unconfirmed | never_reached (the latest evidence decides)
    status: str = "ongoing"
    transient: tuple[dict[str, Any], ...] = ()

    @property
    def rests_on(self) -> list[dict[str, Any]]:
        used = (_THRESHOLD_RULE[self.unit], "recovery_confirm_samples", "early_loss_days",
                "recovery_risk_window_days")
        return rests_on(self.rules[k] for k in used if k in self.rules)

    def as_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit, "threshold": self.threshold, "samples": list(self.samples),
            "periods": list(self.periods), "aplasia_reached": self.aplasia_reached,
            "ongoing": self.ongoing, "recovery_day": self.recovery_day,
            "recovery_date": self.recovery_date.isoformat() if self.recovery_date else None,
            "early_loss": self.early_loss, "signals": list(self.signals),
            "status": self.status, "transient_excursions": list(self.transient),
        }


_THRESHOLD_RULE = {"percent_lymphocytes": "bca_threshold_percent_lymphocytes",
                   "percent_mnc": "bca_threshold_percent_mnc",
                   "cells_per_ul": "bca_threshold_cells_per_ul"}


def _threshold(unit: str, r: Mapping[str, Rule]) -> float:
    name = _THRESHOLD_RULE.get(unit)
    if name is None:
        raise ValidationError(f"unit must be one of percent_lymphocytes, percent_mnc, cells_per_ul, but was {unit!r}")
    v = r[name].value
    if v is None:
        raise ValidationError(f"{name} must be set for B-cell counts in {unit} (no threshold in the specs), "
                              "but was None; pass it as a parameter override")
    return float(v)


def _post_infusion_samples(series: BCellSeries, thr: float,
                           infusion_date: dt.date | None) -> list[dict[str, Any]]:
    """Samples on or after the infusion (day >= 0), with day/date completed and the aplastic flag."""
    n = len(series.values)
    if n == 0:
        raise ValidationError("series must contain at least one sample, but was empty")
    days: list[float | None] = []
    for d, date in zip(series.days, series.dates, strict=True):
        if d is None and date is not None and infusion_date is not None:
            d = float((date - infusion_date).days)
        days.append(d)
    dates = list(series.dates)
    if infusion_date is not None:
        dates = [dd if dd is not None else (infusion_date + dt.timedelta(days=int(d)) if d is not None else None)
                 for dd, d in zip(dates, days, strict=True)]
    samples: list[dict[str, Any]] = []
    for i in range(n):
        day_i, date_i = days[i], dates[i]
        if day_i is not None and day_i < 0:
            continue
        aplastic = series.values[i] < thr
        samples.append({"day": day_i, "date": date_i.isoformat() if date_i else None,
                        "value": series.values[i], "aplastic": aplastic})
    if not samples:
        raise ValidationError("series must contain samples on or after the infusion, but had none")
    return samples


def _aplasia_periods(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs of consecutive aplastic samples, each with the sample that ended it (if any)."""
    periods: list[dict[str, Any]] = []
    k = 0
    m = len(samples)
    while k < m:
        if not samples[k]["aplastic"]:
            k += 1
            continue
        j = k
        while j + 1 < m and samples[j + 1]["aplastic"]:
            j += 1
        ended = j + 1 < m
        periods.append({"start_day": samples[k]["day"], "start_date": samples[k]["date"],
                        "last_aplastic_day": samples[j]["day"], "last_aplastic_date": samples[j]["date"],
                        "ended_by_recovery": ended,
                        "end_day": samples[j + 1]["day"] if ended else None,
                        "end_date": samples[j + 1]["date"] if ended else None})
        k = j + 1
    return periods


def _recovery(samples: list[dict[str, Any]],
              confirm: int) -> tuple[int | None, str, list[dict[str, Any]]]:
    """After aplasia was reached: (index of confirmed recovery, status, transient excursions)."""
    m = len(samples)
    rec_i = None
    transient: list[dict[str, Any]] = []
    first_aplastic = next(i for i, s in enumerate(samples) if s["aplastic"])
    status = "ongoing"
    i = first_aplastic + 1
    while i < m:
        if samples[i]["aplastic"]:
            i += 1
            continue
        j = i
        while j + 1 < m and not samples[j + 1]["aplastic"]:
            j += 1
        length = j - i + 1
        if length >= confirm:
            rec_i = i if rec_i is None else rec_i
            status = "lost" if j == m - 1 else "ongoing"  # aplastic again later: re-established
        elif j == m - 1:
            status = "loss_unconfirmed"  # above threshold at the end, awaiting a second sample
        else:
            transient.append({"day": samples[i]["day"], "date": samples[i]["date"],
                              "value": samples[i]["value"], "samples": length,
                              "note": "above the threshold without a confirming sample, and "
                                      "aplastic again afterwards: transient, not loss of aplasia"})
        i = j + 1
    return rec_i, status, transient


def _aplasia_signals(samples: list[dict[str, Any]], aplasia_reached: bool, status: str,
                     rec_day: float | None, r: Mapping[str, Rule]) -> tuple[list[dict[str, Any]], bool]:
    """Relapse-risk and follow-up signals with their sources, and whether loss was early."""
    early_days = float(r["early_loss_days"].value)
    window = float(r["recovery_risk_window_days"].value)
    signals: list[dict[str, Any]] = []
    early = rec_day is not None and rec_day <= early_days
    if early:
        signals.append({"signal": f"early loss of B-cell aplasia (recovery on day {rec_day:g}, "
                                  f"<= {early_days:g} days after infusion)",
                        "kind": "relapse_risk", "day": rec_day, "source": _MUELLER})
    if rec_day is not None and rec_day <= window:
        signals.append({"signal": f"B-cell recovery within the first {window:g} days after infusion",
                        "kind": "relapse_risk", "day": rec_day, "source": _PULSIPHER})
    if not aplasia_reached:
        signals.append({"signal": "B-cell aplasia never reached after infusion", "kind": "no_aplasia",
                        "day": None, "source": f"{_RECALLED} (BCA marks functional CAR-T)"})
    if status == "loss_unconfirmed":
        signals.append({"signal": f"B cells at/above the threshold on the latest sample ({samples[-1]['date'] or samples[-1]['day']}): "
                                  "loss of aplasia needs a confirming sample", "kind": "awaiting_confirmation",
                        "day": samples[-1]["day"], "source": BCELL_RULES["recovery_confirm_samples"].source})
    return signals, early


def b_cell_aplasia(series: BCellSeries, *, infusion_date: dt.date | None = None,
                   overrides: Mapping[str, Any] | None = None) -> BCellAplasia:
    """Aplasia periods, the date of B-cell recovery and early loss of aplasia.

    A sample is aplastic when CD19+ B cells are below the unit's threshold. Only samples on or
    after the infusion (day >= 0) count. Recovery (loss of aplasia) is the first of
    ``recovery_confirm_samples`` consecutive samples at/above the threshold after aplasia was
    reached. A shorter excursion followed by aplastic samples is transient (listed, not loss); one
    at the end of the series is ``loss_unconfirmed``. ``status`` follows the latest evidence: it
    returns to ``ongoing`` when aplastic samples follow.
    """
    r = resolve(BCELL_RULES, overrides)
    thr = _threshold(series.unit, r)
    samples = _post_infusion_samples(series, thr, infusion_date)
    periods = _aplasia_periods(samples)
    confirm = max(1, int(r["recovery_confirm_samples"].value))
    rec_i: int | None = None
    transient: list[dict[str, Any]] = []
    status = "never_reached"
    if periods:
        rec_i, status, transient = _recovery(samples, confirm)
    rec_day: float | None = samples[rec_i]["day"] if rec_i is not None else None
    rec_date_s: str | None = samples[rec_i]["date"] if rec_i is not None else None
    rec_date = dt.date.fromisoformat(rec_date_s) if rec_date_s else None
    signals, early = _aplasia_signals(samples, bool(periods), status, rec_day, r)
    ongoing = status in ("ongoing", "loss_unconfirmed")
    return BCellAplasia(unit=series.unit, threshold=thr, samples=tuple(samples), periods=tuple(periods),
                        aplasia_reached=bool(periods), ongoing=ongoing, recovery_day=rec_day,
                        recovery_date=rec_date, early_loss=early, signals=tuple(signals), rules=r,
                        status=status, transient=tuple(transient))


@dataclass(frozen=True)
class AntigenCourse:
    """CD19/CD22 expression over time with CD19-negative disease flagged."""

    points: tuple[dict[str, Any], ...]
    cd19_negative: bool
    cd19_negative_before_infusion: bool
    first_cd19_negative_date: dt.date | None
    signals: tuple[dict[str, Any], ...]
    rules: Mapping[str, Rule] = field(default_factory=dict)

    @property
    def rests_on(self) -> list[dict[str, Any]]:
        return rests_on([self.rules["cd19_negative_below_percent"]])

    def as_dict(self) -> dict[str, Any]:
        return {"points": list(self.points), "cd19_negative": self.cd19_negative,
                "cd19_negative_before_infusion": self.cd19_negative_before_infusion,
                "first_cd19_negative_date": self.first_cd19_negative_date.isoformat()
                if self.first_cd19_negative_date else None,
                "signals": list(self.signals)}


def antigen_course(antigens: Iterable[Antigen], *, infusion_date: dt.date | None = None,
                   bca_ongoing: bool | None = None,
                   overrides: Mapping[str, Any] | None = None) -> AntigenCourse:
    """CD19/CD22 (% of blasts) over time; CD19-negative = CD19 below the rule's threshold.

    ``cd19_negative`` concerns measurements after the infusion (all measurements when no
    infusion date is given). With ``bca_ongoing`` true, CD19-negative disease is flagged as
    antigen escape despite functional CAR-T (Pulsipher 2022).
    """
    r = resolve(BCELL_RULES, overrides)
    thr = float(r["cd19_negative_below_percent"].value)
    pts = []
    neg_after, neg_before = False, False
    first_neg: dt.date | None = None
    for a in sorted(antigens, key=lambda x: x.date):
        day = float((a.date - infusion_date).days) if infusion_date else None
        neg = a.cd19_percent is not None and a.cd19_percent < thr
        cd22_neg = a.cd22_percent is not None and a.cd22_percent < thr
        after = infusion_date is None or a.date >= infusion_date
        pts.append({"date": a.date.isoformat(), "day": day, "cd19_percent": a.cd19_percent,
                    "cd22_percent": a.cd22_percent, "method": a.method, "cd19_negative": neg,
                    "cd22_negative": cd22_neg, "after_infusion": after})
        if neg and after:
            neg_after = True
            first_neg = first_neg or a.date
        elif neg:
            neg_before = True
    signals = []
    if neg_after:
        text = f"CD19-negative disease (CD19 < {thr:g} % of blasts) from {first_neg}"
        src = "Hamieh et al., Nature 2019 (antigen escape)"
        if bca_ongoing:
            text += " with B-cell aplasia ongoing: antigen escape despite functional CAR-T"
            src = _PULSIPHER_CD19
        signals.append({"signal": text, "kind": "antigen_escape", "date": first_neg.isoformat() if first_neg
                        else None, "source": src})
    return AntigenCourse(tuple(pts), neg_after, neg_before, first_neg, tuple(signals), r)


class BCellAplasiaEstimator:
    """Fit-style wrapper around :func:`b_cell_aplasia`.

    See Also
    --------
    b_cell_aplasia : the pure function.
    """

    def __init__(self, *, infusion_date: dt.date | None = None, overrides: Mapping[str, Any] | None = None) -> None:
        self.infusion_date = infusion_date
        self.overrides = dict(overrides or {})

    def fit(self, series: BCellSeries) -> BCellAplasiaEstimator:
        self.result_ = b_cell_aplasia(series, infusion_date=self.infusion_date, overrides=self.overrides)
        self.recovery_date_ = self.result_.recovery_date
        self.ongoing_ = self.result_.ongoing
        return self
