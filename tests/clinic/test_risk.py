"""Risk stratification: every cell of the spec tables (clinical_rules.md §1.3–§1.7), the time-point
boundaries, the worked examples of §1.7, the transplant rule and the out-of-scheme flags.

Every expected group below is copied from the spec table named in the comment above it.
"""

from __future__ import annotations

import datetime as dt
import importlib.util

import pytest
from _clinic_factory import make_case, mrd
from hypothesis import given
from hypothesis import strategies as st

from remission.clinic.risk import (
    add_months,
    allr3_group,
    bfm_group,
    bfm_time_point,
    cog_group,
    cog_time_point,
    intreall_group,
    risk_site,
    stratify,
)
from remission.errors import ValidationError

VE, E, L = "very_early", "early", "late"

# clinical_rules.md §1.3, ALL-REZ BFM S1-S4: (lineage, site, time point) -> group, all 18 cells
BFM_CELLS = [
    # BCP table: rows very early / early / late; columns IEM / combined BM / isolated BM
    ("BCP", "iem", VE, "S2"), ("BCP", "combined", VE, "S4"), ("BCP", "isolated_bm", VE, "S4"),
    ("BCP", "iem", E, "S2"), ("BCP", "combined", E, "S2"), ("BCP", "isolated_bm", E, "S3"),
    ("BCP", "iem", L, "S1"), ("BCP", "combined", L, "S2"), ("BCP", "isolated_bm", L, "S2"),
    # T-lineage table
    ("T", "iem", VE, "S2"), ("T", "combined", VE, "S4"), ("T", "isolated_bm", VE, "S4"),
    ("T", "iem", E, "S2"), ("T", "combined", E, "S4"), ("T", "isolated_bm", E, "S4"),
    ("T", "iem", L, "S1"), ("T", "combined", L, "S4"), ("T", "isolated_bm", L, "S4"),
]


@pytest.mark.parametrize(("lineage", "site", "tp", "group"), BFM_CELLS)
def test_bfm_every_cell(lineage, site, tp, group):
    g = bfm_group(lineage, site, tp)
    assert g.group == group
    assert g.rule_path[-1].endswith(f"-> {group}")
    assert "bfm_matrix_cells" in g.rests_on  # the cell-by-cell matrix is [R]


# clinical_rules.md §1.7 unified lookup table (T "any" rows expanded to the three time points);
# (lineage, site, time, BFM, IntReALL, UK ALLR3)
UNIFIED = [
    ("BCP", "iem", VE, "S2", "HR", "HR"),
    ("BCP", "iem", E, "S2", "SR", "IR"),
    ("BCP", "iem", L, "S1", "SR", "SR"),
    ("BCP", "combined", VE, "S4", "HR", "HR"),
    ("BCP", "combined", E, "S2", "SR", "IR"),
    ("BCP", "combined", L, "S2", "SR", "IR"),
    ("BCP", "isolated_bm", VE, "S4", "HR", "HR"),
    ("BCP", "isolated_bm", E, "S3", "HR", "HR"),
    ("BCP", "isolated_bm", L, "S2", "SR", "IR"),
    ("T", "iem", VE, "S2", "HR", "HR"),
    ("T", "iem", E, "S2", "SR", "IR"),
    ("T", "iem", L, "S1", "SR", "SR"),
    *[("T", "combined", t, "S4", "HR", "HR") for t in (VE, E, L)],
    *[("T", "isolated_bm", t, "S4", "HR", "HR") for t in (VE, E, L)],
]


@pytest.mark.parametrize(("lineage", "site", "tp", "bfm", "intreall", "allr3"), UNIFIED)
def test_unified_lookup_table(lineage, site, tp, bfm, intreall, allr3):
    assert bfm_group(lineage, site, tp).group == bfm
    assert intreall_group(lineage, site, tp).group == intreall
    assert allr3_group(lineage, site, tp).group == allr3


# the starred (derived/uncertain) cells of §1.7 name the rule they rest on
@pytest.mark.parametrize(("lineage", "site", "tp", "fn", "rule"), [
    ("BCP", "iem", VE, intreall_group, "intreall_very_early_iem"),
    ("T", "iem", VE, intreall_group, "intreall_very_early_iem"),
    ("T", "iem", E, allr3_group, "allr3_t_iem_like_bcp"),
    ("T", "iem", L, allr3_group, "allr3_t_iem_like_bcp"),
])
def test_starred_cells_rest_on_named_rules(lineage, site, tp, fn, rule):
    assert rule in fn(lineage, site, tp).rests_on


def test_starred_cells_follow_rule_overrides():
    from remission.clinic.risk import RISK_RULES
    from remission.domain.parameters import resolve

    r = resolve(RISK_RULES, {"intreall_very_early_iem": "SR", "allr3_t_iem_like_bcp": False})
    assert intreall_group("BCP", "iem", VE, rules=r).group == "SR"
    g = allr3_group("T", "iem", L, rules=r)
    assert g.group is None and "placement" in (g.pending or "")


# clinical_rules.md §1.4 IntReALL SR list (C) and HR complement (R): all 18 cells
INTREALL_CELLS = [
    *[(lin, "iem", t, "SR") for lin in ("BCP", "T") for t in (E, L)],  # any late/early IEM
    *[(lin, "iem", VE, "HR") for lin in ("BCP", "T")],                # very early incl. IEM
    ("BCP", "isolated_bm", L, "SR"),                                  # late isolated BCP BM
    ("BCP", "combined", L, "SR"), ("BCP", "combined", E, "SR"),       # late/early combined BCP
    ("BCP", "combined", VE, "HR"), ("BCP", "isolated_bm", VE, "HR"),  # very early
    ("BCP", "isolated_bm", E, "HR"),                                  # early isolated BCP BM
    *[("T", s, t, "HR") for s in ("combined", "isolated_bm") for t in (VE, E, L)],  # T BM any
]


@pytest.mark.parametrize(("lineage", "site", "tp", "group"), INTREALL_CELLS)
def test_intreall_every_cell(lineage, site, tp, group):
    assert len(INTREALL_CELLS) == 18
    assert intreall_group(lineage, site, tp).group == group


# clinical_rules.md §1.5 UK ALLR3 group lists: all 18 cells
ALLR3_CELLS = [
    ("BCP", "iem", L, "SR"), ("T", "iem", L, "SR"),            # SR: late IEM (T by assumption)
    ("BCP", "iem", E, "IR"), ("T", "iem", E, "IR"),            # IR: early IEM
    ("BCP", "isolated_bm", L, "IR"),                           # IR: late isolated BCP marrow
    ("BCP", "combined", E, "IR"), ("BCP", "combined", L, "IR"),  # IR: early/late combined BCP
    ("BCP", "iem", VE, "HR"), ("T", "iem", VE, "HR"),          # HR: very early IEM
    ("BCP", "isolated_bm", E, "HR"),                           # HR: BCP early isolated marrow
    ("BCP", "isolated_bm", VE, "HR"), ("BCP", "combined", VE, "HR"),  # HR: BCP very early marrow
    *[("T", s, t, "HR") for s in ("combined", "isolated_bm") for t in (VE, E, L)],  # HR: T marrow
]


@pytest.mark.parametrize(("lineage", "site", "tp", "group"), ALLR3_CELLS)
def test_allr3_every_cell(lineage, site, tp, group):
    assert len(ALLR3_CELLS) == 18
    g = allr3_group(lineage, site, tp)
    assert g.group == group
    expected = {"SR": "chemotherapy", "HR": "allo-SCT for all"}.get(group)
    if expected:
        assert g.consolidation == expected
    else:  # IR: the 1e-4 MRD rule (§1.5)
        assert "0.0001 (0.01 %)" in (g.consolidation or "")  # 1e-4 (Parker, Lancet 2010)


# clinical_rules.md §1.6 COG AALL1331: EOB1 MRD threshold 0.1 % = 1e-3 (C)
D = dt.date(2022, 1, 1)
COG_CELLS = [
    # (lineage, site, COG time point, EOB1 MRD or None, group)
    ("BCP", "isolated_bm", "early", None, "HR"),
    ("BCP", "combined", "early", None, "HR"),
    ("BCP", "iem", "early", None, "HR"),
    ("BCP", "isolated_bm", "late", mrd(2e-3, D), "IR"),
    ("BCP", "combined", "late", mrd(1e-3, D), "IR"),   # boundary: exactly 0.1 % -> IR (>=)
    ("BCP", "iem", "late", mrd(5e-3, D), "IR"),
    ("BCP", "isolated_bm", "late", mrd(9.9e-4, D), "LR"),
    ("BCP", "combined", "late", mrd(None, D), "LR"),   # negative with LoD 1e-5
    ("BCP", "iem", "late", mrd(2e-4, D), "LR"),
    # T-ALL: COG general scheme, any site/timing -> HR (not AALL1331)
    *[("T", s, t, None, "HR") for s in ("iem", "combined", "isolated_bm") for t in ("early", "late")],
]


@pytest.mark.parametrize(("lineage", "site", "tp", "m", "group"), COG_CELLS)
def test_cog_every_cell(lineage, site, tp, m, group):
    g = cog_group(lineage, site, tp, m)
    assert g.group == group
    if lineage == "T":
        assert g.scheme == "COG (general)" and "not eligible" in (g.note or "")


def test_cog_late_without_mrd_is_pending():
    g = cog_group("BCP", "isolated_bm", "late", None)
    assert g.group is None and g.candidates == ("LR", "IR")


def test_cog_negative_with_insufficient_sensitivity_is_pending():
    # §4.3: "MRD < 0.1 % with sensitivity only 1e-3 counts as not negative" -> cannot tell
    g = cog_group("BCP", "isolated_bm", "late", mrd(None, D, lod=2e-3))
    assert g.group is None and "sensitivity" in (g.pending or "")


# -- time points: calendar months and the boundaries (§1.2) -----------------------------------

DX = dt.date(2016, 3, 15)
END = dt.date(2018, 6, 30)


@pytest.mark.parametrize(("relapse", "end", "expected"), [
    (dt.date(2017, 9, 14), END, VE),   # 18 months minus 1 day -> very early
    (dt.date(2017, 9, 15), END, E),    # exactly 18 calendar months -> not very early (>=)
    (dt.date(2018, 12, 29), END, E),   # 6 months after end minus 1 day -> early
    (dt.date(2018, 12, 30), END, L),   # exactly 6 calendar months after end -> late
    (dt.date(2019, 6, 1), END, L),
    (dt.date(2017, 9, 15), None, None),  # >= 18 months, end unknown: never inferred
    (dt.date(2017, 9, 14), None, VE),  # very early needs no end date
])
def test_bfm_time_point_boundaries(relapse, end, expected):
    assert bfm_time_point(DX, relapse, end) == expected


def test_month_end_clamping():
    # 31 Aug + 6 months = 28 Feb (2021 not a leap year); 31 Aug 2019 + 6 = 29 Feb 2020
    assert add_months(dt.date(2020, 8, 31), 6) == dt.date(2021, 2, 28)
    assert add_months(dt.date(2019, 8, 31), 6) == dt.date(2020, 2, 29)
    end = dt.date(2020, 8, 31)
    assert bfm_time_point(dt.date(2018, 1, 1), dt.date(2021, 2, 27), end) == E
    assert bfm_time_point(dt.date(2018, 1, 1), dt.date(2021, 2, 28), end) == L


@pytest.mark.skipif(importlib.util.find_spec("dateutil") is None, reason="dateutil not installed")
@given(st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2090, 12, 31)),
       st.integers(min_value=0, max_value=600))
def test_add_months_matches_relativedelta(day, months):
    from dateutil.relativedelta import relativedelta  # oracle

    assert add_months(day, months) == day + relativedelta(months=months)


@given(st.integers(min_value=0, max_value=3000), st.integers(min_value=0, max_value=3000))
def test_time_point_never_goes_back(d1, d2):
    """Invariant: a later relapse date never gets an earlier category."""
    order = {VE: 0, E: 1, L: 2}
    a, b = sorted((d1, d2))
    ra, rb = DX + dt.timedelta(days=a), DX + dt.timedelta(days=b)
    assert order[bfm_time_point(DX, ra, END)] <= order[bfm_time_point(DX, rb, END)]


@pytest.mark.parametrize(("site", "relapse", "expected"), [
    ("isolated_bm", dt.date(2019, 3, 14), "early"),  # 36 months minus 1 day
    ("isolated_bm", dt.date(2019, 3, 15), "late"),   # exactly 36 months -> late
    ("combined", dt.date(2019, 3, 15), "late"),
    ("iem", dt.date(2017, 9, 14), "early"),          # 18 months minus 1 day (IEM cut-off [R])
    ("iem", dt.date(2017, 9, 15), "late"),           # exactly 18 months -> late
])
def test_cog_time_point_boundaries(site, relapse, expected):
    assert cog_time_point(DX, relapse, site) == expected


@pytest.mark.parametrize(("case_site", "site"), [
    ("isolated_bm", "isolated_bm"), ("combined", "combined"), ("isolated_cns", "iem"),
    ("isolated_testis", "iem"), ("other_em", "iem")])
def test_risk_site(case_site, site):
    assert risk_site(case_site) == site


@pytest.mark.parametrize("bad", [None, "B", "", "t"])
def test_bad_lineage(bad):
    with pytest.raises(ValidationError, match=r"lineage must be one of BCP, T, but was"):
        bfm_group(bad, "iem", L)


def test_bad_site_and_time_point():
    with pytest.raises(ValidationError, match=r"site must be one of .*, but was 'marrow'"):
        risk_site("marrow")
    with pytest.raises(ValidationError, match=r"time_point must be one of very_early, early, late"):
        intreall_group("BCP", "iem", "soon")
    with pytest.raises(ValidationError, match=r"relapse date must be on or after diagnosis"):
        bfm_time_point(DX, dt.date(2010, 1, 1), END)


# -- worked examples of §1.7 (case level) ------------------------------------------------------

DXW = dt.date(2014, 1, 15)


def test_worked_example_1():
    # BCP isolated BM, 30 mo after dx, 4 mo after end -> early -> S3, IntReALL HR, ALLR3 HR; COG HR
    c = make_case(dx=DXW, relapse=dt.date(2016, 7, 15), end=dt.date(2016, 3, 15))
    r = stratify(c)
    assert (r.time_point, r.bfm.group, r.intreall.group, r.allr3.group, r.cog.group) == \
        ("early", "S3", "HR", "HR", "HR")
    assert r.transplant.decision == "indicated"  # S3: HSCT for all


def test_worked_example_2():
    # BCP isolated CNS, 40 mo after dx, 12 mo after end -> late IEM -> S1, SR, SR; COG LR/IR by EOB1
    rel = dt.date(2017, 5, 15)
    c = make_case(dx=DXW, relapse=rel, end=dt.date(2016, 5, 15), site="isolated_cns", blasts=0)
    r = stratify(c)
    assert (r.time_point, r.site, r.bfm.group, r.intreall.group, r.allr3.group) == \
        ("late", "iem", "S1", "SR", "SR")
    assert r.cog.group is None and r.cog.candidates == ("LR", "IR")
    assert r.transplant.decision == "not_indicated"
    lo = stratify(c, [mrd(5e-4, rel + dt.timedelta(days=35), timepoint="end_of_block_1")])
    hi = stratify(c, [mrd(2e-3, rel + dt.timedelta(days=35), timepoint="end_of_block_1")])
    assert (lo.cog.group, hi.cog.group) == ("LR", "IR")


def _example_3_case():
    # BCP isolated BM, 50 mo after dx, 20 mo after end of therapy
    return make_case(dx=DXW, relapse=dt.date(2018, 3, 15), end=dt.date(2016, 7, 15))


def test_worked_example_3():
    # post-induction MRD 2e-3 -> S2 -> HSCT (BFM cut-off 1e-3); ALLR3 IR -> SCT; COG EOB1 0.2 % -> IR
    c = _example_3_case()
    eoi = dt.date(2018, 4, 20)
    r = stratify(c, [mrd(2e-3, eoi)])
    assert (r.time_point, r.bfm.group, r.allr3.group) == ("late", "S2", "IR")
    assert r.transplant.decision == "indicated" and r.transplant.mrd_threshold == 1e-3
    assert r.transplant.mrd_value == 2e-3 and r.transplant.mrd.method == "flow"
    assert r.transplant.alternatives[0]["decision"] == "indicated"  # ALLR3 1e-4
    assert r.cog.group == "IR"  # end_of_induction read as EOB1 (rule cog_eob1_timepoints [U])
    assert "cog_eob1_timepoints" in {x["name"] for x in r.rules}


def test_worked_example_4_cutoff_divergence():
    # same as 3 with MRD 5e-4: BFM S2 -> chemotherapy; ALLR3 IR -> SCT (1e-4)
    c = _example_3_case()
    r = stratify(c, [mrd(5e-4, dt.date(2018, 4, 20))])
    assert r.transplant.decision == "not_indicated"
    assert r.transplant.alternatives[0]["decision"] == "indicated"
    r3 = stratify(c, [mrd(5e-4, dt.date(2018, 4, 20))], rules={"transplant_backbone": "allr3"})
    assert r3.transplant.decision == "indicated" and r3.transplant.mrd_threshold == 1e-4
    assert any(x["name"] == "transplant_backbone" and x["tag"] == "user" for x in r3.rules)


# -- transplant rule details ---------------------------------------------------------------------

def test_transplant_pending_without_mrd():
    r = stratify(_example_3_case())
    assert r.transplant.decision == "pending_mrd" and r.transplant.mrd is None


def test_transplant_pnq_and_insufficient_sensitivity():
    c = _example_3_case()
    eoi = dt.date(2018, 4, 20)
    # PNQ below a LoQ of 1e-4: below the BFM 1e-3 cut-off, but at the ALLR3 1e-4 cut-off the value
    # (< LoQ = 1e-4) is still below -> not indicated in both
    pnq = mrd(5e-5, eoi, status="positive_not_quantifiable", loq=1e-4)
    r = stratify(c, [pnq])
    assert r.transplant.decision == "not_indicated"
    assert "LoQ" in r.transplant.mrd.display  # never a plain number below the LoQ
    # negative with LoD 5e-4: fine against 1e-3, cannot decide against 1e-4
    neg = mrd(None, eoi, lod=5e-4)
    r = stratify(c, [neg])
    assert r.transplant.decision == "not_indicated"
    assert r.transplant.alternatives[0]["decision"] == "pending_mrd"


def test_transplant_uses_earliest_post_relapse_marrow_value():
    c = _example_3_case()
    before = mrd(5e-2, dt.date(2018, 3, 1))  # before the relapse: ignored
    blood = mrd(5e-2, dt.date(2018, 4, 20)).model_copy(update={"material": "peripheral_blood"})
    later = mrd(5e-2, dt.date(2018, 6, 1))
    first = mrd(2e-4, dt.date(2018, 4, 20))
    r = stratify(c, [before, blood, later, first])
    assert r.transplant.mrd_value == 2e-4 and r.transplant.decision == "not_indicated"


def test_unlabelled_mrd_at_induction_end_is_used():
    c = make_case(dx=DXW, relapse=dt.date(2018, 3, 15), end=dt.date(2016, 7, 15), extra={
        "therapies": [{"name": "reinduction (induction block)", "kind": "chemotherapy",
                       "start": "2018-03-20", "end": "2018-04-18"}]})
    r = stratify(c, [mrd(3e-3, dt.date(2018, 4, 18), timepoint="")])
    assert r.transplant.decision == "indicated"
    assert "mrd_at_induction_end_date" in {x["name"] for x in r.rules}


@pytest.mark.parametrize(("site", "end", "decision"), [
    ("combined", dt.date(2017, 12, 1), "indicated"),      # early combined BCP -> HSCT (IntReALL, C)
    ("isolated_cns", dt.date(2017, 12, 1), "indicated"),  # early IEM -> HSCT (IntReALL, C)
    ("isolated_cns", dt.date(2016, 1, 1), "not_indicated"),  # late IEM = S1 -> chemotherapy
])
def test_intreall_early_s2_rule(site, end, decision):
    c = make_case(dx=DXW, relapse=dt.date(2018, 3, 15), end=end, site=site,
                  blasts=30 if site == "combined" else 0)
    r = stratify(c)
    assert r.transplant.decision == decision


# -- out-of-scheme cases are flagged, not forced into a group ---------------------------------------

def _flags(r):
    return {f.code for f in r.flags}


def test_relapse_after_hsct_flagged():
    c = make_case(extra={"transplants": [{"date": "2016-01-10", "donor": "matched_sibling"}]})
    r = stratify(c)
    assert "relapse_after_hsct" in _flags(r)
    assert r.bfm is r.intreall is r.allr3 is r.cog is None and r.transplant is None
    flag = next(f for f in r.flags if f.code == "relapse_after_hsct")
    assert flag.table_lookup["bfm"] == "S2"  # what the table alone says, for the reader


def test_second_relapse_flagged():
    c = make_case(relapses=[
        {"number": 1, "date": "2019-01-10", "site": "isolated_bm", "marrow_blasts_percent": 60},
        {"number": 2, "date": "2020-05-10", "site": "isolated_bm", "marrow_blasts_percent": 40}])
    r = stratify(c)
    assert "second_relapse" in _flags(r) and r.bfm is None and r.transplant is None


@pytest.mark.parametrize("name", ["BCR::ABL1", "t(9;22)", "BCR-ABL1", "Ph+"])
def test_ph_positive_flagged(name):
    c = make_case(dx_lesions=[{"name": name, "kind": "fusion"}])
    r = stratify(c)
    assert "ph_positive" in _flags(r) and r.intreall is None and r.cog is None and r.bfm is None


def test_age_outside_schemes():
    # 20 y at relapse: outside IntReALL (1-17) and ALLR3 (1-18), inside AALL1331 (1-30)
    r = stratify(make_case(age_at_dx=16.0))
    assert r.intreall is None and r.allr3 is None and r.cog is not None and r.bfm is not None
    assert {f.schemes[0] for f in r.flags if f.code == "age_outside_scheme"} == {"IntReALL", "UK ALLR3"}
    # infant: 0.5 y at relapse -> outside all three age ranges
    c = make_case(age_at_dx=0.1, dx=dt.date(2020, 1, 1), relapse=dt.date(2020, 6, 1), end=None)
    r = stratify(c)
    assert r.intreall is None and r.allr3 is None and r.cog is None


def test_missing_end_of_frontline_uses_only_agreeing_cells():
    # T combined: S4 / HR / HR whether early or late -> given; BCP isolated BM differs -> None
    t = stratify(make_case(lineage="T", site="combined", end=None))
    assert t.time_point is None and (t.bfm.group, t.intreall.group, t.allr3.group) == ("S4", "HR", "HR")
    assert "missing_frontline_end_date" in _flags(t) and t.transplant.decision == "indicated"
    b = stratify(make_case(end=None))
    assert b.bfm is None and b.allr3 is None and b.intreall is None


def test_prior_blinatumomab_excludes_aall1331():
    c = make_case(extra={"therapies": [{"name": "blinatumomab", "kind": "bispecific",
                                        "start": "2015-06-01", "end": "2015-07-01"}]})
    r = stratify(c)
    assert r.cog is None and "prior_blinatumomab" in _flags(r)


def test_site_definition_warnings():
    r = stratify(make_case(site="isolated_bm", blasts=10))
    assert any(">= 25 %" in w for w in r.warnings)
    r = stratify(make_case(site="isolated_cns", blasts=12))
    assert any("< 5 %" in w for w in r.warnings)


def test_no_relapse():
    c = make_case(relapses=[])
    r = stratify(c)
    assert r.bfm is None and _flags(r) == {"no_relapse"}


def test_unknown_rule_override_is_an_error():
    with pytest.raises(ValidationError, match="unknown parameter 'bfm_cutoff'"):
        stratify(make_case(), rules={"bfm_cutoff": 1e-2})


# -- the example cases (src/remission/synth/examples.py) --------------------------------------------

def test_examples(example_loaded):
    late = stratify(*example_loaded["late-bm-bcp"])
    # dx 2015-02-03, relapse 2019-03-11 (49 mo), end 2017-05-20 (21 mo before) -> late isolated BM
    assert (late.time_point, late.bfm.group, late.intreall.group, late.allr3.group) == \
        ("late", "S2", "SR", "IR")
    ph = stratify(*example_loaded["ph-like-very-early"])
    # dx 2021-01-12, relapse 2022-03-01 (13 mo) -> very early isolated BM -> S4 / HR / HR; COG HR
    assert (ph.time_point, ph.bfm.group, ph.intreall.group, ph.allr3.group, ph.cog.group) == \
        ("very_early", "S4", "HR", "HR", "HR")
    assert ph.cog is not None  # blinatumomab came after the relapse, not before
    t = stratify(*example_loaded["t-all-early-combined"])
    # dx 2018-05-02, relapse 2020-12-01 (31 mo), end 2020-08-14 (3.5 mo before) -> early combined T
    assert (t.time_point, t.bfm.group, t.intreall.group, t.allr3.group, t.cog.group) == \
        ("early", "S4", "HR", "HR", "HR")
    assert t.transplant.decision == "indicated" and "relapse_after_hsct" not in _flags(t)


# -- cross-checks between the schemes (clinical_rules.md §1.4 mapping) ----------------------------

ALL_KEYS = [(lin, s, t) for lin in ("BCP", "T") for s in ("iem", "combined", "isolated_bm")
            for t in (VE, E, L)]


@pytest.mark.parametrize(("lineage", "site", "tp"), ALL_KEYS)
def test_intreall_sr_is_bfm_s1_s2_minus_very_early_iem(lineage, site, tp):
    # §1.4: "IntReALL SR = S1 ∪ S2 minus very-early IEM; IntReALL HR = S3 ∪ S4 ∪ very-early IEM"
    bfm = bfm_group(lineage, site, tp).group
    sr = bfm in ("S1", "S2") and not (site == "iem" and tp == VE)
    assert intreall_group(lineage, site, tp).group == ("SR" if sr else "HR")


@pytest.mark.parametrize(("lineage", "site", "tp"), ALL_KEYS)
def test_bfm_s3_s4_are_allr3_hr_and_s1_is_allr3_sr(lineage, site, tp):
    bfm = bfm_group(lineage, site, tp).group
    allr3 = allr3_group(lineage, site, tp).group
    if bfm in ("S3", "S4"):
        assert allr3 == "HR"
    if bfm == "S1":
        assert allr3 == "SR"


def test_only_a_later_relapse_recorded_is_flagged():
    c = make_case(relapses=[{"number": 2, "date": "2019-01-10", "site": "isolated_bm",
                             "marrow_blasts_percent": 60}])
    r = stratify(c)
    assert r.relapse_number == 2 and "second_relapse" in _flags(r) and r.bfm is None
    with pytest.raises(ValidationError, match=r"relapse_number must be one of \[2\], but was 1"):
        stratify(c, relapse_number=1)
