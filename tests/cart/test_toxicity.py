"""ASTCT 2019 CRS/ICANS truth tables (Lee DW et al., BBMT 2019;25:625) and legacy CRS scales.

Every expected grade below is read off the spec table row or footnote named in its id.
"""

from __future__ import annotations

import inspect
import re

import pytest

from remission.cart import toxicity
from remission.cart.toxicity import (
    TOXICITY_RULES,
    crs_astct,
    crs_ctcae5,
    crs_lee2014,
    crs_penn,
    grade_course,
    icans_astct,
)
from remission.domain.cart import Assessment
from remission.errors import ValidationError

FEVER = {"temperature_c": 39.0}

# ---------------------------------------------------- ASTCT CRS (Lee 2019, CRS table) --
CRS_CASES = [
    # (id, assessment kwargs, expected grade, driver substring)
    ("no fever, nothing else -> 0", {"temperature_c": 37.0}, 0, "no fever"),
    ("fever row: 38.0 exactly is fever -> 1", {"temperature_c": 38.0}, 1, "fever 38"),
    ("fever row: 37.9 is not fever -> 0", {"temperature_c": 37.9}, 0, "no fever"),
    ("grade 1: fever, no hypotension, no hypoxia", FEVER, 1, "fever"),
    ("grade 2: hypotension not requiring vasopressors", {**FEVER, "hypotension": True}, 2,
     "not requiring vasopressors"),
    ("grade 2: low-flow nasal cannula", {**FEVER, "oxygen": "low_flow", "oxygen_l_min": 2}, 2, "low-flow"),
    ("grade 2: blow-by (low-flow, no flow given)", {**FEVER, "oxygen": "low_flow"}, 2, "low-flow"),
    ("footnote ‡: 6 L/min is still low-flow -> 2", {**FEVER, "oxygen": "low_flow", "oxygen_l_min": 6}, 2,
     "low-flow"),
    ("footnote ‡: > 6 L/min is high-flow -> 3", {**FEVER, "oxygen": "low_flow", "oxygen_l_min": 6.5}, 3,
     "> 6 L/min"),
    ("grade 3: one vasopressor", {**FEVER, "hypotension": True, "vasopressors": 1}, 3, "1 vasopressor"),
    ("grade 3 + vasopressin rule: 1 vasopressor with vasopressin is 3, not 4",
     {**FEVER, "hypotension": True, "vasopressors": 1, "vasopressin": True}, 3, "with vasopressin"),
    ("grade 3: vasopressin as the only vasopressor", {**FEVER, "hypotension": True, "vasopressin": True}, 3,
     "vasopressin"),
    ("grade 3: high-flow / facemask / NRB / Venturi", {**FEVER, "oxygen": "high_flow"}, 3, "high-flow"),
    ("grade 4: multiple vasopressors (excluding vasopressin)",
     {**FEVER, "hypotension": True, "vasopressors": 2}, 4, "2 vasopressors"),
    ("grade 4: positive pressure (CPAP/BiPAP/intubation)", {**FEVER, "oxygen": "positive_pressure"}, 4,
     "positive-pressure"),
    ("footnote †: paper example 39.5 °C + 1 vasopressor + low-flow -> 3",
     {"temperature_c": 39.5, "hypotension": True, "vasopressors": 1, "oxygen": "low_flow"}, 3,
     "1 vasopressor"),
    ("footnote †: more severe of hypotension (2) and hypoxia (3) -> 3",
     {**FEVER, "hypotension": True, "oxygen": "high_flow"}, 3, "high-flow"),
    ("footnote *: no fever, hypotension, no masking therapy -> no CRS",
     {"temperature_c": 37.2, "hypotension": True}, 0, "no fever"),
    ("footnote *: fever masked by antipyretic; hypotension drives -> 2",
     {"temperature_c": 37.2, "antipyretic": True, "hypotension": True}, 2, "not requiring"),
    ("footnote *: fever masked by tocilizumab/steroids; high-flow drives -> 3",
     {"temperature_c": 36.8, "anti_cytokine": True, "oxygen": "high_flow"}, 3, "high-flow"),
    ("organ toxicity does not influence CRS grade (grade 4 transaminitis) -> 1",
     {**FEVER, "transaminase_grade": 4, "creatinine_grade": 3}, 1, "fever"),
    ("grade 5: death due to CRS", {**FEVER, "death_attributed_to": "crs"}, 5, "death"),
]


@pytest.mark.parametrize(("kwargs", "grade", "driver"), [c[1:] for c in CRS_CASES], ids=[c[0] for c in CRS_CASES])
def test_astct_crs_truth_table(kwargs: dict, grade: int, driver: str) -> None:
    g = crs_astct(Assessment(**kwargs))
    assert g.grade == grade
    assert driver in g.driver


def test_organ_toxicity_note_says_it_was_ignored() -> None:
    g = crs_astct(Assessment(**FEVER, transaminase_grade=4))
    assert any("do not change the ASTCT" in n for n in g.notes)


def test_fever_mask_needs_prior_crs_in_a_course() -> None:
    # footnote *: "in patients who have CRS and then receive antipyretic ... therapy".
    # Day 1: paracetamol with hypotension but no CRS before -> 0. Day 2: fever -> 1.
    # Day 3: afebrile on tocilizumab with hypotension -> masked -> 2.
    course = grade_course([
        Assessment(day=1, temperature_c=37.0, antipyretic=True, hypotension=True),
        Assessment(day=2, temperature_c=38.4),
        Assessment(day=3, temperature_c=37.1, anti_cytokine=True, hypotension=True),
    ])
    grades = [g.crs["ASTCT"].grade for g in course.assessments]
    assert grades == [0, 1, 2]
    assert course.max_grade["CRS"]["ASTCT"]["grade"] == 2
    # the rule can be switched off: then day 1 counts as masked -> grade 2
    off = grade_course([Assessment(day=1, temperature_c=37.0, antipyretic=True, hypotension=True)],
                       overrides={"fever_mask_requires_prior_crs": False})
    assert off.assessments[0].crs["ASTCT"].grade == 2
    assert any(r["name"] == "fever_mask_requires_prior_crs" and r["tag"] == "user" for r in off.rests_on)


def test_course_onset_duration_and_episodes() -> None:
    # CRS grade >= 1 on days 1-3, grade 0 on day 5 -> onset 1, resolved at day 5, duration 4 days.
    course = grade_course([
        Assessment(day=0, temperature_c=36.9),
        Assessment(day=1, temperature_c=38.5),
        Assessment(day=2, temperature_c=39.0, hypotension=True, vasopressors=1),
        Assessment(day=3, temperature_c=38.1),
        Assessment(day=5, temperature_c=37.0),
        Assessment(day=6, temperature_c=37.0, ice_score=8),
    ], age_years=14)
    s = course.as_dict()
    assert s["max_grade"]["CRS"]["ASTCT"] == {"grade": 3, "grade_range": [3, 3], "day": 2.0,
                                              "driver": "hypotension requiring 1 vasopressor"}
    assert s["onset"]["CRS"]["onset_day"] == 1.0
    assert s["onset"]["CRS"]["duration_days"] == 4.0
    assert s["onset"]["CRS"]["ongoing"] is False
    assert s["onset"]["ICANS"]["onset_day"] == 6.0 and s["onset"]["ICANS"]["ongoing"] is True
    assert s["max_grade"]["ICANS"]["ASTCT"]["grade"] == 1


# ------------------------------------------------ ASTCT ICANS (Lee 2019, ICANS table) --
ICANS_CASES = [
    ("ICE 10 -> 0", {"ice_score": 10}, 0, "no ICANS"),
    ("ICE 9 -> 1", {"ice_score": 9}, 1, "ICE score 9"),
    ("ICE 7 -> 1", {"ice_score": 7}, 1, "ICE score 7"),
    ("ICE 6 -> 2", {"ice_score": 6}, 2, "ICE score 6"),
    ("ICE 3 -> 2", {"ice_score": 3}, 2, "ICE score 3"),
    ("ICE 2 -> 3", {"ice_score": 2}, 3, "ICE score 2"),
    ("ICE 1 -> 3", {"ice_score": 1}, 3, "ICE score 1"),
    ("ICE 0 awake with global aphasia -> 3", {"ice_score": 0, "consciousness": "awake"}, 3, "arousable"),
    ("ICE 0 unarousable -> 4", {"ice_score": 0, "consciousness": "unarousable"}, 4, "unarousable"),
    ("consciousness: alert -> 0", {"consciousness": "awake"}, 0, "no ICANS"),
    ("consciousness grade 1: awakens spontaneously", {"consciousness": "drowsy"}, 1, "spontaneously"),
    ("consciousness grade 2: awakens to voice", {"consciousness": "voice"}, 2, "voice"),
    ("consciousness grade 3: only to tactile stimulus", {"consciousness": "tactile"}, 3, "tactile"),
    ("consciousness grade 4: unarousable / stupor / coma", {"consciousness": "unarousable"}, 4, "unarousable"),
    ("footnote †: depressed consciousness from sedation not counted",
     {"consciousness": "tactile", "sedated": True}, 0, "no ICANS"),
    ("seizure grade 3: clinical seizure resolving rapidly", {"seizure": "focal_or_generalized_resolving"}, 3,
     "resolving rapidly"),
    ("seizure grade 3: non-convulsive on EEG resolving with intervention", {"seizure": "eeg_nonconvulsive"}, 3,
     "EEG"),
    ("seizure grade 4: prolonged > 5 min or repetitive", {"seizure": "prolonged_or_repetitive"}, 4, "> 5 min"),
    ("motor grade 4: deep focal weakness", {"motor": "deep_focal_weakness"}, 4, "hemiparesis"),
    ("footnote ‡: tremor/myoclonus do not count", {"motor": "tremor_or_myoclonus"}, 0, "no ICANS"),
    ("ICP grade 3: focal/local oedema", {"cerebral_edema": "focal"}, 3, "focal"),
    ("ICP grade 4: diffuse oedema", {"cerebral_edema": "diffuse"}, 4, "diffuse"),
    ("ICP grade 4: posturing / CN VI palsy / papilledema / Cushing's triad", {"cerebral_edema": "icp_signs"}, 4,
     "Cushing"),
    ("footnote §: intracranial haemorrhage is not ICANS", {"cerebral_edema": "haemorrhage"}, 0, "no ICANS"),
    ("rule: most severe domain; spec example ICE 3 + generalized seizure -> 3",
     {"ice_score": 3, "seizure": "focal_or_generalized_resolving"}, 3, "seizure"),
    ("rule: most severe domain; ICE 8 + voice -> 2", {"ice_score": 8, "consciousness": "voice"}, 2, "voice"),
    ("grade 5: death due to ICANS", {"ice_score": 0, "death_attributed_to": "icans"}, 5, "death"),
]


@pytest.mark.parametrize(("kwargs", "grade", "driver"), [c[1:] for c in ICANS_CASES],
                         ids=[c[0] for c in ICANS_CASES])
def test_astct_icans_truth_table(kwargs: dict, grade: int, driver: str) -> None:
    g = icans_astct(Assessment(**kwargs), age_years=30)
    assert g.grade == grade
    assert driver in g.driver


# ------------------------------------- CAPD, < 12 y (Traube 2014, as used by ASTCT 2019) --
CAPD_CASES = [
    ("CAPD 0 contributes nothing", {"capd_score": 0, "consciousness": "awake"}, 0),
    ("CAPD 1 + awakens spontaneously -> 1", {"capd_score": 1, "consciousness": "awake"}, 1),
    ("CAPD 8 + awakens spontaneously -> 1", {"capd_score": 8, "consciousness": "drowsy"}, 1),
    ("CAPD 1-8 + awakens to voice -> 2 (consciousness separates 1 and 2)",
     {"capd_score": 5, "consciousness": "voice"}, 2),
    ("CAPD >= 9 -> 3", {"capd_score": 9, "consciousness": "awake"}, 3),
    ("CAPD 20 -> 3", {"capd_score": 20}, 3),
    ("unable to perform CAPD -> 4", {"capd_unable": True}, 4),
    ("CAPD + tactile -> 3", {"capd_score": 3, "consciousness": "tactile"}, 3),
    ("CAPD + seizure/motor/ICP as adult table: diffuse oedema -> 4", {"capd_score": 2, "cerebral_edema": "diffuse"}, 4),
]


@pytest.mark.parametrize(("kwargs", "grade"), [c[1:] for c in CAPD_CASES], ids=[c[0] for c in CAPD_CASES])
def test_capd_truth_table(kwargs: dict, grade: int) -> None:
    assert icans_astct(Assessment(**kwargs), age_years=5).grade == grade


def test_ice_refused_for_a_child_under_12() -> None:
    with pytest.raises(ValidationError, match=r"ice_score must not be used .* aged < 12 y .* 5\.0 y"):
        icans_astct(Assessment(ice_score=8), age_years=5)


def test_age_boundary_is_a_rule() -> None:
    # [U] NCIt "12 and under": override the boundary to 13 -> ICE refused at 12.5 y
    from remission.cart.toxicity import TOXICITY_RULES
    from remission.domain.parameters import resolve

    icans_astct(Assessment(ice_score=8), age_years=12.5)  # default boundary 12: allowed
    with pytest.raises(ValidationError, match="aged < 13 y"):
        icans_astct(Assessment(ice_score=8), age_years=12.5,
                    rules=resolve(TOXICITY_RULES, {"capd_age_below_years": 13}))


def test_capd_allowed_for_older_patient_with_a_note() -> None:
    g = icans_astct(Assessment(capd_score=10), age_years=15)
    assert g.grade == 3 and any("developmental delay" in n for n in g.notes)


def test_ice_and_capd_together_refused() -> None:
    with pytest.raises(ValidationError, match="ice_score and capd_score must not both be given"):
        icans_astct(Assessment(ice_score=8, capd_score=3))


# --------------------------------------------------------- legacy scales and cross-walk --
NEUTROPENIC_ADMISSION = {**FEVER, "hospitalized": True}
CROSSWALK = [
    # cross-walk read from the ASTCT 2019, Penn 2018 and Lee 2014 definitions (not a published
    # mapping): (situation, kwargs, ASTCT, Penn, Lee 2014 (lo, hi))
    ("fever only, outpatient", {**FEVER, "hospitalized": False}, 1, 1, (1, 1)),
    ("fever + neutropenia admitted", NEUTROPENIC_ADMISSION, 1, 2, (1, 1)),
    ("hypotension on fluids only", {**FEVER, "hypotension": True}, 2, 3, (2, 2)),
    ("low-flow O2 <= 6 L/min, FiO2 < 40 %", {**FEVER, "oxygen": "low_flow", "oxygen_l_min": 2, "fio2": 0.28},
     2, 3, (2, 2)),
    ("one vasopressor, low dose", {**FEVER, "hypotension": True, "vasopressors": 1}, 3, 3, (2, 2)),
    ("one vasopressor, high dose", {**FEVER, "hypotension": True, "vasopressors": 1,
                                    "vasopressor_high_dose": True}, 3, 4, (3, 3)),
    ("high-flow O2, FiO2 unknown (Lee 2 or 3 by FiO2)", {**FEVER, "oxygen": "high_flow"}, 3, 3, (2, 3)),
    ("high-flow O2, FiO2 50 %", {**FEVER, "oxygen": "high_flow", "fio2": 0.5}, 3, 3, (3, 3)),
    ("CPAP/BiPAP (Lee 3 or 4)", {**FEVER, "oxygen": "positive_pressure", "mechanical_ventilation": False},
     4, 3, (3, 4)),
    ("mechanical ventilation", {**FEVER, "oxygen": "positive_pressure", "mechanical_ventilation": True},
     4, 4, (4, 4)),
    ("grade 4 transaminitis without compromise", {**FEVER, "transaminase_grade": 4}, 1, 3, (3, 3)),
]


@pytest.mark.parametrize(("kwargs", "astct", "penn", "lee"), [c[1:] for c in CROSSWALK],
                         ids=[c[0] for c in CROSSWALK])
def test_crosswalk(kwargs: dict, astct: int, penn: int, lee: tuple[int, int]) -> None:
    a = Assessment(**kwargs)
    assert crs_astct(a).grade == astct
    assert crs_penn(a).grade == penn
    g = crs_lee2014(a)
    assert g.grade_range == lee
    assert g.grade == (lee[0] if lee[0] == lee[1] else None)


def test_lee2014_rows() -> None:
    # Lee 2014 table: grade 2 organ toxicity -> 2; grade 3 organ -> 3; grade 4 organ (not transaminitis) -> 4;
    # multiple vasopressors -> 3
    assert crs_lee2014(Assessment(**FEVER, creatinine_grade=2)).grade == 2
    assert crs_lee2014(Assessment(**FEVER, organ_toxicity_grade=3)).grade == 3
    assert crs_lee2014(Assessment(**FEVER, organ_toxicity_grade=4)).grade == 4
    assert crs_lee2014(Assessment(**FEVER, hypotension=True, vasopressors=2)).grade == 3
    assert crs_lee2014(Assessment(**FEVER, oxygen="low_flow", fio2=0.40)).grade == 3  # ">= 40 %"


def test_penn_rows() -> None:
    # Penn: grade 2 creatinine or grade 3 LFTs -> 2; grade 3 creatinine or grade 4 LFTs -> 3
    assert crs_penn(Assessment(**FEVER, creatinine_grade=2)).grade == 2
    assert crs_penn(Assessment(**FEVER, transaminase_grade=3)).grade == 2
    assert crs_penn(Assessment(**FEVER, creatinine_grade=3)).grade == 3
    assert crs_penn(Assessment(**FEVER, oxygen="positive_pressure")).grade_range == (3, 4)


def test_ctcae5_rows() -> None:
    # CTCAE v5 [R]: 1 fever; 2 fluids / < 40 % O2; 3 one pressor / >= 40 % O2; 4 life-threatening
    assert crs_ctcae5(Assessment(**FEVER)).grade == 1
    assert crs_ctcae5(Assessment(**FEVER, hypotension=True)).grade == 2
    assert crs_ctcae5(Assessment(**FEVER, oxygen="low_flow", fio2=0.3)).grade == 2
    assert crs_ctcae5(Assessment(**FEVER, hypotension=True, vasopressors=1)).grade == 3
    assert crs_ctcae5(Assessment(**FEVER, oxygen="high_flow", fio2=0.6)).grade == 3
    assert crs_ctcae5(Assessment(**FEVER, hypotension=True, vasopressors=2)).grade == 4
    assert crs_ctcae5(Assessment(temperature_c=37, hypotension=True)).grade == 0


def test_course_rests_on_names_recalled_rules() -> None:
    course = grade_course([Assessment(day=1, **FEVER)])
    names = {r["name"] for r in course.rests_on}
    assert {"capd_age_below_years", "ctcae5_crs_definition", "crosswalk"} <= names
    assert "fever_threshold_c" not in names  # [C] rules are not listed


def test_rule_sources_cite_papers_not_files() -> None:
    # issue 14 item 7: a rule's source names authors/journal/year (or says it is recalled or
    # derived), never a research-note file outside the repository
    for rule in TOXICITY_RULES.values():
        assert ".md" not in rule.source and "§" not in rule.source, rule.name
        assert re.search(r"\b(19|20)\d\d\b", rule.source) or "recalled" in rule.source, rule.name
    assert "Biol Blood Marrow Transplant 2019" in TOXICITY_RULES["fever_threshold_c"].source  # ASTCT
    assert "Blood 2014" in TOXICITY_RULES["lee2014_fio2_threshold"].source  # Lee 2014
    assert "Crit Care Med 2014" in TOXICITY_RULES["capd_positive_min"].source  # Traube (CAPD)
    assert "recalled" in TOXICITY_RULES["lee2014_high_dose_vasopressor"].source  # [R], not re-read
    # the confidence tags did not change with the wording
    tags = {n: r.tag for n, r in TOXICITY_RULES.items()}
    assert tags["fever_threshold_c"] == "C" and tags["capd_age_below_years"] == "U"
    assert tags["ctcae5_fio2_threshold"] == "R" and tags["crosswalk"] == "R"
    assert "clinical_rules" not in inspect.getsource(toxicity)


@pytest.mark.parametrize("bad", [
    {"temperature_c": 99.0}, {"oxygen": "mask"}, {"oxygen": "none", "oxygen_l_min": 2.0},
    {"vasopressors": 1}, {"ice_score": 11}, {"capd_score": 40}, {"seizure": "big"},
])
def test_engine_rejects_inconsistent_assessments(bad: dict) -> None:
    with pytest.raises(ValidationError, match="must"):
        crs_astct(Assessment(**bad)) if "ice_score" not in bad and "capd_score" not in bad and "seizure" not in bad \
            else icans_astct(Assessment(**bad))
