"""From one analysed case to the simulator's inputs: MRD observations, treatments, CAR-T, state.

Reads domain objects only (the case, its MRD results, the CAR-T engine's result); never files.
Bone-marrow MRD is used (blood MRD runs 1-3 logs lower; ASH 2018, Blood 132 Suppl 1:1551), all
methods together because each measures the same leukaemic fraction; censored values stay
censored (:func:`remission.mrd.course.observations_from_results`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from remission.domain import Case, MrdResult
from remission.errors import ValidationError
from remission.mrd.course import observations_from_results
from remission.sim.fit import MrdObservations, TreatmentHistory
from remission.sim.model import STEIN_KEYS
from remission.sim.timeline import PatientState, PriorTherapy

__all__ = ["CaseInputs", "case_inputs", "patient_state"]


@dataclass(frozen=True)
class CaseInputs:
    t_ref: dt.date
    observations: MrdObservations
    history: TreatmentHistory
    stein: dict[str, float] | None
    bca: tuple[tuple[float, bool], ...]
    notes: tuple[str, ...]


def _day(d: dt.date, t_ref: dt.date) -> float:
    return float((d - t_ref).days)


def _window(bm: list[MrdResult]) -> list[MrdResult]:
    """The latest course segment the model can follow from the last treatment-free point.

    Starts at the last negative result (or, without one, the lowest value) that precedes the
    final run of detectable results; treatments before it are history, not model input.
    """
    def level(m: MrdResult) -> float:
        if m.status == "negative":
            return 0.0
        return m.value if m.value is not None else (m.loq or m.lod or 0.0)

    i = len(bm) - 1
    while i > 0 and bm[i].status != "negative":
        i -= 1
    if bm[i].status == "negative":
        return bm[i:]
    lv = [level(m) for m in bm]
    return bm[lv.index(min(lv)):]


def case_inputs(case: Case, mrd: Sequence[MrdResult], cart_result: Mapping[str, Any] | None = None,
                *, whole_course: bool = False) -> CaseInputs:
    """Observations (days from the window's first bone-marrow MRD result), treatments, Stein, BCA.

    By default the window starts at the last negative result before the latest detectable run
    (see :func:`_window`); ``whole_course`` uses every result (the model then has to explain
    every treatment response with the treatments of the case file).
    """
    bm = sorted((m for m in mrd if m.date is not None and m.material != "peripheral_blood"),
                key=lambda m: m.date or dt.date.min)
    if not bm:
        raise ValidationError(f"case {case.id}: no dated bone-marrow MRD result; the simulator is calibrated to MRD")
    if not whole_course:
        bm = _window(bm)
    t_ref = bm[0].date
    assert t_ref is not None
    days, kinds, y, lo, hi = observations_from_results(bm, t_ref)
    if not days:
        raise ValidationError(f"case {case.id}: no MRD result with a value or a limit of detection")
    obs = MrdObservations.from_lists(days, kinds, y, lo, hi)
    notes: list[str] = []
    chemo, blina, ino = [], [], []
    for t in case.therapies:
        if t.start < t_ref:
            continue
        d = _day(t.start, t_ref)
        if t.kind == "chemotherapy":
            chemo.append(d)
        elif t.kind == "bispecific":
            blina.append(d)
        elif t.kind == "antibody_drug_conjugate":
            ino.append(d)
        elif t.kind != "cart":
            notes.append(f"therapy {t.name!r} ({t.kind}) has no effect in the model")
    carts = [c for c in case.cart_infusions if c.date >= t_ref]
    cart_day = _day(carts[0].date, t_ref) if carts else None
    hscts = [h for h in case.transplants if h.date >= t_ref]
    hsct_day = _day(hscts[0].date, t_ref) if hscts else None
    stein = None
    bca: list[tuple[float, bool]] = []
    if cart_result and cart_day is not None:
        fit = (cart_result.get("kinetics") or {}).get("fit")
        if fit and all(k in fit for k in STEIN_KEYS) and (cart_result.get("kinetics") or {}).get("unit") == "copies_per_ug":
            stein = {k: float(fit[k]) for k in STEIN_KEYS}
        elif fit:
            notes.append("CAR-T kinetics not in copies/µg: the Stein population is used instead of the fit")
        for p in (cart_result.get("b_cells") or {}).get("periods", []) or []:
            if p.get("start_day") is not None:
                bca.append((cart_day + float(p["start_day"]), True))
            if p.get("ended_by_recovery") and p.get("end_day") is not None:
                bca.append((cart_day + float(p["end_day"]), False))
    hist = TreatmentHistory(tuple(chemo), tuple(blina), tuple(ino), cart_day, hsct_day)
    return CaseInputs(t_ref, obs, hist, stein, tuple(bca), tuple(notes))


def patient_state(case: Case, burden_now: float | None) -> PatientState:
    """Antigens (latest measurement, else relapse, else diagnosis immunophenotype) and prior therapy."""
    cd19 = cd22 = None
    sources = [(a.date, a.cd19_percent, a.cd22_percent) for a in case.antigen_expression]
    sources += [(r.date, r.immunophenotype.cd19_percent, r.immunophenotype.cd22_percent)
                for r in case.relapses if r.immunophenotype is not None]
    sources.append((case.diagnosis.date, case.diagnosis.immunophenotype.cd19_percent,
                    case.diagnosis.immunophenotype.cd22_percent))
    for _, c19, c22 in sorted(sources, key=lambda s: s[0], reverse=True):
        cd19 = c19 if cd19 is None else cd19
        cd22 = c22 if cd22 is None else cd22
    prior = tuple(PriorTherapy(t.name, t.kind, t.best_response) for t in case.therapies)
    return PatientState(burden_now, cd19, cd22, prior)
