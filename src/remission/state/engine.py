"""The disease-state engine: where the patient stands at each date and now.

Pure: :func:`disease_state` reads a :class:`~remission.domain.Case`, the case's MRD values
(computed and reported) and, when present, the CAR-T monitoring result, and returns a
:class:`~remission.state.models.DiseaseState`. It opens no file.

The timeline is a small state machine over dated events (relapse, therapy response, MRD,
transplant, CAR-T infusion), evaluated in date order:

* a recorded relapse → *haematological relapse* (line of therapy: its number; after HSCT /
  after CAR-T when one came before it);
* a relapse therapy with a best response of no remission, or marrow MRD at or above the M1 limit
  (5 % blasts) after a relapse therapy began → *refractory*;
* a best response of remission, or marrow MRD below the M1 limit → *complete remission*,
  MRD-negative when negative at the required sensitivity, MRD-positive when detectable, MRD not
  evaluable otherwise (Gökbuget 2021);
* after MRD negativity, quantifiable MRD at or above the molecular-relapse threshold confirmed by
  a second sample, or an MRD rise of one log or more to that level → *molecular relapse* (Raff 2007;
  thresholds are named parameters, tag U);
* a transplant or CAR-T infusion opens a new period with the same status and the new line.

Several MRD results of one date are read together: any detectable result wins over negatives (the
most sensitive assay decides), the highest detectable value is used. Blood MRD is listed with the
latest MRD but does not move the marrow-based remission status.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

from remission.domain.case import Case, Relapse
from remission.domain.mrd import MrdResult, compare_to_threshold
from remission.domain.parameters import Rule, resolve, rests_on
from remission.domain.results import as_mapping
from remission.state.models import (
    NOT_IN_REMISSION,
    STATUS_LABELS,
    Alert,
    AntigenStatus,
    BurdenPoint,
    CarTStatus,
    DiseaseState,
    ImmunePoint,
    Line,
    MrdLatest,
    StateEvidence,
    StatePeriod,
    Status,
)
from remission.state.rules import DEFINITIONS, STATE_RULES

__all__ = ["as_mapping", "disease_state", "line_label"]

_SITE_WORDS = {"isolated_bm": "isolated marrow", "combined": "combined marrow and extramedullary",
               "isolated_cns": "isolated CNS", "isolated_testis": "isolated testicular",
               "other_em": "isolated extramedullary"}
_METHOD_WORDS = {"ngs": "NGS", "flow": "flow cytometry", "pcr": "RQ-PCR"}
_MATERIAL_WORDS = {"bone_marrow": "bone marrow", "peripheral_blood": "blood"}
_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}

_SRC_RAFF = "Raff T et al. Blood 2007;109:910"
_SRC_NGS_HCT = "Blood Adv 2023;7:3395 (any detectable NGS-MRD after HCT predicts relapse, HR 4.6)"
_SRC_PULSIPHER = ("Pulsipher MA et al. Blood Cancer Discov 2022;3:66 (detectable NGS-MRD after "
                  "tisagenlecleucel predicts relapse; B-cell recovery within 1 y HR 4.5)")
_SRC_FUSTER = "Fuster JL. World J Hematol 2014;3:49, Table 2"


def line_label(relapse_number: int, after_hsct: bool, after_cart: bool) -> str:
    """``'second relapse, after allogeneic HSCT'`` and the like."""
    if relapse_number == 0:
        base = "frontline"
    else:
        base = f"{_ORDINALS.get(relapse_number, f'{relapse_number}th')} relapse"
    extra = [w for w, on in (("after allogeneic HSCT", after_hsct), ("after CAR-T", after_cart)) if on]
    return ", ".join([base, *extra])


def _frac(x: float) -> str:
    return f"{x:.2g} ({x * 100:.3g} %)"


def _method(m: MrdResult) -> str:
    return _METHOD_WORDS.get(m.method, m.method)


def _material(m: MrdResult) -> str:
    return _MATERIAL_WORDS.get(m.material or "bone_marrow", m.material or "bone marrow")


def _mrd_text(m: MrdResult) -> str:
    sens = f", LoD {m.lod:.0e}" if m.lod is not None else ""
    return f"MRD {m.display()} ({_method(m)}, {_material(m)}{sens}; {m.date})"


def _level(m: MrdResult) -> float:
    if m.status == "negative":
        return -1.0
    return m.value if m.value is not None else (m.loq or 0.0)


def _pick_of_day(results: Sequence[MrdResult]) -> MrdResult:
    """The result that speaks for one date: the highest detectable, else the most sensitive negative."""
    detectable = [m for m in results if m.status in ("positive", "positive_not_quantifiable")]
    if detectable:
        return max(detectable, key=_level)
    negatives = [m for m in results if m.status == "negative"]
    if negatives:
        return min(negatives, key=lambda m: m.lod if m.lod is not None else 1.0)
    return results[0]


class _Machine:
    """The timeline under construction."""

    def __init__(self, case: Case, r: Mapping[str, Rule]) -> None:
        self.case = case
        self.r = r
        self.used: set[str] = set()
        self.periods: list[dict[str, Any]] = []
        self.relapse_number = 0
        self.after_hsct = False
        self.after_cart = False
        self.therapy_started = False
        self.was_negative = False
        self.progressing = False
        self.mrd_dates: set[dt.date] = set()
        self.pending: MrdResult | None = None
        self.prev_q: dict[str, MrdResult] = {}
        self.enter("diagnosis", case.diagnosis.date, STATUS_LABELS["diagnosis"],
                   [StateEvidence(date=case.diagnosis.date, kind="relapse",
                                  text=f"diagnosis of {case.diagnosis.lineage}-lineage ALL")])

    @property
    def status(self) -> str:
        return str(self.periods[-1]["status"])

    def line(self) -> Line:
        return Line(relapse_number=self.relapse_number, after_hsct=self.after_hsct,
                    after_cart=self.after_cart,
                    label=line_label(self.relapse_number, self.after_hsct, self.after_cart))

    def enter(self, status: Status, when: dt.date, label: str, evidence: list[StateEvidence],
              rules: Sequence[str] = ()) -> None:
        line = self.line()
        if self.periods:
            last = self.periods[-1]
            if last["status"] == status and last["line"] == line and status != "haematological_relapse":
                last["evidence"].extend(evidence)
                last["rests_on"].update(rules)
                return
            if (last["start"] == when and last["line"] == line and len(self.periods) > 1
                    and last["status"] != "haematological_relapse"):
                # a later fact of the same date refines the state of that date
                self.periods.pop()
                evidence = [*last["evidence"], *evidence]
                rules = (*last["rests_on"], *rules)
                self.periods[-1]["end"] = None
                self.enter(status, when, label, evidence, rules)
                return
            last["end"] = when
        self.used.update(rules)
        self.periods.append({"status": status, "label": label, "start": when, "end": None,
                             "line": line, "evidence": list(evidence), "rests_on": set(rules)})

    def restart_line(self, when: dt.date, evidence: StateEvidence) -> None:
        """A transplant or CAR-T infusion: same status, new line."""
        last = self.periods[-1]
        self.enter(last["status"], when, last["label"], [evidence], sorted(last["rests_on"]))

    # -- events -------------------------------------------------------------------------
    def relapse(self, rel: Relapse) -> None:
        self.relapse_number = rel.number
        self.therapy_started = False
        self.was_negative = False
        self.progressing = False
        self.pending = None
        self.prev_q = {}
        blasts = (f", marrow blasts {rel.marrow_blasts_percent:g} %"
                  if rel.marrow_blasts_percent is not None else "")
        cns = f", {rel.cns_status}" if rel.cns_status else ""
        site = _SITE_WORDS.get(rel.site, rel.site)
        self.enter("haematological_relapse", rel.date,
                   f"relapse {rel.number}: {site}{cns}{blasts}",
                   [StateEvidence(date=rel.date, kind="relapse",
                                  text=f"relapse {rel.number} recorded ({site}{cns}{blasts})")])

    def therapy_start(self, name: str, when: dt.date) -> None:
        if self.relapse_number > 0:
            self.therapy_started = True

    def response(self, name: str, when: dt.date, response: str) -> None:
        if self.relapse_number == 0:
            return
        ev = [StateEvidence(date=when, kind="therapy", text=f"{name}: best response {response}")]
        if when in self.mrd_dates:
            # an MRD result of the same date states the response more precisely
            self.periods[-1]["evidence"].extend(ev)
            return
        if response in self.r["refractory_responses"].value:
            self.enter("refractory", when, f"refractory to {name}", ev, ["refractory_responses"])
        elif response in self.r["remission_responses"].value:
            status: Status = {"MRD_negative": "cr_mrd_negative",
                              "MRD_positive": "cr_mrd_positive"}.get(response, "cr_mrd_unknown")  # type: ignore[assignment]
            if self.status == "molecular_relapse" and status != "cr_mrd_negative":
                return  # a response short of MRD negativity does not end a molecular relapse
            label = STATUS_LABELS[status] + f" (best response to {name}; MRD sensitivity not recorded)"
            self.enter(status, when, label, ev, ["remission_responses"])
            if status == "cr_mrd_negative":
                self.pending = None
                self.was_negative = True

    def mrd(self, m: MrdResult) -> None:
        """An MRD value after a relapse: at the M1 limit, negative, or detectable below it."""
        if self.relapse_number == 0 or m.date is None:
            return
        if self.status == "haematological_relapse" and not self.therapy_started:
            return  # the relapse sample itself: burden, not response
        when = m.date
        self.mrd_dates.add(when)
        ev = [StateEvidence(date=when, kind="mrd", text=_mrd_text(m))]
        cr_lim = float(self.r["cr_marrow_blast_fraction"].value)
        if compare_to_threshold(m, cr_lim):
            self._mrd_at_m1(m, when, ev, cr_lim)
        elif m.status == "negative":
            self._mrd_negative(m, when, ev)
        else:
            self._mrd_detectable(m, when, ev)

    def _mrd_at_m1(self, m: MrdResult, when: dt.date, ev: list[StateEvidence], cr_lim: float) -> None:
        """Marrow MRD at or above the M1 limit: refractory after relapse, else molecular relapse."""
        if self.status in ("haematological_relapse", "refractory"):
            self.enter("refractory", when, f"refractory: marrow MRD {m.display()} (M1 limit "
                       f"{cr_lim * 100:g} %)", ev, ["cr_marrow_blast_fraction"])
        else:
            self.enter("molecular_relapse", when,
                       f"MRD {m.display()} in marrow at or above the M1 limit: haematological "
                       "relapse to be confirmed (Buchmann 2022)", ev,
                       ["molecular_relapse_threshold"])

    def _mrd_negative(self, m: MrdResult, when: dt.date, ev: list[StateEvidence]) -> None:
        """MRD-negative: CR MRD-negative at sufficient sensitivity, else MRD unknown."""
        sens = float(self.r["mrd_negative_min_sensitivity"].value)
        self.pending = None
        self.progressing = False
        if m.lod is not None and m.lod <= sens:
            self.was_negative = True
            self.enter("cr_mrd_negative", when,
                       f"complete remission, MRD-negative ({_method(m)}, {_material(m)}, "
                       f"sensitivity {m.lod:.0e})", ev)
        elif self.status != "cr_mrd_negative":
            self.enter("cr_mrd_unknown", when,
                       f"complete remission, MRD negative at insufficient sensitivity "
                       f"({_method(m)}, LoD {m.lod:.0e} > {sens:.0e})" if m.lod is not None
                       else "complete remission, MRD negative without a stated sensitivity",
                       ev)

    def _mrd_detectable(self, m: MrdResult, when: dt.date, ev: list[StateEvidence]) -> None:
        """Detectable MRD below the M1 limit: recurrence, progression, or CR MRD-positive."""
        thr = float(self.r["molecular_relapse_threshold"].value)
        key = f"{m.method}/{m.material or 'bone_marrow'}"
        above = compare_to_threshold(m, thr)
        prev = self.prev_q.get(key)
        if m.status == "positive":
            self.prev_q[key] = m
        if self.status == "molecular_relapse" or (self.status == "refractory" and self.progressing):
            self.periods[-1]["evidence"].extend(ev)  # detectable MRD does not end it
            return
        if above and m.status == "positive" and self.was_negative:
            self._mrd_recurrence(m, when, ev)
            return
        if (above and m.status == "positive" and prev is not None and prev.value and m.value
                and self._mrd_progression(m, prev, when, ev)):
            return
        after = " after negativity" if self.was_negative else ""
        self.enter("cr_mrd_positive", when,
                   f"complete remission, MRD-positive{after}: {m.display()} ({_method(m)}, "
                   f"{_material(m)})", ev)

    def _mrd_recurrence(self, m: MrdResult, when: dt.date, ev: list[StateEvidence]) -> None:
        """MRD at or above the threshold after negativity: molecular relapse (once confirmed, if required)."""
        conf = ["molecular_relapse_threshold", "molecular_relapse_require_confirmation"]
        if self.pending is not None:
            first = self.pending
            self.pending = None
            self._molecular(first.date or when, ev,
                            f"MRD recurrence {first.display()} ({_method(first)}, {first.date}) "
                            f"confirmed by {m.display()} on {when}", replace_last=True)
        elif self.r["molecular_relapse_require_confirmation"].value:
            self.pending = m
            self.enter("cr_mrd_positive", when,
                       f"MRD recurrence {m.display()} ({_method(m)}) after negativity, not yet "
                       "confirmed", ev, conf)
        else:
            self._molecular(when, ev, f"MRD recurrence {m.display()} ({_method(m)})")

    def _mrd_progression(self, m: MrdResult, prev: MrdResult, when: dt.date, ev: list[StateEvidence]) -> bool:
        """A rise by the progression log increase since ``prev``: molecular relapse after negativity,
        else refractory. Returns whether it was one."""
        assert m.value and prev.value
        rise = math.log10(m.value / prev.value)
        need = float(self.r["molecular_progression_log_increase"].value)
        if rise < need:
            return False
        self.used.add("molecular_progression_log_increase")
        text = (f"MRD progression {prev.display()} ({prev.date}) → {m.display()} ({when}), "
                f"+{rise:.1f} log ({_method(m)})")
        if self.was_negative:
            self._molecular(when, ev, text)
        else:
            self.progressing = True
            self.enter("refractory", when,
                       f"refractory: {text}, without MRD negativity since relapse "
                       f"{self.relapse_number}", ev,
                       ["molecular_progression_log_increase", "molecular_relapse_threshold"])
        return True

    def _molecular(self, when: dt.date, ev: list[StateEvidence], text: str,
                   replace_last: bool = False) -> None:
        rules = ["molecular_relapse_threshold", "molecular_relapse_require_confirmation"]
        label = f"molecular relapse: {text}"
        if replace_last:
            # confirmed: the molecular relapse began with the first recurrent sample, so the
            # MRD-positive periods since then (a line may have changed meanwhile) become it
            tail = [p for p in self.periods if p["start"] >= when]
            if tail and all(p["status"] == "cr_mrd_positive" for p in tail):
                for p in tail:
                    p["status"], p["label"] = "molecular_relapse", label
                    p["rests_on"].update(rules)
                tail[-1]["evidence"].extend(ev)
                self.used.update(rules)
                # merge neighbours that are now identical
                merged: list[dict[str, Any]] = []
                for p in self.periods:
                    if merged and merged[-1]["status"] == p["status"] \
                            and merged[-1]["line"] == p["line"]:
                        merged[-1]["evidence"].extend(p["evidence"])
                        merged[-1]["end"] = p["end"]
                    else:
                        merged.append(p)
                self.periods[:] = merged
                return
        self.enter("molecular_relapse", when, label, ev, rules)

    def transplant(self, when: dt.date, donor: str) -> None:
        self.after_hsct = True
        self.therapy_started = self.therapy_started or self.relapse_number > 0
        self.restart_line(when, StateEvidence(date=when, kind="transplant",
                                              text=f"allogeneic HSCT ({donor.replace('_', ' ')} donor)"))

    def cart(self, when: dt.date, product: str) -> None:
        self.after_cart = True
        self.therapy_started = self.therapy_started or self.relapse_number > 0
        self.restart_line(when, StateEvidence(date=when, kind="cart", text=f"CAR-T infusion ({product})"))


def _events(case: Case, mrd: Sequence[MrdResult]) -> list[tuple[dt.date, int, str, Any]]:
    ev: list[tuple[dt.date, int, str, Any]] = []
    for rel in case.relapses:
        ev.append((rel.date, 0, "relapse", rel))
    for t in case.therapies:
        ev.append((t.start, 1, "start", t))
        if t.best_response is not None:
            ev.append((t.end or t.start, 3, "response", t))
    by_day: dict[dt.date, list[MrdResult]] = {}
    for m in mrd:
        if m.date is not None and (m.material or "bone_marrow") == "bone_marrow" \
                and m.status != "not_evaluable":
            by_day.setdefault(m.date, []).append(m)
    for day, items in by_day.items():
        ev.append((day, 2, "mrd", _pick_of_day(items)))
    for h in case.transplants:
        ev.append((h.date, 4, "transplant", h))
    for c in case.cart_infusions:
        ev.append((c.date, 4, "cart", c))
    return sorted(ev, key=lambda e: (e[0], e[1]))


def _mrd_latest(mrd: Sequence[MrdResult]) -> list[MrdLatest]:
    groups: dict[tuple[str, str], list[MrdResult]] = {}
    for m in mrd:
        if m.date is not None:
            groups.setdefault((m.method, m.material or "bone_marrow"), []).append(m)
    out = []
    for (method, material), items in sorted(groups.items()):
        days: dict[dt.date, list[MrdResult]] = {}
        for m in items:
            assert m.date is not None
            days.setdefault(m.date, []).append(m)
        ordered = [_pick_of_day(days[d]) for d in sorted(days)]
        last = ordered[-1]
        prev = ordered[-2] if len(ordered) > 1 else None
        assert last.date is not None
        if prev is None:
            trend = "single"
        elif last.status == "negative":
            trend = "unchanged_negative" if prev.status == "negative" else "became_negative"
        elif prev.status == "negative":
            trend = "new_positive"
        else:
            a, b = _level(prev), _level(last)
            trend = "rising" if b > a else "falling" if b < a else "stable"
        out.append(MrdLatest(method=method, material=material, date=last.date, status=last.status,
                             value=last.value, lod=last.lod, display=last.display(),
                             sensitivity=last.lod,
                             previous_display=prev.display() if prev else None,
                             previous_date=prev.date if prev else None, trend=trend))
    return out


def _antigens(case: Case, r: Mapping[str, Rule]) -> list[AntigenStatus]:
    thr = float(r["antigen_positive_min_percent"].value)
    out = []
    for antigen in ("CD19", "CD22"):
        attr = f"{antigen.lower()}_percent"
        points: list[tuple[dt.date | None, float, str, float | None]] = []
        ip_dx = getattr(case.diagnosis.immunophenotype, attr)
        if ip_dx is not None:
            points.append((case.diagnosis.date, ip_dx, "diagnosis immunophenotype", None))
        for rel in case.relapses:
            v = getattr(rel.immunophenotype, attr) if rel.immunophenotype else None
            if v is not None:
                points.append((rel.date, v, f"relapse {rel.number} immunophenotype", None))
        for a in sorted(case.antigen_expression, key=lambda a: a.date):
            v = getattr(a, attr)
            if v is not None:
                dim = getattr(a, f"{antigen.lower()}_dim_percent", None)
                points.append((a.date, v, f"antigen expression {a.date}"
                               + (f" ({a.method})" if a.method else ""), dim))
        if not points:
            continue
        points.sort(key=lambda p: p[0] or dt.date.min)
        date, pct, src, dim = points[-1]
        prev = points[-2] if len(points) > 1 else None
        status = "negative" if pct < thr else ("partial" if pct < 100 or (dim or 0) > 0 else "expressed")
        out.append(AntigenStatus(antigen=antigen, date=date, percent_of_blasts=pct,
                                 negative_fraction_percent=round(100 - pct, 3), dim_percent=dim,
                                 status=status, source=src,
                                 previous_percent=prev[1] if prev else None,
                                 previous_date=prev[0] if prev else None))
    return out


def _cart_status(case: Case, cart: Mapping[str, Any] | None, as_of: dt.date) -> CarTStatus | None:
    if not case.cart_infusions:
        return None
    inf = max(case.cart_infusions, key=lambda c: c.date)
    persistence = aplasia = None
    lost = None
    src = "no CAR-T monitoring result"
    if cart:
        p = cart.get("persistence")
        if isinstance(p, Mapping) and isinstance(p.get("present"), bool):
            persistence = p["present"]
        elif isinstance(p, bool):
            persistence = p
        b = cart.get("b_cell_aplasia")
        if isinstance(b, Mapping):
            if isinstance(b.get("ongoing"), bool):
                aplasia = b["ongoing"]
            if b.get("recovery_date"):
                lost = dt.date.fromisoformat(str(b["recovery_date"]))
        elif isinstance(b, bool):
            aplasia = b
        src = "CAR-T monitoring (kinetics and B cells)"
    return CarTStatus(product=inf.product, target=inf.target, infusion_date=inf.date,
                      days_since_infusion=(as_of - inf.date).days, persistence=persistence,
                      b_cell_aplasia=aplasia, aplasia_lost_date=lost, source=src)


def _site_alerts(case: Case) -> list[Alert]:
    out = []
    for rel in case.relapses:
        cns = rel.cns_status
        msg = None
        if rel.site in ("isolated_bm", "isolated_testis") and cns in ("CNS2", "CNS3"):
            msg = (f"relapse {rel.number} is recorded as {_SITE_WORDS[rel.site]} but CNS status is "
                   f"{cns}: CNS involvement makes it a combined relapse; check the site")
        elif rel.site == "isolated_cns" and cns == "CNS1":
            msg = (f"relapse {rel.number} is recorded as isolated CNS but CNS status is CNS1; "
                   "check the site or the CNS status")
        if msg:
            out.append(Alert(code="site_inconsistent", label="relapse site and CNS status disagree",
                             date=rel.date, message=msg, source=_SRC_FUSTER))
    return out


def disease_state(
    case: Case,
    mrd: Sequence[MrdResult] = (),
    *,
    cart: Any = None,
    rules: Mapping[str, Any] | None = None,
    as_of: dt.date | None = None,
    immune: Sequence[ImmunePoint] = (),
) -> DiseaseState:
    """The disease-state timeline and the current state of one patient.

    Parameters
    ----------
    case : the patient.
    mrd : every MRD value of the case (computed and reported).
    cart : the CAR-T monitoring result (mapping or model with ``persistence.present`` and
        ``b_cell_aplasia.ongoing`` / ``recovery_date``), optional.
    rules : overrides of :data:`remission.state.rules.STATE_RULES` by name.
    as_of : the date "now" refers to (default: the latest dated fact of the case).
    immune : T-cell context points (:mod:`remission.state.immune`), shown beside the state.
    """
    r = resolve(STATE_RULES, rules)
    cart_map = as_mapping(cart)
    m = _replay(case, mrd, r)
    now = as_of or _latest_date(case, mrd)
    periods = [StatePeriod(status=p["status"], label=p["label"], start=p["start"], end=p["end"],
                           line=p["line"], definition=DEFINITIONS[p["status"]],
                           evidence=tuple(p["evidence"]), rests_on=tuple(sorted(p["rests_on"])))
               for p in m.periods]
    current = periods[-1]

    antigens = _antigens(case, r)
    if antigens:
        m.used.add("antigen_positive_min_percent")
    cart_status = _cart_status(case, cart_map, now)
    burden = _burden(case, mrd)
    last_rel = case.relapses[-1] if case.relapses else None
    after = [b for b in burden if last_rel is not None and b.date >= last_rel.date]
    current_burden = after[-1] if after else None

    last_hsct = max((h.date for h in case.transplants), default=None)
    alerts = _alerts(case, m, current, mrd, antigens, cart_status, last_hsct)

    return DiseaseState(
        as_of=now, current=current, in_remission=current.status not in NOT_IN_REMISSION,
        periods=tuple(periods), line=current.line, mrd_latest=tuple(_mrd_latest(mrd)),
        antigens=tuple(antigens), cart=cart_status, burden=tuple(burden),
        current_burden=current_burden,
        days_since_hsct=(now - last_hsct).days if last_hsct else None, last_hsct=last_hsct,
        alerts=tuple(alerts),
        immune=tuple(sorted(immune, key=lambda p: p.date)),
        rules=tuple(rests_on(r[n] for n in sorted(m.used | {n for n, x in r.items() if x.tag == "user"}))),
    )


def _replay(case: Case, mrd: Sequence[MrdResult], r: Mapping[str, Rule]) -> _Machine:
    """Run the state machine over the case's events in date order."""
    m = _Machine(case, r)
    for _, _, kind, obj in _events(case, mrd):
        if kind == "relapse":
            m.relapse(obj)
        elif kind == "start":
            m.therapy_start(obj.name, obj.start)
        elif kind == "response":
            m.response(obj.name, obj.end or obj.start, obj.best_response)
        elif kind == "mrd":
            m.mrd(obj)
        elif kind == "transplant":
            m.transplant(obj.date, obj.donor)
        elif kind == "cart":
            m.cart(obj.date, obj.product)
    return m


def _latest_date(case: Case, mrd: Sequence[MrdResult]) -> dt.date:
    """The latest dated fact of the case (the default "now")."""
    dates = [case.diagnosis.date, *(x.date for x in case.relapses),
             *(t.end or t.start for t in case.therapies), *(h.date for h in case.transplants),
             *(c.date for c in case.cart_infusions), *(a.date for a in case.antigen_expression),
             *(x.date for x in mrd if x.date is not None)]
    return max(dates)


def _burden(case: Case, mrd: Sequence[MrdResult]) -> list[BurdenPoint]:
    """Leukaemic burden over time: marrow blasts at relapses and marrow MRD (one value per day), by date."""
    burden: list[BurdenPoint] = []
    for rel in case.relapses:
        if rel.marrow_blasts_percent is not None:
            burden.append(BurdenPoint(date=rel.date, fraction=rel.marrow_blasts_percent / 100,
                                      display=f"{rel.marrow_blasts_percent:g} % marrow blasts",
                                      source=f"relapse {rel.number}"))
    marrow = sorted((x for x in mrd if x.date is not None and (x.material or "bone_marrow") == "bone_marrow"),
                    key=lambda x: x.date or dt.date.min)
    days: dict[dt.date, list[MrdResult]] = {}
    for x in marrow:
        assert x.date is not None
        days.setdefault(x.date, []).append(x)
    for d in sorted(days):
        x = _pick_of_day(days[d])
        burden.append(BurdenPoint(date=d, fraction=x.value, display=x.display(),
                                  source=f"MRD ({_method(x)})"))
    burden.sort(key=lambda b: b.date)
    return burden


def _alerts(case: Case, m: _Machine, current: StatePeriod, mrd: Sequence[MrdResult],
            antigens: Sequence[AntigenStatus], cart: CarTStatus | None,
            last_hsct: dt.date | None) -> list[Alert]:
    out: list[Alert] = []
    if current.status == "molecular_relapse":
        out.append(Alert(code="molecular_relapse", label=f"molecular relapse since {current.start}",
                         date=current.start, message=current.label.split(": ", 1)[-1],
                         source=_SRC_RAFF))
    elif current.status == "cr_mrd_positive" and m.pending is not None:
        out.append(Alert(code="mrd_reappearance", label="MRD reappearance (unconfirmed)",
                         date=m.pending.date, message=f"{_mrd_text(m.pending)}: confirm in a second "
                         "sample", source=_SRC_RAFF))
    if last_hsct is not None:
        hits = [x for x in mrd if x.method == "ngs" and x.date is not None and x.date > last_hsct
                and x.status != "negative"]
        if hits:
            first = min(hits, key=lambda x: x.date or dt.date.max)
            out.append(Alert(code="detectable_after_hsct", label="NGS-MRD detectable after HSCT",
                             date=first.date, message=_mrd_text(first), source=_SRC_NGS_HCT))
    if cart is not None:
        hits = [x for x in mrd if x.method == "ngs" and x.date is not None
                and x.date > cart.infusion_date and x.status != "negative"
                and (x.material or "bone_marrow") == "bone_marrow"]
        if hits:
            first = min(hits, key=lambda x: x.date or dt.date.max)
            out.append(Alert(code="detectable_after_cart", label="NGS-MRD detectable after CAR-T",
                             date=first.date, message=_mrd_text(first), source=_SRC_PULSIPHER))
        if cart.b_cell_aplasia is False:
            out.append(Alert(code="loss_of_b_cell_aplasia", label="loss of B-cell aplasia",
                             date=cart.aplasia_lost_date,
                             message=f"B cells recovered after {cart.product}"
                             + (f" ({cart.aplasia_lost_date})" if cart.aplasia_lost_date else ""),
                             source=_SRC_PULSIPHER))
        if cart.persistence is False:
            out.append(Alert(code="loss_of_cart_persistence", label="CAR-T no longer detectable",
                             date=None, message=f"{cart.product} below the LoD at the last sample",
                             source=_SRC_PULSIPHER))
    if cart is not None:
        after = [x for x in mrd if x.method == "ngs" and x.date is not None
                 and x.date > cart.infusion_date and x.status != "negative"]
        target = "CD22" if cart.target == "CD22" else "CD19"
        ag = next((a for a in antigens if a.antigen == target), None)
        falling = (ag is not None and ag.previous_percent is not None
                   and ag.percent_of_blasts < ag.previous_percent)
        if after and falling and ag is not None:
            signals = [f"{target} {ag.previous_percent:g} % -> {ag.percent_of_blasts:g} % of blasts "
                       f"({ag.previous_date} -> {ag.date})",
                       f"NGS-MRD detectable after {cart.product} ({min(x.date for x in after if x.date)})"]
            if cart.b_cell_aplasia is True:
                signals.append("B-cell aplasia ongoing (CAR-T pressure persists: antigen-negative "
                               "escape rather than CAR-T loss)")
            elif cart.b_cell_aplasia is False or cart.persistence is False:
                signals.append("CAR-T persistence or B-cell aplasia lost")
            out.append(Alert(code="antigen_escape_watch", label="antigen-escape watch",
                             date=ag.date, message="; ".join(signals), source=_SRC_PULSIPHER
                             + "; relapses with persistent B-cell aplasia were 88 % CD19-negative"))
    for a in antigens:
        if a.status == "negative" and a.previous_percent is not None \
                and a.previous_percent >= float(m.r["antigen_positive_min_percent"].value):
            out.append(Alert(code="antigen_loss", label=f"{a.antigen} loss", date=a.date,
                             message=f"{a.antigen} on {a.percent_of_blasts:g} % of blasts "
                                     f"({a.date}), {a.previous_percent:g} % before ({a.previous_date})",
                             source="EGIL: Bene MC et al. Leukemia 1995;9:1783 (20 % positivity)"))
    out.extend(_site_alerts(case))
    return out
