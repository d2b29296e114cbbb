"""The therapy-options engine: knowledge-base entries matched to one patient.

:func:`patient_profile` reads the facts the knowledge base can ask about from a
:class:`~remission.domain.Case` and earlier results (risk groups and transplant rule, MRD values,
CAR-T persistence / B-cell aplasia when a CAR-T section exists). :func:`propose_options` then
checks every knowledge-base entry:

- *relevance* (``relevant_when``, any of; empty = always relevant): why it applies;
- *requirements* (``requires``): an unmet one excludes the option, with the reason;
- *contraindications*: one that holds excludes it, with the reason;
- *cautions* and *label* conditions: listed with the option (outside label → trial/off-label);
- facts the case does not record are never guessed: they become "not recorded, confirm" cautions.

Included options are ranked by strength of evidence (:func:`~remission.knowledge.evidence_strength`),
then lesion-specific match, then fewer cautions. The ranking is a reading order for a tumour board.
The engine **proposes options and shows its reasons; it never decides**.

See Also
--------
remission.knowledge.load_knowledge_base : the knowledge base and its schema.
remission.clinic.risk.stratify : the risk groups and transplant rule this engine reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from remission.clinic.risk import add_months
from remission.domain.case import CD19_DIRECTED_AGENTS as _CD19_DIRECTED
from remission.domain.case import Case, Relapse
from remission.domain.mrd import MrdResult, compare_to_threshold
from remission.domain.parameters import Rule, resolve, rests_on, rule_set
from remission.domain.results import CartResult, RiskResult, as_mapping
from remission.errors import ValidationError
from remission.knowledge import (
    Condition,
    KnowledgeBase,
    NormalisedLesion,
    OptionEntry,
    UnknownLesionError,
    Vocabulary,
    evidence_strength,
)

__all__ = [
    "NOTICE",
    "OPTIONS_RULES",
    "PatientProfile",
    "patient_profile",
    "propose_options",
]

NOTICE = ("These options are proposed from the knowledge base with their reasons, evidence and "
          "citations; the engine never decides. A qualified clinician and the tumour board decide. "
          "Not a medical device.")

OPTIONS_RULES: dict[str, Rule] = rule_set(
    Rule("antigen_positive_min_percent", 20.0, "R",
         "EGIL convention (Bene MC et al. Leukemia 1995;9:1783): a marker is positive when "
         "expressed on >= 20 % of blasts; recalled - confirm per laboratory",
         "CD19/CD22 at or above this percentage of blasts counts as expressed, below as negative"),
    Rule("high_marrow_burden_percent", 50.0, "U",
         "Topp MS et al. Lancet Oncol 2015;16:57 (blinatumomab responses lower with >= 50 % marrow "
         "blasts, adults); recalled - confirm",
         "marrow blasts at or above this percentage count as high burden (blinatumomab, CAR-T CRS)"),
    Rule("no_response_values", ("NR", "PD", "SD", "PR", "MRD_positive"), "U",
         "Gökbuget N et al. Hematology ASH Educ Program 2021:718 (MRD response terms); reading "
         "of the case file's best_response",
         "best_response values read as 'no (MRD) response' to a prior therapy"),
    Rule("refractory_values", ("NR", "PD", "SD", "PR"), "U",
         "reading of the case file's best_response (no complete remission)",
         "best_response values of the latest therapy after relapse read as refractory disease"),
)

_CATEGORY_ORDER = {"transplant": 0, "immunotherapy": 1, "cellular_therapy": 2, "targeted": 3,
                   "chemotherapy": 4, "local_therapy": 5}


@dataclass
class PatientProfile:
    """The facts the knowledge base may ask about (``None`` = not recorded)."""

    lineage: str
    age_years: float | None
    as_of: dt.date
    lesions: list[NormalisedLesion]
    unknown_lesions: list[str]
    cd19_percent: float | None
    cd22_percent: float | None
    antigen_source: str | None
    marrow_blasts_percent: float | None
    relapse_number: int
    relapse_site: str | None
    therapies: list[dict[str, Any]]
    cart_products: list[dict[str, Any]]
    prior_hsct: bool
    relapse_after_hsct: bool
    mrd_positive: bool | None
    mrd_latest: str | None
    mrd_latest_result: MrdResult | None
    refractory: bool | None
    transplant_decision: str | None
    transplant_other: list[str]
    risk_groups: set[str]
    cart_persistence: bool | None
    b_cell_aplasia: bool | None
    hsct_after_relapse: str | None = None
    facts_used: list[str] = field(default_factory=list)
    date_of_birth: dt.date | None = None
    relapse_cns_status: str | None = None
    disease_status: str | None = None
    state_label: str | None = None
    in_remission: bool | None = None
    ph_positive: bool = False
    antigens: dict[str, dict[str, Any]] = field(default_factory=dict)
    burden_source: str | None = None
    ignored_lesions: list[str] = field(default_factory=list)
    lesion_vaf: dict[str, float] = field(default_factory=dict)
    tumour_board: dict[str, Any] = field(default_factory=dict)
    days_since_hsct: int | None = None
    immune: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "lineage": self.lineage, "age_years": self.age_years, "as_of": self.as_of.isoformat(),
            "lesions": [les.as_dict() for les in self.lesions],
            "unknown_lesions": self.unknown_lesions,
            "cd19_percent": self.cd19_percent, "cd22_percent": self.cd22_percent,
            "antigen_source": self.antigen_source,
            "marrow_blasts_percent": self.marrow_blasts_percent,
            "relapse_number": self.relapse_number, "relapse_site": self.relapse_site,
            "prior_therapies": self.therapies, "cart_infusions": self.cart_products,
            "prior_hsct": self.prior_hsct, "relapse_after_hsct": self.relapse_after_hsct,
            "mrd_positive": self.mrd_positive, "mrd_latest": self.mrd_latest,
            "refractory": self.refractory, "transplant_decision": self.transplant_decision,
            "transplant_other_backbone": self.transplant_other,
            "risk_groups": sorted(self.risk_groups),
            "cart_persistence": self.cart_persistence, "b_cell_aplasia": self.b_cell_aplasia,
            "hsct_after_latest_relapse": self.hsct_after_relapse,
            "disease_status": self.disease_status, "state": self.state_label,
            "in_remission": self.in_remission, "ph_positive": self.ph_positive,
            "antigens": self.antigens, "marrow_burden_source": self.burden_source,
            "ignored_lesions": self.ignored_lesions, "tumour_board": self.tumour_board,
            "days_since_hsct": self.days_since_hsct,
        }


_TRUNCATING = ("fs", "*", "ter", "frameshift", "nonsense", "stop", "splice")


def lesion_not_counted(n: NormalisedLesion, les: Any, vocabulary: Vocabulary) -> str | None:
    """Why a case lesion does not count for options (None: it counts).

    By effect: a listed common polymorphism (``TP53 p.P72R``), a benign / likely benign /
    uncertain-significance class or an explicit ``oncogenic: false`` from the case, or a truncating
    variant in a gene whose lesions act by gain of function (an NT5C2 frameshift does not activate
    NT5C2).
    """
    detail = n.detail or getattr(les, "detail", None)
    if n.kind == "gene":
        b = vocabulary.benign_polymorphism(n.canonical, detail)
        if b is not None:
            return f"common germline polymorphism, not a lesion ({b.source})"
    cls = getattr(les, "classification", None)
    if cls in ("benign", "likely_benign"):
        return f"classified {cls.replace('_', ' ')}"
    if cls == "uncertain_significance":
        return "variant of uncertain significance - not counted until classified"
    if getattr(les, "oncogenic", None) is False:
        return "flagged not oncogenic"
    if n.kind == "gene" and detail and getattr(les, "kind", None) in ("snv", "indel"):
        effect = vocabulary.gene_effect(n.canonical)
        d = detail.lower()
        if effect == "activating" and any(t in d for t in _TRUNCATING):
            return (f"truncating variant in {n.canonical}, whose lesions act by gain of function - "
                    "no activating effect expected")
    return None


def _profile_date(case: Case, mrd: Sequence[MrdResult]) -> dt.date:
    """The date the profile describes: the latest date in the records."""
    dates = [case.diagnosis.date, *(r.date for r in case.relapses),
             *(t.end or t.start for t in case.therapies), *(c.date for c in case.cart_infusions),
             *(h.date for h in case.transplants), *(a.date for a in case.antigen_expression),
             *(m.date for m in mrd if m.date is not None)]
    return max(dates)


def _profile_relapse(case: Case, relapse_number: int | None) -> Relapse | None:
    """The relapse whose site and lesions are read: ``relapse_number`` or the latest one."""
    last = case.relapses[-1] if case.relapses else None
    if relapse_number is not None:
        last = next((x for x in case.relapses if x.number == relapse_number), None)
        if last is None:
            raise ValidationError(f"relapse_number must be one of "
                                  f"{[x.number for x in case.relapses]}, but was {relapse_number!r}")
    return last


def _lesion_facts(
    case: Case, last: Relapse | None, vocabulary: Vocabulary, allow_unknown_lesions: bool,
) -> tuple[list[NormalisedLesion], list[str], list[str], dict[str, float]]:
    """Counted lesions (diagnosis and relapses up to ``last``), unknown names, ignored lesions
    with the reason, and VAF by lesion label."""
    lesions: list[NormalisedLesion] = []
    unknown: list[str] = []
    ignored: list[str] = []
    vafs: dict[str, float] = {}
    seen: set[tuple[str, str | None]] = set()
    upto = [r for r in case.relapses if last is None or r.number <= last.number]
    for les in (*case.diagnosis.lesions, *(x for r in upto for x in r.lesions)):
        try:
            n = vocabulary.normalise(les.name, kind=les.kind, detail=les.detail)
        except UnknownLesionError:
            if not allow_unknown_lesions:
                raise
            unknown.append(les.name)
            continue
        why_not = lesion_not_counted(n, les, vocabulary)
        label = f"{n.canonical}{' ' + n.detail if n.detail else ''}"
        if why_not is not None:
            if f"{label}: {why_not}" not in ignored:
                ignored.append(f"{label}: {why_not}")
            continue
        k = (n.canonical, n.detail)
        if les.vaf is not None:
            vafs[label] = les.vaf
        if k not in seen:
            seen.add(k)
            lesions.append(n)
    return lesions, unknown, ignored, vafs


def _recorded_antigens(case: Case, last: Relapse | None,
                       ) -> tuple[float | None, float | None, str | None]:
    """CD19 % and CD22 % of blasts and their source: the latest antigen-expression records, else
    the relapse or diagnosis immunophenotype."""
    cd19 = cd22 = None
    src = None
    for a in sorted(case.antigen_expression, key=lambda a: a.date):
        if a.cd19_percent is not None:
            cd19, src = a.cd19_percent, f"antigen expression {a.date}"
        if a.cd22_percent is not None:
            cd22 = a.cd22_percent
    if cd19 is None and cd22 is None:
        for label, ip in (("relapse immunophenotype", last.immunophenotype if last else None),
                          ("diagnosis immunophenotype", case.diagnosis.immunophenotype)):
            if ip is not None and (ip.cd19_percent is not None or ip.cd22_percent is not None):
                cd19, cd22, src = ip.cd19_percent, ip.cd22_percent, label
                break
    return cd19, cd22, src


def _latest_mrd(mrd: Sequence[MrdResult], last: Relapse | None,
                ) -> tuple[bool | None, str | None, MrdResult | None]:
    """The latest MRD after the relapse: positive?, its display text, the value itself."""
    after = [m for m in mrd if m.date is not None and (last is None or m.date >= last.date)]
    if not after:
        return None, None, None
    latest = max(after, key=lambda m: m.date or dt.date.min)
    return (latest.status != "negative", f"{latest.display()} ({latest.method}, {latest.date})",
            latest)


def _recorded_refractory(case: Case, last: Relapse | None, r: Mapping[str, Rule]) -> bool | None:
    """No CR on the latest therapy after the relapse (rule ``refractory_values``); None: unknown."""
    if last is None:
        return None
    post = [t for t in case.therapies if t.start >= last.date and t.best_response is not None]
    if not post:
        return None
    latest_t = max(post, key=lambda t: t.start)
    return latest_t.best_response in r["refractory_values"].value


def _risk_facts(risk: RiskResult | Mapping[str, Any] | None,
                ) -> tuple[set[str], str | None, list[str]]:
    """Risk groups (``scheme:group``), the transplant decision and the other backbone's ones."""
    groups: set[str] = set()
    decision = None
    other: list[str] = []
    if isinstance(risk, Mapping):
        risk = RiskResult.model_validate({**risk, "kind": "risk"})
    if risk is not None:
        groups = {f"{key}:{g.group}" for key, g in risk.groups().items() if g.group}
        if risk.transplant is not None:
            decision = risk.transplant.decision
            other = [str(a.get("decision")) for a in risk.transplant.alternatives]
    return groups, decision, other


def _apply_state(st: Mapping[str, Any], f: dict[str, Any], *, latest_relapse: bool) -> None:
    """Overlay the disease state's facts on the recorded ones in ``f`` (profile field names).

    Remission status, refractoriness, antigen status, CAR-T facts and, for the latest relapse
    (``latest_relapse``), the current marrow burden and relapse after HSCT come from the state.
    """
    cur = st.get("current") or {}
    f["disease_status"] = disease_status = cur.get("status")
    f["state_label"] = cur.get("label")
    f["in_remission"] = in_remission = st.get("in_remission")
    if disease_status is not None:
        f["refractory"] = disease_status == "refractory"
    cb = st.get("current_burden")
    if isinstance(cb, Mapping) and latest_relapse:
        frac = cb.get("fraction")
        f["marrow_blasts_percent"] = None if frac is None else round(float(frac) * 100, 6)
        f["burden_source"] = f"{cb.get('source')} {cb.get('date')} ({cb.get('display')})"
        if in_remission and str(cb.get("date")) < str(cur.get("start")):
            # in remission since a date after the last burden value: the burden is not known
            f["marrow_blasts_percent"], f["burden_source"] = None, "not measured since remission"
    for a in st.get("antigens") or ():
        f["antigens"][str(a["antigen"])] = dict(a)
        if a["antigen"] == "CD19":
            f["cd19_percent"], f["antigen_source"] = a["percent_of_blasts"], a["source"]
        elif a["antigen"] == "CD22":
            f["cd22_percent"] = a["percent_of_blasts"]
    sc = st.get("cart")
    if isinstance(sc, Mapping):
        if f["cart_persistence"] is None:
            f["cart_persistence"] = sc.get("persistence")
        if f["b_cell_aplasia"] is None:
            f["b_cell_aplasia"] = sc.get("b_cell_aplasia")
    f["days_since_hsct"] = st.get("days_since_hsct")
    f["immune"] = list(st.get("immune") or [])
    line = st.get("line") or {}
    if disease_status in ("haematological_relapse", "refractory", "molecular_relapse") \
            and line.get("after_hsct") and latest_relapse:
        f["relapse_after_hsct"] = True  # the current event came after a transplant


def patient_profile(
    case: Case,
    *,
    vocabulary: Vocabulary,
    mrd: Sequence[MrdResult] = (),
    risk: RiskResult | Mapping[str, Any] | None = None,
    cart: CartResult | None = None,
    allow_unknown_lesions: bool = False,
    rules: Mapping[str, Any] | None = None,
    state: Any = None,
    relapse_number: int | None = None,
) -> PatientProfile:
    """Collect the patient facts (pure: reads only the given records).

    ``risk`` is the typed result of the risk step (or :meth:`RiskAssessment.to_json`); ``cart``
    that of the CAR-T monitoring step (persistence and B-cell aplasia as the CAR-T engine defines
    them), both optional. Unknown lesion names raise
    :class:`~remission.knowledge.UnknownLesionError` unless ``allow_unknown_lesions``.
    ``rules``: overrides of :data:`OPTIONS_RULES` (``refractory_values`` is used here).
    ``state``: the disease state (:func:`remission.state.disease_state`; model or its JSON): when
    given, remission status, refractoriness, current marrow burden, antigen status and CAR-T
    facts come from it. ``relapse_number``: the relapse whose site and lesions are read (default:
    the latest).
    """
    r = resolve(OPTIONS_RULES, rules)
    as_of = _profile_date(case, mrd)
    last = _profile_relapse(case, relapse_number)
    lesions, unknown, ignored, vafs = _lesion_facts(case, last, vocabulary, allow_unknown_lesions)
    cd19, cd22, src = _recorded_antigens(case, last)
    mrd_pos, mrd_txt, latest = _latest_mrd(mrd, last)
    groups, decision, other = _risk_facts(risk)
    marrow = last.marrow_blasts_percent if last else None
    f: dict[str, Any] = {
        "cd19_percent": cd19, "cd22_percent": cd22, "antigen_source": src,
        "marrow_blasts_percent": marrow,
        "burden_source": f"relapse {last.number} marrow blasts" if last and marrow is not None else None,
        "relapse_after_hsct": bool(last and any(h.date < last.date for h in case.transplants)),
        "refractory": _recorded_refractory(case, last, r),
        "cart_persistence": cart.persistence.present if cart is not None and cart.persistence else None,
        "b_cell_aplasia": cart.b_cell_aplasia.ongoing if cart is not None else None,
        "disease_status": None, "state_label": None, "in_remission": None, "antigens": {},
        "days_since_hsct": None, "immune": [],
    }
    st = as_mapping(state)
    if st is not None:
        _apply_state(st, f, latest_relapse=relapse_number is None)
    return PatientProfile(
        lineage=case.diagnosis.lineage, age_years=round(case.age_at(as_of), 2), as_of=as_of,
        lesions=lesions, unknown_lesions=unknown,
        relapse_number=last.number if last else 0, relapse_site=last.site if last else None,
        therapies=[{"name": t.name, "kind": t.kind, "start": t.start.isoformat(),
                    "best_response": t.best_response} for t in case.therapies],
        cart_products=[{"product": c.product, "target": c.target, "date": c.date.isoformat()}
                       for c in case.cart_infusions],
        prior_hsct=bool(case.transplants),
        mrd_positive=mrd_pos, mrd_latest=mrd_txt, mrd_latest_result=latest,
        transplant_decision=decision, transplant_other=other, risk_groups=groups,
        hsct_after_relapse=next((h.date.isoformat() for h in case.transplants
                                 if last is not None and h.date >= last.date), None),
        date_of_birth=case.patient.date_of_birth,
        relapse_cns_status=last.cns_status if last else None,
        ph_positive=any("ph_positive" in n.classes for n in lesions), ignored_lesions=ignored,
        lesion_vaf=vafs, tumour_board=case.tumour_board.model_dump(mode="json"),
        **f,
    )


# -- condition evaluation ----------------------------------------------------------------------

@dataclass
class _Eval:
    value: bool | None  # True met, False not met, None unknown
    text: str
    rules: set[str] = field(default_factory=set)


def _lesion_matches(ref: str, p: PatientProfile, vocab: Vocabulary) -> list[str]:
    hits = []
    if ref.startswith("class:"):
        cls = ref[6:]
        for les in p.lesions:
            if cls in les.classes:
                hits.append(f"{les.canonical}{' ' + les.detail if les.detail else ''} ({cls})")
        return hits
    name, _, detail = ref.partition("@")
    target = vocab.normalise(name).canonical
    for les in p.lesions:
        if les.canonical == target or (target in les.genes and les.kind == "gene"):
            if detail and (les.detail is None or detail.lower() not in les.detail.lower()):
                continue
            hits.append(f"{les.canonical}{' ' + les.detail if les.detail else ''}")
    return hits


def _therapy_hits(names: Sequence[str], p: PatientProfile, *, no_response: bool,
                  bad: Sequence[str] = ()) -> list[str]:
    out = []
    for n in names:
        for t in p.therapies:
            if n.lower() in t["name"].lower() and (not no_response or t["best_response"] in bad):
                out.append(f"{t['name']} ({t['start']}"
                           + (f", best response {t['best_response']})" if no_response else ")"))
        for c in p.cart_products:
            if n.lower() in c["product"].lower() and not no_response:
                out.append(f"{c['product']} ({c['date']})")
    return out


_SCHEME_WORDS = {"bfm": "ALL-REZ BFM", "intreall": "IntReALL", "allr3": "UK ALLR3", "cog": "COG"}
_DECISION_WORDS = {"indicated": "HSCT indicated", "not_indicated": "HSCT not indicated",
                   "pending_mrd": "HSCT pending MRD"}


def _group_words(ref: str) -> str:
    """``bfm:S4`` -> ``ALL-REZ BFM S4`` (clinical wording of a risk-group reference)."""
    scheme, _, group = ref.partition(":")
    return f"{_SCHEME_WORDS.get(scheme, scheme)} {group}"


def _age_at_least(p: PatientProfile, years: float) -> bool:
    """Age at the profile date >= ``years``, exact to the day when the date of birth is known
    (``years`` in whole months: 0.083 y is 1 month)."""
    if p.date_of_birth is not None:
        return add_months(p.date_of_birth, round(years * 12)) <= p.as_of
    return p.age_years is not None and p.age_years >= years


class _Clauses(list[_Eval]):
    """The evaluated clauses of one condition, in the order they are checked."""

    def add(self, v: bool | None, text: str, *used: str) -> None:
        self.append(_Eval(v, text, set(used)))


def _disease_clauses(cond: Condition, p: PatientProfile, vocab: Vocabulary,
                     rules: Mapping[str, Rule]) -> _Clauses:
    """Lineage, lesions and antigen expression."""
    out = _Clauses()
    thr = float(rules["antigen_positive_min_percent"].value)
    if cond.lineage is not None:
        out.add(p.lineage == cond.lineage, f"lineage {p.lineage}" if p.lineage == cond.lineage
            else f"lineage {p.lineage}, not {cond.lineage}")
    if cond.lesion_any:
        hits = [h for ref in cond.lesion_any for h in _lesion_matches(ref, p, vocab)]
        out.add(bool(hits), "lesion " + ", ".join(dict.fromkeys(hits)) if hits
            else "none of " + ", ".join(cond.lesion_any))
    for antigen, want in ((cond.antigen_positive, True), (cond.antigen_negative, False)):
        if antigen is None:
            continue
        pct = p.cd19_percent if antigen == "CD19" else p.cd22_percent
        if pct is None:
            out.add(None, f"{antigen} expression not recorded")
        else:
            expressed = pct >= thr
            word = "expressed" if expressed else "negative"
            out.add(expressed == want, f"{antigen} {word} ({pct:g} % of blasts, {p.antigen_source}; "
                                   f"cut-off {thr:g} %)", "antigen_positive_min_percent")
    return out


def _patient_clauses(cond: Condition, p: PatientProfile, vocab: Vocabulary,
                     rules: Mapping[str, Rule]) -> _Clauses:
    """Age, relapse number, relapse site (isolated extramedullary) and marrow blasts."""
    out = _Clauses()
    if cond.age_min_years is not None:
        if p.age_years is None:
            out.add(None, "age not recorded")
        else:
            ok = _age_at_least(p, cond.age_min_years)
            out.add(ok, f"age {p.age_years:.1f} y {'>=' if ok else '<'} {cond.age_min_years:g} y")
    if cond.age_below_years is not None:
        if p.age_years is None:
            out.add(None, "age not recorded")
        else:
            ok = not _age_at_least(p, cond.age_below_years)
            out.add(ok, f"age {p.age_years:.1f} y {'<' if ok else '>='} {cond.age_below_years:g} y")
    if cond.relapse_number_min is not None:
        out.add(p.relapse_number >= cond.relapse_number_min, f"relapse number {p.relapse_number}")
    if cond.relapse_number_max is not None:
        out.add(p.relapse_number <= cond.relapse_number_max, f"relapse number {p.relapse_number}")
    if cond.isolated_extramedullary is not None:
        iem = p.relapse_site in ("isolated_cns", "isolated_testis", "other_em")
        out.add(iem == cond.isolated_extramedullary,
            f"relapse site {str(p.relapse_site).replace('_', ' ')}")
    if cond.marrow_blasts_at_least_rule is not None:
        r = rules[cond.marrow_blasts_at_least_rule]
        b = p.marrow_blasts_percent
        if b is None:
            out.add(None, "marrow blasts not recorded")
        else:
            out.add(b >= float(r.value), f"marrow blasts {b:g} % {'>=' if b >= float(r.value) else '<'} "
                                     f"{float(r.value):g} %", r.name)
    if cond.marrow_blasts_below_percent is not None:
        b = p.marrow_blasts_percent
        if b is None:
            out.add(None, "marrow blasts not recorded")
        else:
            out.add(b < cond.marrow_blasts_below_percent,
                f"marrow blasts {b:g} % {'<' if b < cond.marrow_blasts_below_percent else '>='} "
                f"{cond.marrow_blasts_below_percent:g} %")
    return out


def _prior_therapy_clauses(cond: Condition, p: PatientProfile, vocab: Vocabulary,
                           rules: Mapping[str, Rule]) -> _Clauses:
    """Prior therapies, CD19-directed therapy, CAR-T and HSCT."""
    out = _Clauses()
    if cond.prior_therapy_any:
        hits = _therapy_hits(cond.prior_therapy_any, p, no_response=False)
        out.add(bool(hits), "prior " + "; ".join(hits) if hits
            else "no prior " + "/".join(cond.prior_therapy_any))
    if cond.prior_therapy_no_response_any:
        hits = _therapy_hits(cond.prior_therapy_no_response_any, p, no_response=True,
                             bad=rules["no_response_values"].value)
        out.add(bool(hits), "no response to prior " + "; ".join(hits) if hits
            else "no failed prior " + "/".join(cond.prior_therapy_no_response_any),
            "no_response_values")
    if cond.prior_cd19_directed is not None:
        hits = _therapy_hits(_CD19_DIRECTED, p, no_response=False)
        hits += [f"{c['product']} ({c['date']})" for c in p.cart_products
                 if c["target"] in ("CD19", "CD19_CD22") and f"{c['product']} ({c['date']})" not in hits]
        out.add(bool(hits) == cond.prior_cd19_directed,
            "prior CD19-directed therapy: " + "; ".join(hits) if hits else "no prior CD19-directed therapy")
    if cond.prior_cart is not None:
        out.add(bool(p.cart_products) == cond.prior_cart,
            "prior CAR-T: " + ", ".join(c["product"] for c in p.cart_products)
            if p.cart_products else "no prior CAR-T")
    if cond.prior_hsct is not None:
        out.add(p.prior_hsct == cond.prior_hsct, "prior allogeneic HSCT" if p.prior_hsct else "no prior HSCT")
    if cond.relapse_after_hsct is not None:
        out.add(p.relapse_after_hsct == cond.relapse_after_hsct,
            "relapse after HSCT" if p.relapse_after_hsct else "relapse not after HSCT")
    return out


def _response_clauses(cond: Condition, p: PatientProfile, vocab: Vocabulary,
                      rules: Mapping[str, Rule]) -> _Clauses:
    """MRD, refractoriness, transplant rule, risk groups, CAR-T follow-up and HSCT after relapse."""
    out = _Clauses()
    if cond.mrd_positive is not None:
        if p.mrd_positive is None:
            out.add(None, "no MRD after the latest relapse")
        else:
            out.add(p.mrd_positive == cond.mrd_positive, f"latest MRD {p.mrd_latest}")
    if cond.mrd_at_least is not None:
        m = p.mrd_latest_result
        if m is None:
            out.add(None, "no MRD after the latest relapse")
        else:
            side = compare_to_threshold(m, cond.mrd_at_least)
            out.add(side, f"latest MRD {p.mrd_latest} "
                      + {True: ">=", False: "<", None: "not comparable with"}[side]
                      + f" {cond.mrd_at_least:g}")
    if cond.refractory is not None:
        if p.refractory is None:
            out.add(None, "response to relapse therapy not recorded")
        else:
            out.add(p.refractory == cond.refractory,
                "refractory (no CR on the latest therapy)" if p.refractory else "in remission")
    if cond.transplant_decision_any:
        if p.transplant_decision is None:
            out.add(None, "transplant rule not available")
        else:
            out.add(p.transplant_decision in cond.transplant_decision_any,
                f"transplant rule: {_DECISION_WORDS.get(p.transplant_decision, p.transplant_decision)}")
    if cond.transplant_other_backbone_any:
        hits = [d for d in p.transplant_other if d in cond.transplant_other_backbone_any]
        if not p.transplant_other:
            out.add(None, "no other-backbone transplant rule")
        else:
            out.add(bool(hits), "other backbone's transplant rule: "
                + ", ".join(_DECISION_WORDS.get(d, d) for d in p.transplant_other))
    if cond.risk_group_any:
        hits = sorted(p.risk_groups & set(cond.risk_group_any))
        if not p.risk_groups:
            out.add(None, "risk groups not available")
        else:
            out.add(bool(hits), "risk group " + ", ".join(_group_words(g) for g in hits) if hits
                else "risk group " + ", ".join(_group_words(g) for g in sorted(p.risk_groups)))
    for attr, fact, label in (("cart_persistence", p.cart_persistence, "CAR-T persistence"),
                              ("b_cell_aplasia", p.b_cell_aplasia, "B-cell aplasia")):
        want = getattr(cond, attr)
        if want is None:
            continue
        if fact is None:
            out.add(None, f"{label} not recorded")
        else:
            out.add(fact == want, f"{label} {'present' if fact else 'absent'}")

    if cond.hsct_after_latest_relapse is not None:
        done = p.hsct_after_relapse is not None
        out.add(done == cond.hsct_after_latest_relapse,
            f"allogeneic HSCT after the latest relapse ({p.hsct_after_relapse})" if done
            else "no HSCT after the latest relapse")
    return out


def _state_clauses(cond: Condition, p: PatientProfile, vocab: Vocabulary,
                   rules: Mapping[str, Rule]) -> _Clauses:
    """Relapse site and CNS status, current disease state, remission and Ph status."""
    out = _Clauses()
    if cond.relapse_site_any:
        out.add(p.relapse_site in cond.relapse_site_any,
            f"relapse site {str(p.relapse_site).replace('_', ' ')}")
    if cond.cns_status_any:
        if p.relapse_cns_status is None:
            out.add(None, "CNS status at relapse not recorded")
        else:
            out.add(p.relapse_cns_status in cond.cns_status_any, f"{p.relapse_cns_status} at relapse")
    if cond.disease_status_any:
        if p.disease_status is None:
            out.add(None, "current disease state not available")
        else:
            out.add(p.disease_status in cond.disease_status_any, f"now: {p.state_label}")
    if cond.in_remission is not None:
        if p.in_remission is None:
            out.add(None, "remission status not available")
        else:
            out.add(p.in_remission == cond.in_remission,
                f"{'in remission' if p.in_remission else 'not in remission'} ({p.state_label})")
    if cond.ph_positive is not None:
        out.add(p.ph_positive == cond.ph_positive,
            "BCR::ABL1 (Ph+)" if p.ph_positive else "Ph-negative (no BCR::ABL1 recorded)")
    return out


def _tumour_board_clauses(cond: Condition, p: PatientProfile, vocab: Vocabulary,
                          rules: Mapping[str, Rule]) -> _Clauses:
    """Tumour-board facts: Down syndrome, organ function, performance status, donor."""
    out = _Clauses()
    tb = p.tumour_board
    if cond.down_syndrome is not None:
        ds = tb.get("down_syndrome")
        if ds is None:
            out.add(None, "Down syndrome status not recorded")
        else:
            out.add(ds == cond.down_syndrome, "Down syndrome" if ds else "no Down syndrome")
    if cond.bilirubin_above_uln is not None:
        bili = (tb.get("organ_function") or {}).get("bilirubin_x_uln")
        if bili is None:
            out.add(None, "bilirubin not recorded")
        else:
            out.add((bili >= 1) == cond.bilirubin_above_uln, f"total bilirubin {bili:g} x ULN")
    if cond.performance_below_percent is not None:
        ps = tb.get("performance_status")
        if not ps:
            out.add(None, "Lansky/Karnofsky not recorded")
        else:
            out.add(ps["value"] < cond.performance_below_percent,
                f"{ps['scale'].capitalize()} {ps['value']:g}")
    if cond.donor_available is not None:
        donor = tb.get("donor") or {}
        if donor.get("available") is None:
            out.add(None, "donor availability not recorded")
        else:
            out.add(donor["available"] == cond.donor_available,
                "donor available" + (f" ({str(donor.get('type')).replace('_', ' ')})"
                                     if donor.get("type") else "")
                if donor["available"] else "no donor identified")
    return out


def _any_of_clause(cond: Condition, p: PatientProfile, vocab: Vocabulary,
                   rules: Mapping[str, Rule]) -> _Eval | None:
    """The ``any_of`` clause: met when one alternative is met, unknown when one is unknown."""
    if not cond.any_of:
        return None
    subs = [evaluate(c, p, vocab, rules) for c in cond.any_of]
    hit = [x for x in subs if x.value]
    if hit:
        return _Eval(True, " or ".join(x.text for x in hit), set().union(*(x.rules for x in hit)))
    if any(x.value is None for x in subs):
        return _Eval(None, " / ".join(x.text for x in subs if x.value is None))
    return _Eval(False, "none of: " + " / ".join(x.text for x in subs))


_CLAUSE_FAMILIES = (_disease_clauses, _patient_clauses, _prior_therapy_clauses, _response_clauses,
                    _state_clauses, _tumour_board_clauses)


def evaluate(cond: Condition, p: PatientProfile, vocab: Vocabulary,
             rules: Mapping[str, Rule]) -> _Eval:
    """Evaluate a condition: all clauses must hold; unrecorded facts give ``None``."""
    parts: list[_Eval] = [x for family in _CLAUSE_FAMILIES for x in family(cond, p, vocab, rules)]
    any_of = _any_of_clause(cond, p, vocab, rules)
    if any_of is not None:
        parts.append(any_of)
    if not parts:
        return _Eval(True, "always")
    used = set().union(*(x.rules for x in parts))
    if any(x.value is False for x in parts):
        return _Eval(False, "; ".join(x.text for x in parts if x.value is False), used)
    if any(x.value is None for x in parts):
        return _Eval(None, "; ".join(x.text for x in parts if x.value is None), used)
    return _Eval(True, "; ".join(x.text for x in parts), used)


# -- the engine -------------------------------------------------------------------------------

def _eligibility(e: OptionEntry, p: PatientProfile, vocab: Vocabulary, r: Mapping[str, Rule],
                 cautions: list[str]) -> tuple[str, dict[str, str]]:
    """Eligibility text, overall and per jurisdiction of the label (US-FDA, EU-EMA)."""
    route = e.access.route
    if route != "label":
        note = f" ({e.access.note})" if e.access.note else ""
        return _ACCESS_WORDS[route] + note, {}
    by: dict[str, str] = {}
    unsure: list[str] = []
    for j in e.access.jurisdictions:
        outside = []
        for lab in e.label:
            if lab.jurisdiction not in (None, j):
                continue
            ev = evaluate(lab.when, p, vocab, r)
            if ev.value is False:
                outside.append(f"{lab.reason} [{ev.text}]")
            elif ev.value is None:
                unsure.append(f"label condition not checkable, confirm: {lab.reason} [{ev.text}]")
        by[j] = "within label" if not outside else "outside label: " + "; ".join(outside)
    for u in dict.fromkeys(unsure):
        cautions.append(u)
    within = [j for j, t in by.items() if t == "within label"]
    if len(within) == len(by):
        text = f"within label ({', '.join(by)})"
    elif within:
        text = (f"within label ({', '.join(within)}); outside label ("
                + ", ".join(j for j in by if j not in within) + ")")
    else:
        text = f"outside label ({', '.join(by)}): trial or off-label use"
    for jur, t in by.items():
        if t != "within label":
            cautions.insert(0, f"{jur} {t}")
    return text, by


#: Clinical wording of the evidence levels (what a report shows).
LEVEL_WORDS: dict[str, str] = {
    "protocol_standard": "protocol standard", "randomised_phase3": "randomised phase 3",
    "randomised_phase2": "randomised phase 2", "single_arm_phase2": "single-arm phase 2",
    "phase1_2": "phase 1/2", "phase1": "phase 1", "real_world": "real-world cohort",
    "retrospective": "retrospective", "case_series": "case series", "preclinical": "preclinical",
}

_ACCESS_WORDS = {"standard": "standard of care", "label": "within label", "trial": "clinical trial",
                 "off_label": "off-label", "compassionate": "compassionate use"}

#: Tumour-board fields: how to tell whether the case records them.
_NEED_PRESENT = {
    "donor": lambda p: (p.tumour_board.get("donor") or {}).get("available") is not None,
    "performance_status": lambda p: bool(p.tumour_board.get("performance_status")),
    "bilirubin": lambda p: (p.tumour_board.get("organ_function") or {}).get("bilirubin_x_uln") is not None,
    "liver_tests": lambda p: any((p.tumour_board.get("organ_function") or {}).get(k) is not None
                                 for k in ("alt_x_uln", "ast_x_uln")),
    "cumulative_anthracycline": lambda p: p.tumour_board.get("cumulative_anthracycline_mg_m2") is not None,
    "cardiac_function": lambda p: any((p.tumour_board.get("organ_function") or {}).get(k) is not None
                                      for k in ("lvef_percent", "shortening_fraction_percent")),
    "down_syndrome": lambda p: p.tumour_board.get("down_syndrome") is not None,
    "germline_predisposition": lambda p: p.tumour_board.get("germline_predisposition") is not None,
    "time_since_hsct": lambda p: p.days_since_hsct is not None or not p.prior_hsct,
}


def level_text(framework: str, level: str) -> str:
    """``randomised phase 3`` / ``OncoKB level 1`` / ``CIViC B`` / ``ESCAT I-A``."""
    if framework == "trial":
        return LEVEL_WORDS.get(level, level)
    return {"oncokb": "OncoKB level", "civic": "CIViC level", "escat": "ESCAT tier"}[framework] \
        + f" {level}"


def _entry_out(e: OptionEntry, kb: KnowledgeBase) -> dict[str, Any]:
    return {
        "id": e.id, "name": e.name, "category": e.category, "target": e.target,
        "mechanism": e.mechanism, "access": e.access.model_dump(mode="json"), "context": e.context,
        "evidence": [ev.model_dump(mode="json") for ev in e.evidence],
        "evidence_level": ", ".join(level_text(ev.framework, ev.level) for ev in e.evidence),
        "citations": [c.model_dump(mode="json") for c in e.citations],
        "knowledge_file": kb.origin.get(e.id),
    }


def _evidence_in_setting(e: OptionEntry, profile: PatientProfile, vocab: Vocabulary,
                         r: Mapping[str, Rule]) -> tuple[list[dict[str, Any]], int, str]:
    """Each applicable evidence item with whether the patient is in its setting.

    Returns the items, the ranking strength (strongest in-setting level; an extrapolated level
    counts two grades lower - a reading order, not a clinical rule) and the text shown.
    """
    items: list[dict[str, Any]] = []
    for ev in e.evidence:
        if ev.lesion is not None and not _lesion_matches(ev.lesion, profile, vocab):
            continue
        res = evaluate(ev.setting.when, profile, vocab, r) if ev.setting.clinical else \
            _Eval(False, "preclinical evidence (no patients)")
        items.append({"framework": ev.framework, "level": ev.level,
                      "level_text": level_text(ev.framework, ev.level), "summary": ev.summary,
                      "setting": ev.setting.description, "in_setting": res.value,
                      "why": res.text, "strength": evidence_strength(ev.framework, ev.level)})
    if not items:
        return [], 0, "no evidence item applies to this patient's lesions"
    inside = [i for i in items if i["in_setting"]]
    if inside:
        best = max(inside, key=lambda i: i["strength"])
        return items, best["strength"], f"{best['level_text']} in this setting ({best['setting']})"
    unsure = [i for i in items if i["in_setting"] is None]
    if unsure:
        best = max(unsure, key=lambda i: i["strength"])
        return items, max(best["strength"] - 1, 0), (
            f"{best['level_text']} if the patient is in its setting ({best['setting']}); "
            f"not checkable: {best['why']}")
    best = max(items, key=lambda i: i["strength"])
    return items, max(best["strength"] - 2, 0), (
        f"extrapolated: {best['level_text']} evidence from {best['setting']}; "
        f"this patient: {best['why']}")


def _immune_context(e: OptionEntry, p: PatientProfile) -> str | None:
    """The latest T-cell context beside a T-cell-dependent immunotherapy (values, no threshold)."""
    if not p.immune or e.category not in ("immunotherapy", "cellular_therapy") \
            or e.target is None or not any(a in e.target for a in ("CD19", "CD22", "CD38")):
        return None
    x = p.immune[-1]
    bits = [f"{label} {x[k]:g}{unit}" for k, label, unit in (
        ("cd4_cd8_ratio", "CD4/CD8", ""), ("treg_percent_of_cd4", "Treg", " % of CD4"),
        ("cd8_exhausted_percent", "exhausted", " % of CD8"),
        ("cd4_exhausted_percent", "exhausted", " % of CD4")) if x.get(k) is not None]
    return (f"T-cell context {x['date']} ({x['material'].replace('_', ' ')}): " + ", ".join(bits)
            + " - values and trends only, no validated threshold")


def _antigen_cautions(e: OptionEntry, p: PatientProfile) -> list[str]:
    """Partial CD19/CD22 expression before an antigen-directed option: the negative fraction."""
    out = []
    for antigen in ("CD19", "CD22"):
        if e.target is None or antigen not in e.target:
            continue
        a = p.antigens.get(antigen)
        if not a or a.get("status") != "partial":
            continue
        dim = f"; {a['dim_percent']:g} % dim" if a.get("dim_percent") else ""
        out.append(f"{antigen} on {a['percent_of_blasts']:g} % of blasts ({a['source']}): "
                   f"{a['negative_fraction_percent']:g} % of blasts are {antigen}-negative{dim} - "
                   f"risk of {antigen}-negative escape")
    return out


@dataclass
class _Match:
    """How one knowledge-base entry matches the patient (before eligibility and evidence)."""

    why: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # reasons to exclude
    cautions: list[str] = field(default_factory=list)
    specific: bool = False  # relevant through a lesion
    used: set[str] = field(default_factory=set)


def _match_relevance(e: OptionEntry, profile: PatientProfile, vocab: Vocabulary,
                     r: Mapping[str, Rule], m: _Match) -> None:
    """Why the entry is relevant (its ``relevant_when`` clauses); not relevant is a reason."""
    if not e.relevant_when:
        m.why.append(e.context)
        return
    for rel in e.relevant_when:
        ev = evaluate(rel.when, profile, vocab, r)
        if ev.value:
            m.used |= ev.rules
            m.why.append(f"{rel.why} [{ev.text}]")
            m.specific = m.specific or bool(rel.when.lesion_any)
    if not m.why:
        m.reasons.append("not relevant to this patient: "
                         + " / ".join(rel.why for rel in e.relevant_when))


def _match_conditions(e: OptionEntry, profile: PatientProfile, vocab: Vocabulary,
                      r: Mapping[str, Rule], m: _Match) -> None:
    """Requirements (unmet: a reason; unknown: a caution), contraindications and cautions."""
    for req in e.requires:
        ev = evaluate(req.when, profile, vocab, r)
        m.used |= ev.rules
        if ev.value is False:
            m.reasons.append(f"{req.reason} [{ev.text}]")
        elif ev.value is None:
            m.cautions.append(f"not recorded, confirm: {req.reason} [{ev.text}]")
    for con in e.contraindications:
        ev = evaluate(con.when, profile, vocab, r)
        if ev.value:
            m.used |= ev.rules
            m.reasons.append(f"contraindicated: {con.reason} [{ev.text}]")
    for cau in e.cautions:
        ev = evaluate(cau.when, profile, vocab, r)
        if ev.value:
            m.used |= ev.rules
            m.cautions.append(f"{cau.reason} [{ev.text}]")


def _match_entry(e: OptionEntry, profile: PatientProfile, vocab: Vocabulary,
                 r: Mapping[str, Rule]) -> _Match:
    """Relevance, conditions, agents already given and antigen cautions of one entry."""
    m = _Match()
    _match_relevance(e, profile, vocab, r, m)
    _match_conditions(e, profile, vocab, r, m)
    given = _therapy_hits(e.agents or (e.id,), profile, no_response=False)
    if given:
        m.cautions.append("already received: " + "; ".join(given))
    m.cautions.extend(_antigen_cautions(e, profile))
    return m


def _option_item(e: OptionEntry, m: _Match, base: dict[str, Any], eligibility: str,
                 by_jurisdiction: dict[str, str], missing: list[str], profile: PatientProfile,
                 vocab: Vocabulary, r: Mapping[str, Rule]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """An included option with its ranking key (evidence strength, lesion-specific, category,
    number of cautions, id)."""
    ev_items, strength, shown = _evidence_in_setting(e, profile, vocab, r)
    item = {**base, "why": m.why, "eligibility": eligibility,
            "eligibility_by_jurisdiction": by_jurisdiction, "cautions": m.cautions,
            "missing_fields": missing,
            "contraindications": [c.reason for c in e.contraindications],
            "advantages": list(e.advantages), "limitations": list(e.limitations),
            "toxicities": list(e.toxicities), "lesion_specific": m.specific,
            "evidence_in_setting": shown, "evidence_items": ev_items,
            "extrapolated": not any(i["in_setting"] for i in ev_items),
            "immune_context": _immune_context(e, profile)}
    item["evidence_strength"] = strength
    key = (-strength, not m.specific, _CATEGORY_ORDER[e.category], len(m.cautions), e.id)
    return key, item


def _profile_notes(profile: PatientProfile) -> list[str]:
    """Notes on the patient facts that frame every option."""
    notes = []
    if profile.hsct_after_relapse is not None:
        notes.append(f"allogeneic HSCT was performed after the latest relapse "
                     f"({profile.hsct_after_relapse}): the options below are those of that relapse "
                     "(with what was already given) or of a further relapse")
    if profile.relapse_number == 0:
        notes.append("the case records no relapse: relapse options do not apply")
    if profile.unknown_lesions:
        notes.append("lesions not in the vocabulary (ignored for matching): "
                     + ", ".join(profile.unknown_lesions))
    if profile.ignored_lesions:
        notes.append("lesions not counted (by effect): " + "; ".join(profile.ignored_lesions))
    if profile.state_label is not None:
        notes.insert(0, f"options are evaluated against the current state: {profile.state_label}")
    tb = profile.tumour_board
    if tb.get("trial_notes"):
        notes.append(f"trial eligibility notes (case file): {tb['trial_notes']}")
    if tb.get("germline_predisposition"):
        notes.append("germline predisposition recorded: " + ", ".join(tb["germline_predisposition"])
                     + " - consider it for conditioning, radiotherapy and donor choice")
    return notes


def propose_options(
    profile: PatientProfile,
    kb: KnowledgeBase,
    *,
    rules: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Match every knowledge-base entry to the patient; return a JSON-ready result.

    Result keys: ``options`` (ranked, each with ``why``, ``evidence``, ``citations``,
    ``eligibility``, ``cautions``), ``excluded`` (each with ``reasons``), ``patient`` (the facts
    used), ``knowledge_base`` (version, files), ``rules`` ([R]/[U]/user rules used), ``notice``.
    """
    r = resolve(OPTIONS_RULES, rules)
    vocab = kb.vocabulary
    used: set[str] = set()
    included: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    excluded: list[dict[str, Any]] = []
    for e in kb.entries:
        m = _match_entry(e, profile, vocab, r)
        used |= m.used
        missing = [f"needed field missing: {n.field.replace('_', ' ')} ({n.why})"
                   for n in e.needs if not _NEED_PRESENT[n.field](profile)]
        eligibility, by_jurisdiction = _eligibility(e, profile, vocab, r, m.cautions)
        base = _entry_out(e, kb)
        if m.reasons:
            excluded.append({**base, "reasons": m.reasons})
            continue
        included.append(_option_item(e, m, base, eligibility, by_jurisdiction, missing, profile,
                                     vocab, r))
    included.sort(key=lambda x: x[0])
    used.update(n for n, rule in r.items() if rule.tag == "user")  # every override is listed
    options = [{"rank": i + 1, **item} for i, (_, item) in enumerate(included)]
    return {
        "options": options,
        "excluded": excluded,
        "notes": _profile_notes(profile),
        "patient": profile.as_dict(),
        "knowledge_base": {"version": kb.version, "directory": str(kb.directory),
                           "files": list(kb.files), "entries": len(kb.entries)},
        "ranking": "strength of evidence in the patient's setting (extrapolated evidence two grades "
                   "lower), then lesion-specific match, then category (transplant, immunotherapy, "
                   "cellular therapy, targeted, chemotherapy, local therapy), then fewer cautions "
                   "(a reading order, not a recommendation)",
        "rules": rests_on(r[n] for n in sorted(used)),
        "notice": NOTICE,
    }
