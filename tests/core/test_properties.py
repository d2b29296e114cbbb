"""Property tests (hypothesis) for invariants of the foundation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remission.domain import Case, MrdResult, Rule, format_mrd, resolve, rests_on, rule_set
from remission.errors import CaseFileError, ValidationError
from remission.io.casefile import parse_case
from remission.pipeline import build_timeline

DAY = dt.timedelta(days=1)
dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2040, 12, 31))
gaps = st.integers(min_value=0, max_value=3000)


@st.composite
def valid_cases(draw: st.DrawFn) -> dict[str, Any]:
    """A case whose dates are in any valid order: birth <= diagnosis <= everything else."""
    dx = draw(dates)
    dob = dx - draw(gaps) * DAY
    n_rel = draw(st.integers(0, 3))
    rel_dates = sorted(dx + draw(gaps) * DAY for _ in range(n_rel))
    therapies = []
    for _ in range(draw(st.integers(0, 3))):
        start = dx + draw(gaps) * DAY
        end = start + draw(gaps) * DAY if draw(st.booleans()) else None
        therapies.append({"name": "t", "start": start.isoformat(), "end": end and end.isoformat()})
    frontline_end = dx + draw(gaps) * DAY if draw(st.booleans()) else None
    return {
        "patient": {"id": "P", "date_of_birth": dob.isoformat()},
        "diagnosis": {"date": dx.isoformat(), "lineage": draw(st.sampled_from(["B", "T"]))},
        "frontline": {"end_date": frontline_end and frontline_end.isoformat()},
        "relapses": [{"number": i + 1, "date": d.isoformat(),
                      "site": draw(st.sampled_from(["isolated_bm", "combined", "isolated_cns",
                                                    "isolated_testis", "other_em"]))}
                     for i, d in enumerate(rel_dates)],
        "therapies": therapies,
        "transplants": [{"date": (dx + draw(gaps) * DAY).isoformat(), "donor": "haploidentical"}]
        if draw(st.booleans()) else [],
    }


@settings(max_examples=150, deadline=None)
@given(valid_cases())
def test_any_valid_date_order_loads(data: dict[str, Any]) -> None:
    case = parse_case(data, source="case.yaml")
    tl = build_timeline(case)
    assert [e.start for e in tl] == sorted(e.start for e in tl)
    assert min(e.start for e in tl) == case.diagnosis.date
    assert sum(e.kind == "relapse" for e in tl) == len(case.relapses)
    # the age at diagnosis is never negative when birth is not after diagnosis
    assert case.age_at(case.diagnosis.date) >= 0


@settings(max_examples=100, deadline=None)
@given(valid_cases(), st.integers(1, 5000))
def test_anything_dated_before_diagnosis_is_refused(data: dict[str, Any], days: int) -> None:
    dx = dt.date.fromisoformat(data["diagnosis"]["date"])
    early = (dx - days * DAY).isoformat()
    data["relapses"] = [{"number": 1, "date": early, "site": "isolated_bm"}]
    with pytest.raises(CaseFileError, match=r"^case\.yaml: relapses\[0\]\.date: .*before diagnosis"):
        parse_case(data, source="case.yaml")
    data["relapses"] = []
    data["patient"]["date_of_birth"] = (dx + days * DAY).isoformat()
    with pytest.raises(CaseFileError, match=r"^case\.yaml: patient\.date_of_birth: .*after diagnosis"):
        parse_case(data, source="case.yaml")


fractions = st.floats(min_value=0, max_value=1, allow_nan=False, exclude_min=True)
limits = st.one_of(st.none(), st.floats(min_value=1e-7, max_value=1e-2, allow_nan=False))


@settings(max_examples=300, deadline=None)
@given(fractions, fractions, limits, limits)
def test_below_loq_is_never_shown_as_a_number(v1: float, v2: float, lod: float | None, loq: float | None) -> None:
    # the text for a positive-not-quantifiable result does not depend on the point estimate at all,
    # so no rendering of the value can leak into it
    a = format_mrd("positive_not_quantifiable", v1, lod, loq)
    b = format_mrd("positive_not_quantifiable", v2, lod, loq)
    assert a == b
    assert a.startswith("positive")
    assert "LoQ" in a or "not quantifiable" in a
    m = MrdResult(method="flow", status="positive_not_quantifiable", value=v1, lod=lod, loq=loq)
    assert m.display() == a


@given(limits)
def test_negative_shows_no_value(lod: float | None) -> None:
    text = format_mrd("negative", None, lod, None)
    assert text.startswith("negative")
    if lod is not None:
        assert text.startswith("negative (< ")


@given(fractions)
def test_status_and_value_are_consistent(v: float) -> None:
    with pytest.raises(ValueError, match="negative MRD result has no value"):
        MrdResult(method="ngs", status="negative", value=v)
    with pytest.raises(ValueError, match="positive MRD result needs a value"):
        MrdResult(method="ngs", status="positive", value=None)


DEFAULTS = rule_set(
    Rule("alpha", 1, "C", "Test A et al., J Test 2020;1:1"),
    Rule("beta", 2.5, "R", "Test B et al., J Test 2021;2:2"),
    Rule("gamma", "x", "U", "recalled, no primary source checked"),
)


@given(st.dictionaries(st.sampled_from(sorted(DEFAULTS)),
                       st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=5))))
def test_resolve_marks_overrides_user(overrides: dict[str, Any]) -> None:
    rules = resolve(DEFAULTS, overrides)
    assert set(rules) == set(DEFAULTS)
    for name, rule in rules.items():
        if name in overrides:
            assert rule.tag == "user" and rule.value == overrides[name] and rule.source == "set by user"
        else:
            assert rule == DEFAULTS[name]
    listed = {r["name"] for r in rests_on(rules.values())}
    # what a result "rests on": every R/U rule and every user override, never an untouched C rule
    assert listed == {"beta", "gamma"} | set(overrides)


@given(st.text(min_size=1, max_size=8).filter(lambda s: s not in DEFAULTS))
def test_resolve_refuses_unknown_names(name: str) -> None:
    with pytest.raises(ValidationError, match="unknown parameter"):
        resolve(DEFAULTS, {name: 1})


def test_rule_set_refuses_duplicates() -> None:
    with pytest.raises(ValueError, match="duplicate rule name 'a'"):
        rule_set(Rule("a", 1, "C", "s"), Rule("a", 2, "C", "s"))


@settings(max_examples=50, deadline=None)
@given(valid_cases())
def test_case_json_round_trip(data: dict[str, Any]) -> None:
    case = parse_case(data)
    again = Case.model_validate_json(case.model_dump_json(by_alias=True))
    assert again == case
