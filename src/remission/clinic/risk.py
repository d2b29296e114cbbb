"""Risk stratification of a first relapse of childhood ALL.

Schemes: ALL-REZ BFM strategic groups S1–S4, IntReALL
SR/HR, UK ALLR3 SR/IR/HR and COG AALL1331 LR/IR/HR, plus the MRD rule that decides allogeneic
HSCT (BFM/IntReALL arm A: MRD after induction ≥ 10⁻³; UK ALLR3/IntReALL arm B: ≥ 10⁻⁴).

Everything here is pure: :func:`stratify` takes a :class:`~remission.domain.Case` and the case's
MRD values (``MrdResult`` list) and returns a :class:`RiskAssessment`. The table lookups
(:func:`bfm_group`, :func:`intreall_group`, :func:`allr3_group`, :func:`cog_group`) and the time
point rules (:func:`bfm_time_point`, :func:`cog_time_point`) are public so that tests and notebooks
can check every cell.

Months are **calendar months**:"relapse < 18 months after diagnosis" means the relapse date is
before the date 18 calendar months after diagnosis (:func:`add_months`, the day clamped to the end
of a shorter month, as ``dateutil.relativedelta`` does). A relapse on exactly that date is in the
later category (the spec's tables use "≥" for the later category).

Cases outside a scheme (relapse after allogeneic HSCT, second or later relapse, BCR::ABL1-positive,
age outside the scheme's range) are *flagged*, never forced into a group: the scheme's key is
``None`` and a flag says why (and what the table alone would have said).

It proposes and shows its reasons; it never decides (``NOT_A_MEDICAL_DEVICE``).

See Also
--------
remission.clinic.options.propose_options : the therapy options that read this result.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from remission.domain.case import Case, Relapse
from remission.domain.mrd import MrdResult, compare_to_threshold
from remission.domain.parameters import Rule, resolve, rests_on, rule_set
from remission.errors import ValidationError
from remission.knowledge import UnknownLesionError, Vocabulary, default_vocabulary

__all__ = [
    "RISK_RULES",
    "SOURCES",
    "CogTimePoint",
    "Flag",
    "MrdUsed",
    "RiskAssessment",
    "RiskLineage",
    "RiskSite",
    "SchemeGroup",
    "TimePoint",
    "TransplantRule",
    "add_months",
    "age_in_range",
    "allr3_group",
    "bfm_group",
    "bfm_time_point",
    "cog_group",
    "cog_time_point",
    "intreall_group",
    "is_ph_positive",
    "risk_site",
    "stratify",
]

TimePoint = Literal["very_early", "early", "late"]
CogTimePoint = Literal["early", "late"]
RiskSite = Literal["iem", "combined", "isolated_bm"]
RiskLineage = Literal["BCP", "T"]
Decision = Literal["indicated", "not_indicated", "pending_mrd"]

#: Source keys used by the risk rules, with their citation.
SOURCES: dict[str, str] = {"S-Fuster": "Fuster JL. World J Hematol 2014;3:49, Table 2 (site and time-point definitions)",
    "S-HungerRaetz": "Hunger SP, Raetz EA. Blood 2020;136:1803, risk-stratification table "
                     "(COG / BFM / UK first-relapse schemes)",
    "S-IntReALL-SR": "IntReALL SR 2010 (NCT01802814), results abstract: arm A (ALL-REZ BFM 2002) "
                     "MRD cut-off 1e-3, arm B (UK ALLR3) 1e-4",
    "S-IntReALL-elig": "IntReALL SR 2010 eligibility, NCT01802814 (age 1-17 y; excludes "
                       "BCR::ABL1+, relapse after allo-HSCT)",
    "S-ALLR3": "Parker C et al. Lancet 2010;376:2009 (UK ALLR3; MRD >= 1e-4 after induction -> "
               "allo-SCT)",
    "S-Brown": "Brown PA et al. JAMA 2021;325:833 (COG AALL1331; eligibility age 1-30 y, "
               "excludes Ph+, prior HSCT, prior blinatumomab)",
    "S-Eckert": "Eckert C et al. J Clin Oncol 2013 (ALL-REZ BFM 2002: MRD at end of induction "
                "(TP2) in S2) [R]",
    "S-AIEM": "Blood 2007;110:4022 (submicroscopic marrow involvement in IEM relapse)",
}

RISK_RULES: dict[str, Rule] = rule_set(
    Rule("very_early_months", 18, "C", "Fuster JL. World J Hematol 2014;3:49, Table 2",
         "BFM/I-BFM/UK: relapse < this many calendar months after diagnosis is very early"),
    Rule("late_after_frontline_months", 6, "C", "Fuster JL. World J Hematol 2014;3:49, Table 2",
         "BFM/I-BFM/UK: relapse >= this many calendar months after end of frontline is late"),
    Rule("allr3_same_time_points", True, "R", "Fuster JL. World J Hematol 2014;3:49, Table 2",
         "UK ALLR3 used the same very-early/early/late cut-offs as BFM (recalled)"),
    Rule("cog_marrow_early_months", 36, "C", "Fuster JL. World J Hematol 2014;3:49, Table 2",
         "COG: marrow (isolated or combined) relapse < this many months from diagnosis is early"),
    Rule("cog_iem_early_months", 18, "R", "Fuster JL. World J Hematol 2014;3:49, Table 2 (unresolved: confirm in the primary source)",
         "COG AALL1331: isolated extramedullary relapse < this many months from diagnosis is early"),
    Rule("cog_eob1_mrd_threshold", 1e-3, "C", "Hunger SP, Raetz EA. Blood 2020;136:1803",
         "AALL1331 late relapse: end-of-block-1 MRD >= this (0.1 %) -> IR, below -> LR"),
    Rule("cog_eob1_timepoints", ("end_of_block_1", "eob1", "end_of_induction"), "U",
         "AALL1331 block 1 report, Haematologica 2025",
         "MRD timepoint labels read as AALL1331 end of block 1 (block 1 is the induction)"),
    Rule("bfm_matrix_cells", True, "R", "Hunger SP, Raetz EA. Blood 2020;136:1803",
         "ALL-REZ BFM cell-by-cell S1-S4 matrix and the S3/S4 split (recalled standard table)"),
    Rule("intreall_very_early_iem", "HR", "U", "IntReALL SR 2010 (NCT01802814) (unresolved: confirm in the primary source)",
         "IntReALL group of a very early isolated extramedullary relapse (derived, not read)"),
    Rule("allr3_t_iem_like_bcp", True, "U", "Parker C et al. Lancet 2010;376:2009 (unresolved: confirm in the primary source)",
         "UK ALLR3 places T-lineage IEM relapses by the same timing rule as BCP (assumed)"),
    Rule("bfm_mrd_threshold", 1e-3, "C", "IntReALL SR 2010 (NCT01802814) results",
         "ALL-REZ BFM S2 / IntReALL SR arm A: MRD after induction >= this -> allogeneic HSCT"),
    Rule("bfm_mrd_timepoints", ("end_of_induction", "tp2", "after_induction"), "R",
         "Eckert C et al. J Clin Oncol 2013 (unresolved: confirm in the primary source)",
         "MRD timepoint labels read as the BFM S2 decision point (end of induction, TP2)"),
    Rule("allr3_mrd_threshold", 1e-4, "C", "Parker C et al. Lancet 2010;376:2009",
         "UK ALLR3 / IntReALL SR arm B IR: MRD after induction >= this -> allogeneic SCT"),
    Rule("allr3_mrd_timepoints", ("end_of_induction", "after_induction", "end_of_block_1", "eob1"),
         "U", "Parker C et al. Lancet 2010;376:2009",
         "MRD timepoint labels read as the ALLR3 decision point ('after induction')"),
    Rule("mrd_at_induction_end_date", True, "U", "Hunger SP, Raetz EA. Blood 2020;136:1803 (MRD 'after induction')",
         "without a timepoint label, marrow MRD dated at the end of the first 'induction' therapy "
         "after the relapse is read as MRD after induction"),
    Rule("intreall_early_s2_hsct", True, "C", "IntReALL SR 2010 (NCT01802814) results",
         "IntReALL SR 2010: early combined BM or early IEM relapse -> allogeneic HSCT"),
    Rule("intreall_age_years", (1, 18), "R", "IntReALL SR 2010 eligibility (NCT01802814)",
         "IntReALL age range [min, max) in years ('1-17 y' read as below the 18th birthday)"),
    Rule("allr3_age_years", (1, 19), "R", "Parker C et al. Lancet 2010;376:2009",
         "UK ALLR3 age range [min, max) in years ('1-18 y' read as below the 19th birthday)"),
    Rule("cog_age_years", (1, 31), "R", "Brown PA et al. JAMA 2021;325:833",
         "AALL1331 age range [min, max) in years ('1-30 y' read as below the 31st birthday)"),
    Rule("intreall_hr_complement", True, "R", "IntReALL SR 2010 (NCT01802814) (unresolved: confirm in the primary source)",
         "IntReALL HR is derived as the complement of the confirmed SR list (verify against the "
         "IntReALL HR 2010 protocol, NCT03590171)"),
    # a setting, not a recalled fact (tag C so that it is listed only when the user overrides it)
    Rule("transplant_backbone", "bfm", "C", "setting",
         "which backbone's MRD rule decides transplant: 'bfm' (ALL-REZ BFM / IntReALL arm A) "
         "or 'allr3' (UK ALLR3 / IntReALL arm B)"),
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SchemeGroup(_Model):
    """One scheme's group, with the rule path that produced it."""

    scheme: str
    group: str | None = Field(None, description="None while pending (e.g. COG LR/IR needs MRD)")
    candidates: tuple[str, ...] = ()
    pending: str | None = None
    rule_path: tuple[str, ...]
    consolidation: str | None = None
    sources: tuple[str, ...] = ()
    rests_on: tuple[str, ...] = Field((), description="names of [R]/[U] rules this group uses")
    note: str | None = None


class MrdUsed(_Model):
    method: str
    status: str
    value: float | None
    lod: float | None
    loq: float | None
    date: dt.date | None
    timepoint: str | None
    display: str


class TransplantRule(_Model):
    backbone: str
    rule: str
    mrd_threshold: float | None
    mrd_value: float | None = Field(
        description="MRD fraction used (null when negative or none); see ``mrd`` for status, "
                    "LoD/LoQ and the display text (below-LoQ values are never shown as numbers)")
    mrd: MrdUsed | None = None
    decision: Decision
    rule_path: tuple[str, ...]
    sources: tuple[str, ...] = ()
    alternatives: tuple[dict[str, Any], ...] = ()


class Flag(_Model):
    code: str
    message: str
    schemes: tuple[str, ...] = ()
    table_lookup: dict[str, str | None] = Field(default_factory=dict)


class RiskAssessment(_Model):
    """JSON-ready result of :func:`stratify` (``model_dump(mode="json")``)."""

    relapse_number: int | None
    relapse_date: dt.date | None
    months_from_diagnosis: int | None
    months_from_end_of_frontline: int | None
    time_point: TimePoint | None
    cog_time_point: CogTimePoint | None
    site: RiskSite | None
    case_site: str | None
    lineage: RiskLineage
    age_years_at_relapse: float | None
    bfm: SchemeGroup | None
    intreall: SchemeGroup | None
    allr3: SchemeGroup | None
    cog: SchemeGroup | None
    transplant: TransplantRule | None
    flags: tuple[Flag, ...] = ()
    warnings: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    rules: tuple[dict[str, Any], ...] = Field((), description="[R]/[U]/user rules used")
    notice: str = ("Risk groups are proposed from the protocol tables with their rule path; a "
                   "clinician decides. Not a medical device.")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# -- calendar months -------------------------------------------------------------------------

def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months, the day clamped to the end of a shorter month.

    >>> add_months(dt.date(2020, 8, 31), 6)
    datetime.date(2021, 2, 28)
    """
    total = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(total, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return dt.date(year, month0 + 1, min(day.day, last))


def whole_months(start: dt.date, end: dt.date) -> int:
    """Completed calendar months from ``start`` to ``end`` (``end >= start``)."""
    n = (end.year - start.year) * 12 + (end.month - start.month)
    while n > 0 and add_months(start, n) > end:
        n -= 1
    return n


def age_in_range(case: Case, when: dt.date, lo: float, hi: float) -> bool:
    """``lo <= age < hi`` at ``when``, exact to the day when the date of birth is known.

    With a date of birth, the patient is ``n`` years old from the ``n``-th birthday on (a
    29 February birthday falls on 28 February in other years); without one, the age is the
    recorded age at diagnosis plus days / 365.25.
    """
    dob = case.patient.date_of_birth
    if dob is None or float(lo) != int(lo) or float(hi) != int(hi):
        return lo <= case.age_at(when) < hi
    return add_months(dob, 12 * int(lo)) <= when < add_months(dob, 12 * int(hi))


def _before(start: dt.date, event: dt.date, months: int) -> bool:
    """``event`` is less than ``months`` calendar months after ``start``."""
    return event < add_months(start, months)


# -- time points -----------------------------------------------------------------------------

def bfm_time_point(
    diagnosis: dt.date,
    relapse: dt.date,
    end_of_frontline: dt.date | None,
    *,
    rules: Mapping[str, Rule] | None = None,
) -> TimePoint | None:
    """BFM / I-BFM / UK time point, evaluated in order: very early, early, late.

    Returns ``None`` when the relapse is ≥ 18 months after diagnosis and the end of frontline
    therapy is unknown (it is never inferred).
    """
    r = rules or RISK_RULES
    if relapse < diagnosis:
        raise ValidationError(f"relapse date must be on or after diagnosis {diagnosis}, but was {relapse}")
    if _before(diagnosis, relapse, int(r["very_early_months"].value)):
        return "very_early"
    if end_of_frontline is None:
        return None
    if _before(end_of_frontline, relapse, int(r["late_after_frontline_months"].value)):
        return "early"
    return "late"


def risk_site(case_site: str) -> RiskSite:
    """Case relapse site → scheme site: isolated CNS/testis/other EM are isolated extramedullary."""
    if case_site == "isolated_bm":
        return "isolated_bm"
    if case_site == "combined":
        return "combined"
    if case_site in ("isolated_cns", "isolated_testis", "other_em"):
        return "iem"
    raise ValidationError(f"site must be one of isolated_bm, combined, isolated_cns, "
                          f"isolated_testis, other_em, but was {case_site!r}")


def cog_time_point(
    diagnosis: dt.date, relapse: dt.date, site: RiskSite, *, rules: Mapping[str, Rule] | None = None
) -> CogTimePoint:
    """COG timing from diagnosis only: marrow < 36 months early; IEM < 18 months early."""
    r = rules or RISK_RULES
    months = r["cog_iem_early_months"].value if site == "iem" else r["cog_marrow_early_months"].value
    return "early" if _before(diagnosis, relapse, int(months)) else "late"


# -- the tables ----------------------------------------------------------------

_BFM: dict[tuple[str, str, str], str] = {
    # (lineage, site, time point) -> group; ALL-REZ BFM tables (matrix [R], membership [C])
    ("BCP", "iem", "very_early"): "S2", ("BCP", "combined", "very_early"): "S4",
    ("BCP", "isolated_bm", "very_early"): "S4",
    ("BCP", "iem", "early"): "S2", ("BCP", "combined", "early"): "S2",
    ("BCP", "isolated_bm", "early"): "S3",
    ("BCP", "iem", "late"): "S1", ("BCP", "combined", "late"): "S2",
    ("BCP", "isolated_bm", "late"): "S2",
    ("T", "iem", "very_early"): "S2", ("T", "combined", "very_early"): "S4",
    ("T", "isolated_bm", "very_early"): "S4",
    ("T", "iem", "early"): "S2", ("T", "combined", "early"): "S4", ("T", "isolated_bm", "early"): "S4",
    ("T", "iem", "late"): "S1", ("T", "combined", "late"): "S4", ("T", "isolated_bm", "late"): "S4",
}

def _frac(x: float) -> str:
    """An MRD fraction as text: ``0.001 (0.1 %)``."""
    return f"{x:g} ({x * 100:g} %)"


def _bfm_consolidation(group: str, rules: Mapping[str, Rule]) -> str:
    """Consolidation of a BFM group; the S2 threshold is the (overridable) rule value."""
    if group == "S2":
        thr = _frac(float(rules["bfm_mrd_threshold"].value))
        return (f"MRD after induction decides: >= {thr} -> allogeneic HSCT; < {thr} -> continue "
                "chemotherapy")
    return {"S1": "chemotherapy (+ local therapy: cranial RT / orchiectomy or testicular RT as "
                  "applicable)",
            "S3": "allogeneic HSCT in CR2", "S4": "allogeneic HSCT in CR2"}[group]

_TP_WORD = {"very_early": "very early", "early": "early", "late": "late"}
_SITE_WORD = {"iem": "isolated extramedullary", "combined": "combined marrow",
              "isolated_bm": "isolated marrow"}


def _check_key(lineage: str, site: str, time_point: str) -> None:
    if lineage not in ("BCP", "T"):
        raise ValidationError(f"lineage must be one of BCP, T, but was {lineage!r}")
    if site not in ("iem", "combined", "isolated_bm"):
        raise ValidationError(f"site must be one of iem, combined, isolated_bm, but was {site!r}")
    if time_point not in ("very_early", "early", "late"):
        raise ValidationError(f"time_point must be one of very_early, early, late, but was {time_point!r}")


def bfm_group(lineage: RiskLineage, site: RiskSite, time_point: TimePoint,
              *, rules: Mapping[str, Rule] | None = None) -> SchemeGroup:
    """ALL-REZ BFM strategic group S1–S4."""
    _check_key(lineage, site, time_point)
    r = rules or RISK_RULES
    g = _BFM[(lineage, site, time_point)]
    path = (f"lineage {lineage}", f"site {_SITE_WORD[site]}", f"time point {_TP_WORD[time_point]}",
            f"ALL-REZ BFM table ({'T-lineage' if lineage == 'T' else 'BCP'}) -> {g}")
    return SchemeGroup(scheme="ALL-REZ BFM", group=g, rule_path=path,
                       consolidation=_bfm_consolidation(g, r),
                       sources=("S-HungerRaetz", "S-Fuster"), rests_on=("bfm_matrix_cells",))


def intreall_group(
    lineage: RiskLineage, site: RiskSite, time_point: TimePoint,
    *, rules: Mapping[str, Rule] | None = None,
) -> SchemeGroup:
    """IntReALL SR / HR: SR per the confirmed SR list; HR as its complement."""
    _check_key(lineage, site, time_point)
    r = rules or RISK_RULES
    rests: tuple[str, ...] = ()
    if site == "iem":
        if time_point == "very_early":
            g = str(r["intreall_very_early_iem"].value)
            why = "very early isolated EM relapse -> HR (derived: not in the SR list)"
            rests = ("intreall_very_early_iem",)
        else:
            g, why = "SR", f"{_TP_WORD[time_point]} isolated EM relapse (any lineage) -> SR"
    elif lineage == "T":
        g, why = "HR", "T-lineage marrow relapse (isolated or combined), any time -> HR"
    elif time_point == "very_early":
        g, why = "HR", "very early BCP marrow relapse -> HR"
    elif site == "combined":
        g, why = "SR", f"{_TP_WORD[time_point]} combined BCP marrow relapse -> SR"
    elif time_point == "late":
        g, why = "SR", "late isolated BCP marrow relapse -> SR"
    else:
        g, why = "HR", "early isolated BCP marrow relapse -> HR"
    path = (f"lineage {lineage}", f"site {_SITE_WORD[site]}", f"time point {_TP_WORD[time_point]}",
            f"IntReALL: {why}")
    return SchemeGroup(scheme="IntReALL", group=g, rule_path=path,
                       sources=("S-IntReALL-SR", "S-IntReALL-elig"),
                       rests_on=rests if g == "SR" else (*rests, "intreall_hr_complement"),
                       note=None if g == "SR" else "HR is derived as the complement of SR [R]")


def allr3_group(
    lineage: RiskLineage, site: RiskSite, time_point: TimePoint,
    *, rules: Mapping[str, Rule] | None = None,
) -> SchemeGroup:
    """UK ALLR3 SR / IR / HR."""
    _check_key(lineage, site, time_point)
    r = rules or RISK_RULES
    rests: list[str] = ["allr3_same_time_points"]
    if site == "iem":
        g = {"very_early": "HR", "early": "IR", "late": "SR"}[time_point]
        why = f"{_TP_WORD[time_point]} isolated EM relapse -> {g}"
        if lineage == "T":
            if not r["allr3_t_iem_like_bcp"].value:
                return SchemeGroup(scheme="UK ALLR3", group=None, pending="T-lineage IEM placement",
                                   rule_path=("lineage T", "site isolated extramedullary",
                                              "ALLR3 T-lineage IEM placement not stated [U]"),
                                   sources=("S-HungerRaetz", "S-ALLR3"),
                                   rests_on=("allr3_t_iem_like_bcp",))
            why += " (T-lineage IEM placed by the BCP timing rule, assumed)"
            rests.append("allr3_t_iem_like_bcp")
    elif lineage == "T":
        g, why = "HR", "T-ALL marrow or combined relapse, any timing -> HR"
    elif time_point == "very_early":
        g, why = "HR", "BCP very early marrow relapse (isolated or combined) -> HR"
    elif site == "isolated_bm" and time_point == "early":
        g, why = "HR", "BCP early isolated marrow relapse -> HR"
    else:
        g, why = "IR", f"BCP {_TP_WORD[time_point]} {_SITE_WORD[site]} relapse -> IR"
    thr = _frac(float(r["allr3_mrd_threshold"].value))
    consolidation = {"SR": "chemotherapy",
                     "IR": f"MRD after induction decides: >= {thr} -> allo-SCT; < {thr} -> "
                           "chemotherapy",
                     "HR": "allo-SCT for all"}[g]
    path = (f"lineage {lineage}", f"site {_SITE_WORD[site]}", f"time point {_TP_WORD[time_point]}",
            f"UK ALLR3: {why}")
    return SchemeGroup(scheme="UK ALLR3", group=g, rule_path=path, consolidation=consolidation,
                       sources=("S-HungerRaetz", "S-ALLR3"), rests_on=tuple(rests))


def cog_group(
    lineage: RiskLineage,
    site: RiskSite,
    time_point: CogTimePoint,
    eob1_mrd: MrdResult | None = None,
    *,
    rules: Mapping[str, Rule] | None = None,
) -> SchemeGroup:
    """COG AALL1331 LR / IR / HR; T-ALL → HR by the COG general scheme (not AALL1331).

    Late relapses need end-of-block-1 MRD: without it the group is pending (``group=None``,
    ``candidates=("LR", "IR")``).
    """
    if lineage not in ("BCP", "T"):
        raise ValidationError(f"lineage must be one of BCP, T, but was {lineage!r}")
    if site not in ("iem", "combined", "isolated_bm"):
        raise ValidationError(f"site must be one of iem, combined, isolated_bm, but was {site!r}")
    if time_point not in ("early", "late"):
        raise ValidationError(f"time_point must be one of early, late, but was {time_point!r}")
    r = rules or RISK_RULES
    marrow = site != "iem"
    cut = r["cog_iem_early_months"].value if not marrow else r["cog_marrow_early_months"].value
    timing = (f"COG timing from diagnosis: {'marrow' if marrow else 'IEM'} "
              f"{'<' if time_point == 'early' else '>='} {cut} months -> {time_point}")
    rests = () if marrow else ("cog_iem_early_months",)
    if lineage == "T":
        return SchemeGroup(
            scheme="COG (general)", group="HR",
            rule_path=("lineage T", "COG: T-ALL relapse, any site/timing -> HR"),
            sources=("S-HungerRaetz",),
            note="T-ALL was not eligible for AALL1331; group from the general COG scheme")
    if time_point == "early":
        return SchemeGroup(scheme="COG AALL1331", group="HR",
                           rule_path=(f"lineage {lineage}", f"site {_SITE_WORD[site]}", timing,
                                      f"AALL1331: early {'marrow' if marrow else 'IEM'} -> HR"),
                           consolidation="blinatumomab or chemotherapy blocks, then HSCT (AALL1331)",
                           sources=("S-HungerRaetz", "S-Brown"), rests_on=rests)
    thr = float(r["cog_eob1_mrd_threshold"].value)
    base = (f"lineage {lineage}", f"site {_SITE_WORD[site]}", timing)
    if eob1_mrd is None:
        return SchemeGroup(scheme="COG AALL1331", group=None, candidates=("LR", "IR"),
                           pending="end-of-block-1 MRD",
                           rule_path=(*base, f"late relapse: LR if EOB1 MRD < {thr:g}, IR if >= {thr:g}; "
                                             "EOB1 MRD not available"),
                           sources=("S-HungerRaetz", "S-Brown"), rests_on=rests)
    side = compare_to_threshold(eob1_mrd, thr)
    if side is None:
        return SchemeGroup(scheme="COG AALL1331", group=None, candidates=("LR", "IR"),
                           pending="end-of-block-1 MRD with sufficient sensitivity",
                           rule_path=(*base, f"EOB1 MRD {eob1_mrd.display()} cannot be compared "
                                             f"with {thr:g} (sensitivity too low)"),
                           sources=("S-HungerRaetz", "S-Brown"), rests_on=rests)
    g = "IR" if side else "LR"
    return SchemeGroup(scheme="COG AALL1331", group=g,
                       rule_path=(*base, f"EOB1 MRD {eob1_mrd.display()} "
                                         f"{'>=' if side else '<'} {thr:g} -> {g}"),
                       consolidation="HSCT after blocks (IR)" if g == "IR" else "chemotherapy (LR)",
                       sources=("S-HungerRaetz", "S-Brown"), rests_on=rests)


# -- MRD against a threshold -------------------------------------------------------------------

def _mrd_used(m: MrdResult) -> MrdUsed:
    return MrdUsed(method=m.method, status=m.status, value=m.value, lod=m.lod, loq=m.loq,
                   date=m.date, timepoint=m.timepoint, display=m.display())


def _pick_mrd(mrd: Sequence[MrdResult], relapse: Relapse, labels: Sequence[str],
              until: dt.date | None, induction_end: dt.date | None = None) -> MrdResult | None:
    """The earliest marrow MRD after the relapse with one of ``labels``; on a tie the highest.

    Without a labelled value, a marrow MRD dated exactly at the end of the first therapy after
    the relapse whose name contains "induction" is used (``induction_end``; rule
    ``mrd_at_induction_end_date``).
    """
    wanted = {lab.lower() for lab in labels}

    def in_window(m: MrdResult) -> bool:
        return m.date is None or (m.date >= relapse.date and (until is None or m.date < until))

    cands = [m for m in mrd
             if (m.timepoint or "").lower() in wanted
             and m.material in (None, "bone_marrow") and in_window(m)]
    if not cands and induction_end is not None:
        cands = [m for m in mrd if m.date == induction_end and m.material in (None, "bone_marrow")
                 and not m.timepoint and in_window(m)]
    if not cands:
        return None
    first = min(cands, key=lambda m: m.date or dt.date.max)
    same = [m for m in cands if m.date == first.date]

    def level(m: MrdResult) -> float:
        return -1.0 if m.status == "negative" else (m.value if m.value is not None else (m.loq or 0.0))

    return max(same, key=level)


def _transplant(backbone: str, bfm: SchemeGroup | None, allr3: SchemeGroup | None,
                site: RiskSite, time_point: TimePoint, lineage: RiskLineage,
                mrd: Sequence[MrdResult], relapse: Relapse, until: dt.date | None,
                r: Mapping[str, Rule], induction_end: dt.date | None = None) -> TransplantRule | None:
    if backbone == "bfm":
        if bfm is None or bfm.group is None:
            return None
        g = bfm.group
        thr = float(r["bfm_mrd_threshold"].value)
        labels = r["bfm_mrd_timepoints"].value
        name = "ALL-REZ BFM / IntReALL SR arm A"
        srcs: tuple[str, ...] = ("S-IntReALL-SR", "S-Eckert")
        if g == "S1":
            return TransplantRule(backbone=name, rule="S1: chemotherapy + local therapy; no MRD rule",
                                  mrd_threshold=None, mrd_value=None, decision="not_indicated",
                                  rule_path=(f"BFM {g}", "S1 -> chemotherapy [R]"), sources=srcs)
        if g in ("S3", "S4"):
            return TransplantRule(backbone=name, rule=f"{g}: allogeneic HSCT in CR2 for all",
                                  mrd_threshold=None, mrd_value=None, decision="indicated",
                                  rule_path=(f"BFM {g}", f"{g} -> allogeneic HSCT [R]; "
                                             "pre-HSCT MRD is prognostic, not a stratifier"),
                                  sources=srcs)
        if site == "iem" and time_point == "very_early" and r["intreall_very_early_iem"].value == "HR":
            return TransplantRule(
                backbone=name,
                rule="IntReALL HR: very early isolated extramedullary relapse -> allogeneic HSCT",
                mrd_threshold=None, mrd_value=None, decision="indicated",
                rule_path=(f"BFM {g}", "very early isolated extramedullary relapse",
                           "not IntReALL SR (SR takes late and early IEM only [C]) -> "
                           "IntReALL HR (derived, [U]: rule intreall_very_early_iem) -> allogeneic "
                           "HSCT as for HR; consistent with UK ALLR3 HR (allo-SCT for all)"),
                sources=("S-IntReALL-SR", "S-HungerRaetz"))
        if r["intreall_early_s2_hsct"].value and time_point == "early" and site in ("combined", "iem"):
            return TransplantRule(
                backbone=name, rule="IntReALL SR 2010: early combined BM or early IEM relapse -> HSCT",
                mrd_threshold=None, mrd_value=None, decision="indicated",
                rule_path=(f"BFM {g}", f"early {_SITE_WORD[site]} relapse",
                           "IntReALL SR 2010 allocation: allogeneic HSCT [C]"),
                sources=("S-IntReALL-SR",))
        path0: tuple[str, ...] = (f"BFM {g}", f"S2 MRD rule: MRD after induction >= {thr:g} -> HSCT")
    elif backbone == "allr3":
        if allr3 is None or allr3.group is None:
            return None
        g = allr3.group
        thr = float(r["allr3_mrd_threshold"].value)
        labels = r["allr3_mrd_timepoints"].value
        name = "UK ALLR3 / IntReALL SR arm B"
        srcs = ("S-ALLR3", "S-IntReALL-SR")
        if g == "SR":
            return TransplantRule(backbone=name, rule="ALLR3 SR: chemotherapy", mrd_threshold=None,
                                  mrd_value=None, decision="not_indicated",
                                  rule_path=("ALLR3 SR", "SR -> chemotherapy"), sources=srcs)
        if g == "HR":
            return TransplantRule(backbone=name, rule="ALLR3 HR: allo-SCT for all", mrd_threshold=None,
                                  mrd_value=None, decision="indicated",
                                  rule_path=("ALLR3 HR", "HR -> allo-SCT"), sources=srcs)
        path0 = ("ALLR3 IR", f"IR MRD rule: MRD after induction >= {thr:g} -> allo-SCT")
    else:
        raise ValidationError(f"transplant_backbone must be one of bfm, allr3, but was {backbone!r}")
    rule_text = f"{name}: MRD after induction >= {thr:g} -> allogeneic HSCT; below -> chemotherapy"
    m = _pick_mrd(mrd, relapse, labels, until, induction_end)
    if m is None:
        return TransplantRule(backbone=name, rule=rule_text, mrd_threshold=thr, mrd_value=None,
                              decision="pending_mrd",
                              rule_path=(*path0, f"no marrow MRD labelled {', '.join(labels)} "
                                                 "after this relapse"),
                              sources=srcs)
    side = compare_to_threshold(m, thr)
    if side is None:
        return TransplantRule(backbone=name, rule=rule_text, mrd_threshold=thr, mrd_value=m.value, mrd=_mrd_used(m),
                              decision="pending_mrd",
                              rule_path=(*path0, f"MRD {m.display()} ({m.method}, {m.date}) cannot "
                                                 f"be compared with {thr:g}: sensitivity too low"),
                              sources=srcs)
    return TransplantRule(backbone=name, rule=rule_text, mrd_threshold=thr, mrd_value=m.value, mrd=_mrd_used(m),
                          decision="indicated" if side else "not_indicated",
                          rule_path=(*path0, f"MRD {m.display()} ({m.method}, {m.date}) "
                                             f"{'>=' if side else '<'} {thr:g} -> "
                                             f"{'HSCT' if side else 'chemotherapy'}"),
                          sources=srcs)


# -- the case-level entry point ---------------------------------------------------------------

def is_ph_positive(case: Case, vocabulary: Vocabulary) -> bool:
    """Any diagnosis or relapse lesion in the ``ph_positive`` class (BCR::ABL1 and synonyms)."""
    lesions = [*case.diagnosis.lesions, *(les for r in case.relapses for les in r.lesions)]
    for les in lesions:
        try:
            if "ph_positive" in vocabulary.normalise(les.name, kind=les.kind).classes:
                return True
        except UnknownLesionError:  # unknown names are reported by the options engine
            continue
    return False


def _no_relapse(lineage: RiskLineage) -> RiskAssessment:
    """The assessment of a case without a relapse: every scheme empty, one flag."""
    return RiskAssessment(
        relapse_number=None, relapse_date=None, months_from_diagnosis=None,
        months_from_end_of_frontline=None, time_point=None, cog_time_point=None, site=None,
        case_site=None, lineage=lineage, age_years_at_relapse=None, bfm=None, intreall=None,
        allr3=None, cog=None, transplant=None,
        flags=(Flag(code="no_relapse", message="the case records no relapse; the relapse "
                                               "schemes do not apply"),),
    )


def _select_relapse(case: Case, relapse_number: int | None) -> Relapse:
    """The relapse to classify: the first recorded one, or the one numbered ``relapse_number``."""
    rel = case.relapses[0] if relapse_number is None else next(
        (x for x in case.relapses if x.number == relapse_number), None)
    if rel is None:
        raise ValidationError(f"relapse_number must be one of {[x.number for x in case.relapses]}, "
                              f"but was {relapse_number!r}")
    return rel


def _site_warnings(rel: Relapse, site: RiskSite) -> list[str]:
    """Blast counts and CNS status checked against the site definitions [C]."""
    warnings: list[str] = []
    b = rel.marrow_blasts_percent
    if b is not None:
        if rel.site == "isolated_bm" and b < 25:
            warnings.append(f"isolated marrow relapse with {b:g} % blasts: the definition needs >= 25 % "
                            "(M3) or blood blasts; < 25 % needs MRD confirmation (Buchmann S et al. Blood 2022;139:1785)")
        if rel.site == "combined" and b < 5:
            warnings.append(f"combined relapse with {b:g} % marrow blasts: the definition needs >= 5 %")
        if site == "iem" and b >= 5:
            warnings.append(f"isolated extramedullary relapse with {b:g} % marrow blasts: the "
                            "definition needs < 5 % (M1); check the site")
    cns = rel.cns_status
    if rel.site in ("isolated_bm", "isolated_testis") and cns in ("CNS2", "CNS3"):
        warnings.append(f"site {rel.site.replace('_', ' ')} with {cns}: CNS involvement makes it a "
                        "combined relapse (site definitions, Fuster 2014 Table 2); the groups "
                        "below use the recorded site - check it")
    if rel.site == "isolated_cns" and cns == "CNS1":
        warnings.append("site isolated CNS with CNS1 recorded: the site and the CNS status "
                        "disagree - check them")
    return warnings


def _missing_frontline_end_flag() -> Flag:
    return Flag(code="missing_frontline_end_date",
                message="relapse >= 18 months after diagnosis but the end of frontline "
                        "therapy is not given (never inferred): early vs late is unknown; "
                        "groups are given only where early and late agree",
                schemes=("ALL-REZ BFM", "IntReALL", "UK ALLR3"))


def _table_lookup(fn: Any, lineage: RiskLineage, site: RiskSite, tp: TimePoint | None,
                  r: Mapping[str, Rule]) -> SchemeGroup | None:
    """One BFM-timed scheme's group; with an unknown time point, only where early and late agree."""
    tps: list[TimePoint] = [tp] if tp is not None else ["early", "late"]
    groups = [fn(lineage, site, t, rules=r) for t in tps]
    if len({g.group for g in groups}) == 1:
        g0: SchemeGroup = groups[0]
        if tp is None:
            return g0.model_copy(update={"rule_path": (*g0.rule_path[:2],
                                                        "time point early or late (unknown): both give "
                                                        f"{g0.group}", g0.rule_path[-1])})
        return g0
    return None


def _mrd_window_end(case: Case, rel: Relapse) -> dt.date | None:
    """Date of the first HSCT after the relapse: MRD after a later HSCT does not decide."""
    return next((t.date for t in sorted(case.transplants, key=lambda t: t.date)
                 if t.date > rel.date), None)


def _induction_end(case: Case, rel: Relapse, r: Mapping[str, Rule]) -> dt.date | None:
    """End of the first 'induction' therapy after the relapse (rule ``mrd_at_induction_end_date``)."""
    if not r["mrd_at_induction_end_date"].value:
        return None
    ind = sorted((t for t in case.therapies if t.start >= rel.date and t.end is not None
                  and "induction" in t.name.lower()), key=lambda t: t.start)
    return ind[0].end if ind else None


def _cog_assessment(
    lineage: RiskLineage, site: RiskSite, ctp: CogTimePoint, mrd: Sequence[MrdResult],
    rel: Relapse, until: dt.date | None, induction_end: dt.date | None, r: Mapping[str, Rule],
) -> tuple[SchemeGroup, set[str]]:
    """The COG group, with end-of-block-1 MRD picked from the case; and the rule names used."""
    used: set[str] = set()
    eob1 = _pick_mrd(mrd, rel, r["cog_eob1_timepoints"].value, until, induction_end)
    cog = cog_group(lineage, site, ctp, eob1, rules=r)
    if eob1 is not None and ctp == "late" and lineage == "BCP":
        used.add("cog_eob1_timepoints")
        if not eob1.timepoint:
            used.add("mrd_at_induction_end_date")
    return cog, used


_ALL_SCHEMES = ("ALL-REZ BFM", "IntReALL", "UK ALLR3", "COG AALL1331")


def _scheme_flags(case: Case, rel: Relapse, lineage: RiskLineage, age: float,
                  table: dict[str, str | None], r: Mapping[str, Rule], vocabulary: Vocabulary,
                  ) -> tuple[list[Flag], set[str], set[str]]:
    """Out-of-scheme cases: flag, do not force a group.

    Returns the flags, the scheme keys excluded and the rule names used.
    """
    flags: list[Flag] = []
    excluded: set[str] = set()
    used: set[str] = set()
    prior_hsct = [t for t in case.transplants if t.date < rel.date]
    if prior_hsct:
        flags.append(Flag(code="relapse_after_hsct",
                          message=f"relapse after allogeneic HSCT ({prior_hsct[0].date}): outside the "
                                  "first-relapse schemes (excluded from IntReALL SR and AALL1331); "
                                  "flagged, not classified",
                          schemes=_ALL_SCHEMES, table_lookup=table))
        excluded |= {"bfm", "intreall", "allr3", "cog"}
    if rel.number > 1 or len(case.relapses) > 1:
        later = max(x.number for x in case.relapses)
        flags.append(Flag(code="second_relapse",
                          message=f"the case records relapse {later}: the schemes stratify a first "
                                  "relapse only; the first-relapse groups are shown in table_lookup "
                                  "and do not stratify the later relapse",
                          schemes=_ALL_SCHEMES, table_lookup=table))
        excluded |= {"bfm", "intreall", "allr3", "cog"}
    if is_ph_positive(case, vocabulary):
        flags.append(Flag(code="ph_positive",
                          message="BCR::ABL1 (Ph+) ALL: excluded from IntReALL and AALL1331; Ph+ "
                                  "relapse is treated outside these schemes (TKI-based); flagged, "
                                  "not classified",
                          schemes=_ALL_SCHEMES, table_lookup=table))
        excluded |= {"bfm", "intreall", "allr3", "cog"}
    for key, rule_name, scheme in (("intreall", "intreall_age_years", "IntReALL"),
                                   ("allr3", "allr3_age_years", "UK ALLR3"),
                                   ("cog", "cog_age_years", "COG AALL1331")):
        lo, hi = r[rule_name].value
        if not age_in_range(case, rel.date, lo, hi):
            flags.append(Flag(code="age_outside_scheme",
                              message=f"age {age:g} y at relapse is outside {scheme} "
                                      f"({lo}-{hi - 1} y)",
                              schemes=(scheme,), table_lookup={key: table[key]}))
            excluded.add(key)
            used.add(rule_name)
    if lineage == "T":
        flags.append(Flag(code="t_all_not_aall1331",
                          message="T-ALL was not eligible for AALL1331; the COG group is from the "
                                  "general COG scheme", schemes=("COG AALL1331",)))
    if any(t.kind == "bispecific" and "blinatumomab" in t.name.lower() and t.start < rel.date
           for t in case.therapies) and lineage == "BCP":
        flags.append(Flag(code="prior_blinatumomab",
                          message="blinatumomab before this relapse: excluded from AALL1331",
                          schemes=("COG AALL1331",), table_lookup={"cog": table["cog"]}))
        excluded.add("cog")
    return flags, excluded, used


def _transplant_decision(
    r: Mapping[str, Rule], bfm: SchemeGroup | None, allr3: SchemeGroup | None, site: RiskSite,
    tp: TimePoint | None, lineage: RiskLineage, mrd: Sequence[MrdResult], rel: Relapse,
    until: dt.date | None, induction_end: dt.date | None,
) -> tuple[TransplantRule | None, set[str]]:
    """The transplant rule of the chosen backbone, with the other backbone as an alternative.

    Returns the rule and the rule names it used.
    """
    used: set[str] = set()
    backbone = str(r["transplant_backbone"].value)
    transplant = None
    if tp is not None:
        transplant = _transplant(backbone, bfm, allr3, site, tp, lineage, mrd, rel, until, r,
                                 induction_end)
        other = "allr3" if backbone == "bfm" else "bfm"
        alt = _transplant(other, bfm, allr3, site, tp, lineage, mrd, rel, until, r, induction_end)
        if transplant is not None and alt is not None:
            transplant = transplant.model_copy(update={"alternatives": (
                {"backbone": alt.backbone, "rule": alt.rule, "mrd_threshold": alt.mrd_threshold,
                 "decision": alt.decision, "rule_path": list(alt.rule_path)},)})
        if transplant is not None and transplant.mrd is not None:
            used.add("bfm_mrd_timepoints" if backbone == "bfm" else "allr3_mrd_timepoints")
            if transplant.mrd is not None and not transplant.mrd.timepoint:
                used.add("mrd_at_induction_end_date")
    elif bfm is not None and bfm.group in ("S3", "S4"):
        transplant = _transplant(backbone, bfm, allr3, site, "early", lineage, mrd, rel, until, r)
    if transplant is not None and "IntReALL SR 2010" in transplant.rule:
        used.add("intreall_early_s2_hsct")
    if transplant is not None and transplant.rule.startswith("IntReALL HR: very early"):
        used.add("intreall_very_early_iem")
    return transplant, used


def stratify(
    case: Case,
    mrd: Sequence[MrdResult] = (),
    *,
    rules: Mapping[str, Any] | None = None,
    relapse_number: int | None = None,
    vocabulary: Vocabulary | None = None,
) -> RiskAssessment:
    """Risk groups of the case's first relapse and the transplant rule that applies.

    Parameters
    ----------
    case : the patient.
    mrd : the case's MRD values (computed and reported); the transplant rule uses marrow MRD
        after the relapse whose ``timepoint`` names the decision point (rules
        ``bfm_mrd_timepoints`` / ``allr3_mrd_timepoints``; COG: ``cog_eob1_timepoints``).
    rules : overrides by rule name (see :data:`RISK_RULES`).
    relapse_number : which relapse to classify (default: the first one recorded; the schemes
        are for a first relapse, a later one is flagged).
    vocabulary : the loaded lesion vocabulary (reads Ph status); default: the bundled one,
        loaded by :mod:`remission.knowledge`.
    """
    if vocabulary is None:
        vocabulary = default_vocabulary()
    r = resolve(RISK_RULES, rules)
    lineage: RiskLineage = "BCP" if case.diagnosis.lineage == "B" else "T"
    if not case.relapses:
        return _no_relapse(lineage)
    rel = _select_relapse(case, relapse_number)
    dx = case.diagnosis.date
    end = case.frontline.end_date
    site = risk_site(rel.site)
    tp = bfm_time_point(dx, rel.date, end, rules=r)
    ctp = cog_time_point(dx, rel.date, site, rules=r)
    age = round(case.age_at(rel.date), 2)
    warnings = _site_warnings(rel, site)
    flags: list[Flag] = [] if tp is not None else [_missing_frontline_end_flag()]

    # lookups (the time point may be unknown: then use only cells that agree across candidates)
    bfm = _table_lookup(bfm_group, lineage, site, tp, r)
    intreall = _table_lookup(intreall_group, lineage, site, tp, r)
    allr3 = _table_lookup(allr3_group, lineage, site, tp, r)
    until = _mrd_window_end(case, rel)
    induction_end = _induction_end(case, rel, r)
    cog, used = _cog_assessment(lineage, site, ctp, mrd, rel, until, induction_end, r)

    table = {"bfm": bfm.group if bfm else None, "intreall": intreall.group if intreall else None,
             "allr3": allr3.group if allr3 else None, "cog": cog.group}
    scheme_flags, excluded, flag_rules = _scheme_flags(case, rel, lineage, age, table, r, vocabulary)
    flags.extend(scheme_flags)
    used |= flag_rules

    bfm = None if "bfm" in excluded else bfm
    intreall = None if "intreall" in excluded else intreall
    allr3 = None if "allr3" in excluded else allr3
    cog_out = None if "cog" in excluded else cog

    transplant, transplant_rules = _transplant_decision(r, bfm, allr3, site, tp, lineage, mrd, rel,
                                                        until, induction_end)
    used |= transplant_rules
    for g in (bfm, intreall, allr3, cog_out):
        if g is not None:
            used.update(g.rests_on)
    used.update(n for n, rule in r.items() if rule.tag == "user")  # every override is listed
    sources = sorted({s for g in (bfm, intreall, allr3, cog_out) if g for s in g.sources}
                     | set(transplant.sources if transplant else ()))
    return RiskAssessment(
        relapse_number=rel.number, relapse_date=rel.date,
        months_from_diagnosis=whole_months(dx, rel.date),
        months_from_end_of_frontline=whole_months(end, rel.date) if end and rel.date >= end else None,
        time_point=tp, cog_time_point=ctp, site=site, case_site=rel.site, lineage=lineage,
        age_years_at_relapse=age, bfm=bfm, intreall=intreall, allr3=allr3, cog=cog_out,
        transplant=transplant, flags=tuple(flags), warnings=tuple(warnings),
        sources=tuple(f"[{k}] {SOURCES[k]}" for k in sources if k in SOURCES),
        rules=tuple(rests_on(r[n] for n in sorted(used) if n in r)),
    )
