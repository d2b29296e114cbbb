"""CAR-T toxicity grading: CRS and ICANS by ASTCT 2019, CRS by Penn, Lee 2014 and CTCAE v5.

Sources:

* ASTCT consensus CRS grading — Lee DW, Santomasso BD et al., *Biol Blood Marrow Transplant*
  2019;25:625-638, CRS table and footnotes [C].
* ASTCT ICANS grading (same paper) with the ICE score (age >= 12 y) and with the Cornell
  Assessment of Pediatric Delirium (CAPD; Traube C et al., *Crit Care Med* 2014;42:656) for
  children < 12 y [C]; the age boundary itself is [U] (ASTCT "< 12" vs the NCI Thesaurus
  "12 and under") and a rule (``capd_age_below_years``).
* Penn (Porter D et al., *J Hematol Oncol* 2018;11:35) and Lee 2014 (Lee DW et al., *Blood*
  2014;124:188) [C]; NCI CTCAE v5.0 "Cytokine release syndrome" [R].
* Cross-walk between scales: a derived reading, not a published mapping [R]; only 25 % of
  patients received the same grade across systems (Pennisi M et al., *Blood Adv* 2020;4:676).
  Every grade keeps its native scale; rates are never converted between scales.

Every grade names the feature(s) that drove it (``driver``) and the grade each feature alone
would give (``features``). Where the inputs cannot decide between two grades of a legacy
scale (e.g. Lee 2014 needs the FiO₂), the grade is ``None`` and ``grade_range`` gives the
bounds.

The pure functions grade one :class:`~remission.domain.cart.Assessment`;
:func:`grade_course` grades a whole course (fever masking, maximum grades, onset, duration).
:class:`ToxicityGrader` is the thin fit-style wrapper.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from remission.domain.cart import CONSCIOUSNESS, EDEMA, MOTOR, OXYGEN, SEIZURE, Assessment
from remission.domain.parameters import Rule, resolve, rests_on, rule_set
from remission.errors import ValidationError

__all__ = [
    "CRS_SCALES",
    "TOXICITY_RULES",
    "AssessmentGrades",
    "Grade",
    "ToxicityCourse",
    "ToxicityGrader",
    "crs_astct",
    "crs_ctcae5",
    "crs_lee2014",
    "crs_penn",
    "grade_assessment",
    "grade_course",
    "icans_astct",
]

Syndrome = Literal["CRS", "ICANS"]
Scale = Literal["ASTCT", "Penn", "Lee2014", "CTCAE5"]
CRS_SCALES: tuple[Scale, ...] = ("ASTCT", "Penn", "Lee2014", "CTCAE5")

_ASTCT = "Lee DW et al., Biol Blood Marrow Transplant 2019;25:625-638 (ASTCT consensus)"
_LEE2014 = "Lee DW et al., Blood 2014;124:188"
_CTCAE5 = "NCI CTCAE v5.0, 'Cytokine release syndrome' (recalled, table not re-read)"

TOXICITY_RULES: dict[str, Rule] = rule_set(
    Rule("fever_threshold_c", 38.0, "C", f"{_ASTCT}, CRS table, fever row",
         "temperature (°C) at or above which fever is present"),
    Rule("low_flow_max_l_min", 6.0, "C", f"{_ASTCT}, CRS table footnote on low-flow oxygen",
         "oxygen flow (L/min) up to which nasal cannula counts as low-flow; above is high-flow"),
    Rule("fever_mask_requires_prior_crs", True, "C", f"{_ASTCT}, CRS table footnote on fever",
         "antipyretic/anti-cytokine therapy replaces fever only in patients who already had CRS"),
    Rule("capd_age_below_years", 12.0, "U",
         f"{_ASTCT}: ICE from age 12, vs NCI Thesaurus C188936: CAPD '12 and under'",
         "patients younger than this are assessed with the CAPD instead of the ICE score"),
    Rule("capd_positive_min", 9, "C",
         "Traube C et al., Crit Care Med 2014;42:656 (CAPD >= 9 positive screen), as used by "
         "ASTCT 2019",
         "CAPD score from which the CAPD domain gives ICANS grade 3"),
    Rule("lee2014_fio2_threshold", 0.40, "C", f"{_LEE2014}, CRS grading table",
         "FiO2 from which oxygen need is Lee 2014 grade 3 (below: grade 2)"),
    Rule("lee2014_high_dose_vasopressor", "Lee 2014 table, each for >= 3 h (adult doses)", "R",
         f"{_LEE2014}, high-dose vasopressor table (recalled, no primary source checked)",
         "what the vasopressor_high_dose input means for the Lee 2014 and Penn scales"),
    Rule("ctcae5_crs_definition", "CTCAE v5.0 CRS as recalled", "R", _CTCAE5,
         "CTCAE v5.0 CRS grade definitions (table not re-read); >= 2 pressors or invasive "
         "ventilation read as grade 4 ('life-threatening; urgent intervention')"),
    Rule("ctcae5_fio2_threshold", 0.40, "R", _CTCAE5,
         "FiO2 from which hypoxia is CTCAE v5 grade 3"),
    Rule("crs_grade5_death", True, "R", f"{_ASTCT}, grade 5 (recalled, no primary source checked)",
         "death attributed to CRS is CRS grade 5"),
    Rule("crosswalk", "derived reading of the scale definitions", "R",
         "derived from the ASTCT 2019, Penn 2018 and Lee 2014 definitions; no published mapping "
         "(Pennisi M et al., Blood Adv 2020;4:676)",
         "Penn/Lee/CTCAE grades are a derived reading; never convert trial rates between scales"),
)

#: the rules each scale rests on (for ``rests_on``)
_SCALE_RULES: dict[str, tuple[str, ...]] = {
    "ASTCT": ("fever_threshold_c", "low_flow_max_l_min", "fever_mask_requires_prior_crs",
              "crs_grade5_death"),
    "ICANS": ("capd_age_below_years", "capd_positive_min"),
    "Penn": ("lee2014_high_dose_vasopressor", "crosswalk"),
    "Lee2014": ("lee2014_fio2_threshold", "lee2014_high_dose_vasopressor", "crosswalk"),
    "CTCAE5": ("ctcae5_crs_definition", "ctcae5_fio2_threshold", "crosswalk"),
}


@dataclass(frozen=True)
class Grade:
    """One grade on one scale, with the features behind it.

    ``grade`` is ``None`` when the inputs allow more than one grade (see ``grade_range``).
    ``features`` maps each feature to the ``(low, high)`` grade it alone gives.
    """

    syndrome: Syndrome
    scale: Scale
    grade: int | None
    grade_range: tuple[int, int]
    driver: str
    features: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "syndrome": self.syndrome,
            "scale": self.scale,
            "grade": self.grade,
            "grade_range": list(self.grade_range),
            "driver": self.driver,
            "features": {k: list(v) for k, v in self.features.items()},
            "notes": list(self.notes),
        }


def _combine(syndrome: Syndrome, scale: Scale, feats: dict[str, tuple[int, int, str]],
             notes: list[str], none_text: str) -> Grade:
    """Most severe feature decides: grade range = (max of lows, max of highs)."""
    lo = max((v[0] for v in feats.values()), default=0)
    hi = max((v[1] for v in feats.values()), default=0)
    hi = max(hi, lo)
    if hi == 0:
        driver = none_text
    else:
        top = [v[2] for v in feats.values() if v[1] == hi and v[1] > 0]
        if lo < hi:
            top_lo = [v[2] for v in feats.values() if v[0] == lo and lo > 0 and v[2] not in top]
            top = top + top_lo
        driver = "; ".join(top)
    return Grade(syndrome=syndrome, scale=scale, grade=lo if lo == hi else None,
                 grade_range=(lo, hi), driver=driver,
                 features={k: (v[0], v[1]) for k, v in feats.items()}, notes=tuple(notes))


def _rules(rules: Mapping[str, Rule] | None) -> Mapping[str, Rule]:
    return TOXICITY_RULES if rules is None else rules


def _check(a: Assessment) -> None:
    """Engine-side checks (the reader checks the same with file/line context)."""
    if a.temperature_c is not None and not (math.isfinite(a.temperature_c) and 25 <= a.temperature_c <= 45):
        raise ValidationError(f"temperature_c must be a body temperature in 25-45 °C, but was {a.temperature_c!r}")
    if a.oxygen not in OXYGEN:
        raise ValidationError(f"oxygen must be one of {', '.join(OXYGEN)}, but was {a.oxygen!r}")
    if a.oxygen == "none" and a.oxygen_l_min not in (None, 0, 0.0):
        raise ValidationError(f"oxygen_l_min must be empty or 0 when oxygen is 'none', but was {a.oxygen_l_min!r}")
    if a.vasopressors < 0:
        raise ValidationError(f"vasopressors must be a count >= 0, but was {a.vasopressors!r}")
    if (a.vasopressors > 0 or a.vasopressin) and not a.hypotension:
        raise ValidationError("hypotension must be true when vasopressors or vasopressin are given, but was False")
    if a.vasopressor_high_dose and a.vasopressors == 0 and not a.vasopressin:
        raise ValidationError("vasopressor_high_dose must be false when no vasopressor is given, but was True")
    for name, allowed in (("consciousness", CONSCIOUSNESS), ("seizure", SEIZURE), ("motor", MOTOR),
                          ("cerebral_edema", EDEMA)):
        v = getattr(a, name)
        if v is not None and v not in allowed:
            raise ValidationError(f"{name} must be one of {', '.join(allowed)}, but was {v!r}")
    if a.ice_score is not None and a.capd_score is not None:
        raise ValidationError("ice_score and capd_score must not both be given, but both were")
    if a.ice_score is not None and not 0 <= a.ice_score <= 10:
        raise ValidationError(f"ice_score must be an integer 0-10, but was {a.ice_score!r}")
    if a.capd_score is not None and not 0 <= a.capd_score <= 32:
        raise ValidationError(f"capd_score must be an integer 0-32, but was {a.capd_score!r}")


# --------------------------------------------------------------------------------------- CRS --

def _fever(a: Assessment, fever_masked: bool | None, r: Mapping[str, Rule]) -> tuple[bool, str]:
    """(CRS gate open, why). Fever >= 38 °C, or fever masked by antipyretic/anti-cytokine
    therapy (ASTCT footnote *)."""
    thr = float(r["fever_threshold_c"].value)
    masked = (a.antipyretic or a.anti_cytokine) if fever_masked is None else fever_masked
    if a.temperature_c is not None and a.temperature_c >= thr:
        return True, f"fever {a.temperature_c:g} °C (>= {thr:g} °C)"
    if masked:
        what = " and ".join(x for x, on in (("antipyretic", a.antipyretic),
                                              ("anti-cytokine therapy", a.anti_cytokine)) if on)
        return True, f"fever masked by {what or 'therapy'} after CRS (fever no longer required)"
    return False, ""


def _hypotension_astct(a: Assessment) -> tuple[int, str]:
    if not a.hypotension:
        return 0, ""
    if a.vasopressors >= 2:
        return 4, f"hypotension requiring {a.vasopressors} vasopressors (excluding vasopressin)"
    if a.vasopressors == 1 or a.vasopressin:
        extra = " with vasopressin" if a.vasopressin and a.vasopressors == 1 else ""
        what = "vasopressin as the only vasopressor" if a.vasopressors == 0 else f"1 vasopressor{extra}"
        return 3, f"hypotension requiring {what}"
    return 2, "hypotension not requiring vasopressors"


def _oxygen_kind(a: Assessment, r: Mapping[str, Rule]) -> tuple[str, str]:
    """Effective oxygen mode; nasal cannula above the low-flow limit counts as high-flow."""
    limit = float(r["low_flow_max_l_min"].value)
    if a.oxygen == "low_flow" and a.oxygen_l_min is not None and a.oxygen_l_min > limit:
        return "high_flow", f"oxygen {a.oxygen_l_min:g} L/min (> {limit:g} L/min counts as high-flow)"
    flow = f" {a.oxygen_l_min:g} L/min" if a.oxygen_l_min else ""
    label = {"low_flow": "low-flow oxygen", "high_flow": "high-flow oxygen",
             "positive_pressure": "positive-pressure ventilation", "none": ""}[a.oxygen]
    return a.oxygen, f"{label}{flow}" if label else ""


def crs_astct(a: Assessment, *, fever_masked: bool | None = None,
              rules: Mapping[str, Rule] | None = None) -> Grade:
    """ASTCT 2019 CRS grade of one assessment (Lee DW et al., BBMT 2019;25:625, [C]).

    ``grade = 0`` without fever (unless ``fever_masked``); else ``max(1, hypotension, hypoxia)``.
    Organ toxicities never change the ASTCT grade. ``fever_masked=None`` reads the masking from
    the assessment's ``antipyretic``/``anti_cytokine`` flags.
    """
    _check(a)
    r = _rules(rules)
    notes: list[str] = []
    if a.death_attributed_to == "crs" and r["crs_grade5_death"].value:
        return Grade("CRS", "ASTCT", 5, (5, 5), "death due to CRS", {"death": (5, 5)})
    gate, why = _fever(a, fever_masked, r)
    if not gate:
        if a.hypotension or a.oxygen != "none":
            notes.append("hypotension/hypoxia without fever (and no masking therapy) is not graded as CRS")
        return Grade("CRS", "ASTCT", 0, (0, 0), "no fever: no CRS", {}, tuple(notes))
    feats: dict[str, tuple[int, int, str]] = {"fever": (1, 1, why)}
    hg, htext = _hypotension_astct(a)
    if hg:
        feats["hypotension"] = (hg, hg, htext)
    kind, otext = _oxygen_kind(a, r)
    og = {"none": 0, "low_flow": 2, "high_flow": 3, "positive_pressure": 4}[kind]
    if og:
        feats["hypoxia"] = (og, og, otext)
    if any(g is not None and g > 0 for g in (a.creatinine_grade, a.transaminase_grade, a.organ_toxicity_grade)):
        notes.append("organ toxicities are graded by CTCAE v5.0 and do not change the ASTCT CRS grade")
    return _combine("CRS", "ASTCT", feats, notes, "no CRS")


def _positive_pressure(a: Assessment, invasive: int, noninvasive: tuple[int, int],
                       label: str) -> tuple[int, int, str]:
    if a.mechanical_ventilation:
        return invasive, invasive, "invasive mechanical ventilation"
    if a.mechanical_ventilation is False:
        return noninvasive[0], noninvasive[1], "non-invasive positive pressure (CPAP/BiPAP)"
    lo = min(noninvasive[0], invasive)
    return lo, invasive, f"positive pressure, {label}: mechanical_ventilation not given"


def crs_penn(a: Assessment, *, fever_masked: bool | None = None,
             rules: Mapping[str, Rule] | None = None) -> Grade:
    """Penn (UPenn/CHOP) CRS grade, as far as inputs allow (Porter D et al., J Hematol Oncol 2018).

    Grade 2: hospitalisation for CRS, grade 2 creatinine or grade 3 transaminases; grade 3:
    hypotension on fluids or low-dose vasopressors, any supplemental oxygen incl. CPAP/BiPAP,
    grade 3 creatinine or grade 4 transaminases; grade 4: high-dose vasopressors or mechanical
    ventilation. Not graded without CRS (same fever gate as ASTCT).
    """
    _check(a)
    r = _rules(rules)
    if a.death_attributed_to == "crs":
        return Grade("CRS", "Penn", 5, (5, 5), "death due to CRS", {"death": (5, 5)})
    gate, why = _fever(a, fever_masked, r)
    if not gate:
        return Grade("CRS", "Penn", 0, (0, 0), "no fever: no CRS")
    notes: list[str] = []
    feats: dict[str, tuple[int, int, str]] = {"fever": (1, 1, f"mild reaction: {why}")}
    if a.hospitalized:
        feats["hospitalisation"] = (2, 2, "hospitalisation for CRS symptoms")
    elif a.hospitalized is None:
        notes.append("hospitalized not given: Penn grade 2 by hospitalisation not assessed")
    if a.creatinine_grade is not None and a.creatinine_grade >= 2:
        g = 3 if a.creatinine_grade >= 3 else 2
        feats["creatinine"] = (g, g, f"grade {a.creatinine_grade} creatinine")
    if a.transaminase_grade is not None and a.transaminase_grade >= 3:
        g = 3 if a.transaminase_grade >= 4 else 2
        feats["transaminases"] = (g, g, f"grade {a.transaminase_grade} transaminases")
    if a.hypotension:
        n = a.vasopressors + int(a.vasopressin)
        if n == 0:
            feats["hypotension"] = (3, 3, "hypotension treated with IV fluids")
        elif a.vasopressor_high_dose:
            feats["hypotension"] = (4, 4, "hypotension requiring high-dose vasopressors")
        else:
            feats["hypotension"] = (3, 3, "hypotension on low-dose vasopressors")
    if a.oxygen in ("low_flow", "high_flow"):
        feats["hypoxia"] = (3, 3, "hypoxia requiring supplemental oxygen")
    elif a.oxygen == "positive_pressure":
        feats["hypoxia"] = _positive_pressure(a, 4, (3, 3), "Penn 3 (CPAP/BiPAP) or 4 (ventilation)")
    return _combine("CRS", "Penn", feats, notes, "no CRS")


def _fio2_feature(a: Assessment, thr: float, low: int, high: int) -> tuple[int, int, str]:
    if a.fio2 is None:
        return low, high, f"oxygen without FiO2: grade {low} (FiO2 < {thr:.0%}) or {high} (>= {thr:.0%})"
    if a.fio2 >= thr:
        return high, high, f"oxygen FiO2 {a.fio2:.0%} (>= {thr:.0%})"
    return low, low, f"oxygen FiO2 {a.fio2:.0%} (< {thr:.0%})"


def crs_lee2014(a: Assessment, *, fever_masked: bool | None = None,
                rules: Mapping[str, Rule] | None = None) -> Grade:
    """Lee 2014 (NCI) CRS grade, as far as the inputs allow (Lee DW et al., Blood 2014;124:188).

    Grade 2: O₂ < 40 %, hypotension responsive to fluids or low dose of one vasopressor, grade 2
    organ toxicity; grade 3: O₂ >= 40 %, high-dose or multiple vasopressors, grade 3 organ
    toxicity or grade 4 transaminitis; grade 4: ventilator support or grade 4 organ toxicity
    (excluding transaminitis).
    """
    _check(a)
    r = _rules(rules)
    if a.death_attributed_to == "crs":
        return Grade("CRS", "Lee2014", 5, (5, 5), "death due to CRS", {"death": (5, 5)})
    gate, why = _fever(a, fever_masked, r)
    if not gate:
        return Grade("CRS", "Lee2014", 0, (0, 0), "no fever: no CRS")
    thr = float(r["lee2014_fio2_threshold"].value)
    feats: dict[str, tuple[int, int, str]] = {"fever": (1, 1, f"symptoms only: {why}")}
    if a.hypotension:
        n = a.vasopressors + int(a.vasopressin)
        if n == 0:
            feats["hypotension"] = (2, 2, "hypotension responsive to fluids")
        elif n >= 2 or a.vasopressor_high_dose:
            what = "high-dose" if a.vasopressor_high_dose else f"{n}"
            feats["hypotension"] = (3, 3, f"hypotension requiring {what} vasopressors")
        else:
            feats["hypotension"] = (2, 2, "hypotension on a low dose of one vasopressor")
    if a.oxygen in ("low_flow", "high_flow"):
        feats["hypoxia"] = _fio2_feature(a, thr, 2, 3)
    elif a.oxygen == "positive_pressure":
        feats["hypoxia"] = _positive_pressure(a, 4, (3, 4), "Lee 3 or 4 (ventilator support)")
    organ = max((g for g in (a.creatinine_grade, a.organ_toxicity_grade) if g is not None), default=0)
    if organ >= 2:
        feats["organ_toxicity"] = (organ, organ, f"grade {organ} organ toxicity")
    if a.transaminase_grade is not None and a.transaminase_grade >= 2:
        g = min(a.transaminase_grade, 3)
        feats["transaminases"] = (g, g, f"grade {a.transaminase_grade} transaminitis")
    return _combine("CRS", "Lee2014", feats, [], "no CRS")


def crs_ctcae5(a: Assessment, *, fever_masked: bool | None = None,
               rules: Mapping[str, Rule] | None = None) -> Grade:
    """CTCAE v5.0 "Cytokine release syndrome" grade [R] (NCI CTCAE v5.0, 2017; table not re-read).

    Grade 1 fever; 2 hypotension responding to fluids or hypoxia on < 40 % O₂; 3 one pressor or
    >= 40 % O₂; 4 life-threatening (read here as >= 2 pressors or invasive ventilation).
    """
    _check(a)
    r = _rules(rules)
    if a.death_attributed_to == "crs":
        return Grade("CRS", "CTCAE5", 5, (5, 5), "death due to CRS", {"death": (5, 5)})
    gate, why = _fever(a, fever_masked, r)
    if not gate:
        return Grade("CRS", "CTCAE5", 0, (0, 0), "no fever: no CRS")
    thr = float(r["ctcae5_fio2_threshold"].value)
    feats: dict[str, tuple[int, int, str]] = {"fever": (1, 1, why)}
    if a.hypotension:
        n = a.vasopressors + int(a.vasopressin)
        if n == 0:
            feats["hypotension"] = (2, 2, "hypotension responding to fluids")
        elif n == 1:
            feats["hypotension"] = (3, 3, "hypotension managed with one pressor")
        else:
            feats["hypotension"] = (4, 4, f"hypotension requiring {n} pressors (life-threatening)")
    if a.oxygen in ("low_flow", "high_flow"):
        feats["hypoxia"] = _fio2_feature(a, thr, 2, 3)
    elif a.oxygen == "positive_pressure":
        feats["hypoxia"] = _positive_pressure(a, 4, (3, 4), "CTCAE 3 or 4")
    return _combine("CRS", "CTCAE5", feats, [], "no CRS")


# ------------------------------------------------------------------------------------- ICANS --

_ICANS_CONSCIOUSNESS = {"awake": 0, "drowsy": 1, "voice": 2, "tactile": 3, "unarousable": 4}
_CONSCIOUSNESS_TEXT = {
    "drowsy": "depressed consciousness, awakens spontaneously",
    "voice": "awakens to voice",
    "tactile": "awakens only to tactile stimulus",
    "unarousable": "unarousable",
}
_SEIZURE = {
    "none": (0, ""),
    "focal_or_generalized_resolving": (3, "clinical seizure (focal or generalized) resolving rapidly"),
    "eeg_nonconvulsive": (3, "non-convulsive seizures on EEG resolving with intervention"),
    "prolonged_or_repetitive": (4, "prolonged (> 5 min) or repetitive seizures without return to baseline"),
}
_EDEMA = {
    "none": (0, ""),
    "haemorrhage": (0, ""),
    "focal": (3, "focal/local oedema on neuroimaging"),
    "diffuse": (4, "diffuse cerebral oedema on neuroimaging"),
    "icp_signs": (4, "decerebrate/decorticate posturing, CN VI palsy, papilledema or Cushing's triad"),
}


def icans_astct(a: Assessment, *, age_years: float | None = None,
                rules: Mapping[str, Rule] | None = None) -> Grade:
    """ASTCT 2019 ICANS grade of one assessment (Lee DW et al., BBMT 2019;25:625, [C]).

    The most severe of: ICE (7-9 → 1, 3-6 → 2, 0-2 → 3; 0 and unarousable → 4) or CAPD
    (1-8 → 1, >= 9 → 3, unable to perform → 4), depressed consciousness, seizure, motor
    findings, raised ICP/cerebral oedema. The ICE score is refused for patients younger than
    ``capd_age_below_years`` (they are assessed with the CAPD).
    """
    _check(a)
    r = _rules(rules)
    notes: list[str] = []
    if a.death_attributed_to == "icans":
        return Grade("ICANS", "ASTCT", 5, (5, 5), "death due to ICANS", {"death": (5, 5)})
    boundary = float(r["capd_age_below_years"].value)
    if age_years is not None and a.ice_score is not None and age_years < boundary:
        raise ValidationError(
            f"ice_score must not be used for a patient aged < {boundary:g} y (use capd_score, the "
            f"CAPD), but the patient is {age_years:.1f} y")
    if age_years is not None and a.capd_score is not None and age_years >= boundary:
        notes.append(f"CAPD used at age {age_years:.1f} y (allowed for developmental delay)")
    feats: dict[str, tuple[int, int, str]] = {}
    unarousable = a.consciousness == "unarousable" and not a.sedated
    if a.ice_score is not None:
        s = a.ice_score
        if s == 10:
            g, t = 0, ""
        elif s >= 7:
            g, t = 1, f"ICE score {s} (7-9)"
        elif s >= 3:
            g, t = 2, f"ICE score {s} (3-6)"
        elif s >= 1:
            g, t = 3, f"ICE score {s} (0-2)"
        elif unarousable:
            g, t = 4, "ICE score 0, patient unarousable and unable to perform ICE"
        else:
            g, t = 3, "ICE score 0, patient arousable (e.g. global aphasia)"
        if g:
            feats["ice"] = (g, g, t)
    if a.capd_unable:
        feats["capd"] = (4, 4, "unable to perform CAPD")
    elif a.capd_score is not None and a.capd_score > 0:
        pos = int(r["capd_positive_min"].value)
        if a.capd_score >= pos:
            feats["capd"] = (3, 3, f"CAPD score {a.capd_score} (>= {pos})")
        else:
            feats["capd"] = (1, 1, f"CAPD score {a.capd_score} (1-{pos - 1})")
    if a.consciousness is not None and a.consciousness != "awake":
        if a.sedated:
            notes.append(f"depressed consciousness ({a.consciousness}) attributed to sedation: not counted")
        else:
            g = _ICANS_CONSCIOUSNESS[a.consciousness]
            feats["consciousness"] = (g, g, _CONSCIOUSNESS_TEXT[a.consciousness])
    if a.seizure is not None:
        g, t = _SEIZURE[a.seizure]
        if g:
            feats["seizure"] = (g, g, t)
    if a.motor == "deep_focal_weakness":
        feats["motor"] = (4, 4, "deep focal motor weakness (hemiparesis/paraparesis)")
    elif a.motor == "tremor_or_myoclonus":
        notes.append("tremor/myoclonus are graded by CTCAE v5.0 and do not change the ICANS grade")
    if a.cerebral_edema is not None:
        g, t = _EDEMA[a.cerebral_edema]
        if g:
            feats["cerebral_edema"] = (g, g, t)
        elif a.cerebral_edema == "haemorrhage":
            notes.append("intracranial haemorrhage is not an ICANS feature (graded by CTCAE v5.0)")
    return _combine("ICANS", "ASTCT", feats, notes, "no ICANS feature")


# ------------------------------------------------------------------------------ assessments --

@dataclass(frozen=True)
class AssessmentGrades:
    """All grades of one assessment."""

    assessment: Assessment
    crs: Mapping[str, Grade]
    icans: Grade
    fever_masked: bool

    def as_dict(self) -> dict[str, Any]:
        a = self.assessment
        return {
            "day": a.day,
            "date": a.date.isoformat() if a.date else None,
            "line": a.line,
            "fever_masked": self.fever_masked,
            "crs": {k: g.as_dict() for k, g in self.crs.items()},
            "icans": self.icans.as_dict(),
        }


def grade_assessment(a: Assessment, *, age_years: float | None = None,
                     fever_masked: bool | None = None,
                     rules: Mapping[str, Rule] | None = None) -> AssessmentGrades:
    """Grade one assessment on every scale (CRS: ASTCT, Penn, Lee 2014, CTCAE v5; ICANS: ASTCT)."""
    masked = (a.antipyretic or a.anti_cytokine) if fever_masked is None else fever_masked
    crs = {
        "ASTCT": crs_astct(a, fever_masked=masked, rules=rules),
        "Penn": crs_penn(a, fever_masked=masked, rules=rules),
        "Lee2014": crs_lee2014(a, fever_masked=masked, rules=rules),
        "CTCAE5": crs_ctcae5(a, fever_masked=masked, rules=rules),
    }
    return AssessmentGrades(a, crs, icans_astct(a, age_years=age_years, rules=rules), masked)


# ----------------------------------------------------------------------------------- course --

def _time(a: Assessment, first_date: Any) -> float | None:
    if a.day is not None:
        return float(a.day)
    if a.date is not None and first_date is not None:
        return float((a.date - first_date).days)
    return None


@dataclass(frozen=True)
class ToxicityCourse:
    """Grades of a course of assessments with maxima, onset and duration per syndrome."""

    assessments: tuple[AssessmentGrades, ...]
    max_grade: Mapping[str, Mapping[str, dict[str, Any]]]
    episodes: Mapping[str, tuple[dict[str, Any], ...]]
    age_years: float | None
    rules: Mapping[str, Rule]
    time_axis: str

    @property
    def rests_on(self) -> list[dict[str, Any]]:
        return rests_on(self.rules.values())

    def summary(self, syndrome: str) -> dict[str, Any]:
        eps = self.episodes[syndrome]
        if not eps:
            return {"onset_day": None, "onset_date": None, "duration_days": None, "ongoing": False}
        first, last = eps[0], eps[-1]
        return {"onset_day": first["onset_day"], "onset_date": first["onset_date"],
                "duration_days": sum(e["duration_days"] for e in eps), "ongoing": last["ongoing"],
                "episodes": len(eps)}

    def as_dict(self) -> dict[str, Any]:
        return {
            "age_years": self.age_years,
            "time_axis": self.time_axis,
            "assessments": [g.as_dict() for g in self.assessments],
            "max_grade": {s: dict(v) for s, v in self.max_grade.items()},
            "onset": {"CRS": self.summary("CRS"), "ICANS": self.summary("ICANS")},
            "episodes": {s: list(v) for s, v in self.episodes.items()},
        }


def _episodes(times: Sequence[float | None], dates: Sequence[Any], grades: Sequence[int]) -> list[dict[str, Any]]:
    """Runs of consecutive assessments with ASTCT grade >= 1.

    Duration is measured between assessments: from the first positive assessment to the first
    later assessment with grade 0 (resolved), or to the last assessment (ongoing).
    """
    out: list[dict[str, Any]] = []
    i, n = 0, len(grades)
    while i < n:
        if grades[i] <= 0:
            i += 1
            continue
        j = i
        while j + 1 < n and grades[j + 1] > 0:
            j += 1
        resolved = j + 1 < n
        end_idx = j + 1 if resolved else j
        t0, t1 = times[i], times[end_idx]
        out.append({
            "onset_day": t0,
            "onset_date": dates[i].isoformat() if dates[i] else None,
            "last_positive_day": times[j],
            "resolution_day": t1 if resolved else None,
            "duration_days": (t1 - t0) if t0 is not None and t1 is not None else None,
            "ongoing": not resolved,
            "max_grade": max(grades[i:j + 1]),
        })
        i = j + 1
    return out


def grade_course(assessments: Iterable[Assessment], *, age_years: float | None = None,
                 rules: Mapping[str, Rule] | None = None,
                 overrides: Mapping[str, Any] | None = None) -> ToxicityCourse:
    """Grade a course of assessments (sorted by day/date).

    Fever masking (ASTCT footnote *): an assessment with antipyretic or anti-cytokine therapy
    counts as febrile only once CRS has been present at an earlier (or this) assessment, unless
    the rule ``fever_mask_requires_prior_crs`` is switched off.

    Returns per-assessment grades, the maximum grade per syndrome and scale (with its day and
    driver), and CRS/ICANS episodes (onset day, duration) on the ASTCT scale.
    """
    r = resolve(TOXICITY_RULES if rules is None else rules, overrides)
    items = list(assessments)
    if not items:
        raise ValidationError("assessments must contain at least one assessment, but was empty")
    dated = [a.date for a in items if a.date is not None]
    first_date = min(dated) if dated else None
    def _key(a: Assessment) -> float:
        t = _time(a, first_date)
        return math.inf if t is None else t

    keyed = sorted(items, key=_key)
    times = [_time(a, first_date) for a in keyed]
    axis = "days_since_infusion" if all(a.day is not None for a in keyed) else (
        "days_since_first_assessment" if first_date is not None else "row_order")
    if axis == "row_order":
        times = [float(i) for i in range(len(keyed))]
    requires_prior = bool(r["fever_mask_requires_prior_crs"].value)
    had_crs = False
    graded: list[AssessmentGrades] = []
    thr = float(r["fever_threshold_c"].value)
    for a in keyed:
        febrile = a.temperature_c is not None and a.temperature_c >= thr
        masking = a.antipyretic or a.anti_cytokine
        masked = masking and (had_crs or febrile or not requires_prior)
        g = grade_assessment(a, age_years=age_years, fever_masked=masked, rules=r)
        if g.crs["ASTCT"].grade_range[0] >= 1:
            had_crs = True
        graded.append(g)
    max_grade: dict[str, dict[str, dict[str, Any]]] = {"CRS": {}, "ICANS": {}}
    for scale in CRS_SCALES:
        max_grade["CRS"][scale] = _max_of([(t, g.crs[scale]) for t, g in zip(times, graded, strict=True)])
    max_grade["ICANS"]["ASTCT"] = _max_of([(t, g.icans) for t, g in zip(times, graded, strict=True)])
    dates = [a.date for a in keyed]
    episodes = {
        "CRS": tuple(_episodes(times, dates, [g.crs["ASTCT"].grade_range[0] for g in graded])),
        "ICANS": tuple(_episodes(times, dates, [g.icans.grade_range[0] for g in graded])),
    }
    return ToxicityCourse(tuple(graded), max_grade, episodes, age_years, r, axis)


def _max_of(items: list[tuple[float | None, Grade]]) -> dict[str, Any]:
    lo = max(g.grade_range[0] for _, g in items)
    hi = max(g.grade_range[1] for _, g in items)
    best_t, best = next((t, g) for t, g in items if g.grade_range[1] == hi)
    return {"grade": lo if lo == hi else None, "grade_range": [lo, hi], "day": best_t,
            "driver": best.driver}


class ToxicityGrader:
    """Fit-style wrapper around :func:`grade_course`.

    >>> from remission.domain.cart import Assessment
    >>> g = ToxicityGrader().fit([Assessment(day=1, temperature_c=38.5)])
    >>> g.max_grade_["CRS"]["ASTCT"]["grade"]
    1

    See Also
    --------
    grade_course : the pure function.
    """

    def __init__(self, *, age_years: float | None = None, overrides: Mapping[str, Any] | None = None) -> None:
        self.age_years = age_years
        self.overrides = dict(overrides or {})

    def fit(self, assessments: Iterable[Assessment]) -> ToxicityGrader:
        self.course_ = grade_course(assessments, age_years=self.age_years, overrides=self.overrides)
        self.max_grade_ = self.course_.max_grade
        return self
