"""The ``sim_timeline`` pipeline step: the strategy timeline in ``analyze``, the report and its
JSON, always labelled a model projection (issue 17)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from remission.domain import Case, CaseAnalysis
from remission.domain.results import SimTimelineResult


@pytest.fixture(scope="module")
def late_bm(example_cases: dict[str, Path]) -> CaseAnalysis:
    from remission.pipeline import analyze

    return analyze(example_cases["late-bm-bcp"], targets=("sim_timeline",))


def test_step_on_late_bm_bcp_is_a_labelled_model_projection(late_bm: CaseAnalysis) -> None:
    from remission.steps.sim_timeline import DEFAULTS

    sec = late_bm.section("sim_timeline")
    assert sec is not None and sec.error is None
    res = sec.result
    assert isinstance(res, SimTimelineResult)
    assert res.kind == "sim_timeline" and res.label == "model projection"
    assert res.draws == DEFAULTS["draws"] and res.proposals == DEFAULTS["proposals"]
    rel = res.time_to_haematological_relapse_days
    # the example's MRD rises from 2e-3 untreated, so every draw relapses within the year
    assert rel.share_within_horizon == 1.0
    assert rel.q05 is not None and rel.q50 is not None and rel.q95 is not None
    assert 0 <= rel.q05 <= rel.q50 <= rel.q95 <= res.horizon_days
    assert [o.option for o in res.options] == ["CAR-T (enrolment to infusion)", "unrelated donor identified",
                                               "HSCT (donor found and consolidation in remission)"]
    assert [b.bridge for b in res.bridges] == ["blinatumomab", "inotuzumab", "chemotherapy"]
    assert all(b.reasons for b in res.bridges)
    # the projection starts at the last MRD result used by the fit
    assert res.projection_start_date == max(m.date for m in late_bm.mrd if m.date is not None
                                            and m.material != "peripheral_blood")
    # it rests on the simulator's recalled/uncertain rules, listed on the section too
    assert res.rests_on and {r.tag for r in res.rests_on} <= {"R", "U"}
    assert [r.name for r in sec.rests_on] == [r.name for r in res.rests_on]


def test_report_html_shows_the_timeline_with_its_label(late_bm: CaseAnalysis) -> None:
    from remission.report import render_html

    html = render_html(late_bm)
    part = html[html.index('<section id="section-sim_timeline"'):]
    assert "MODEL PROJECTION" in part[:2000]
    assert "Projected time to haematological relapse" in part
    assert "not a recommendation" in part


def test_budget_and_simulator_rules_are_overridable(example_cases: dict[str, Path]) -> None:
    from remission.pipeline import analyze

    a = analyze(example_cases["late-bm-bcp"], targets=("sim_timeline",),
                parameters={"sim_timeline": {"draws": 50, "proposals": 200, "horizon_days": 200,
                                             "blina_burden_half_effect": 0.5}})
    sec = a.section("sim_timeline")
    assert sec is not None and isinstance(sec.result, SimTimelineResult)
    assert (sec.result.draws, sec.result.proposals, sec.result.horizon_days) == (50, 200, 200)
    user = {r.name: r for r in sec.result.rests_on if r.tag == "user"}
    assert user["blina_burden_half_effect"].value == 0.5
    # an unknown name is refused (the section fails naming it), never silently ignored
    bad = analyze(example_cases["late-bm-bcp"], targets=("sim_timeline",),
                  parameters={"sim_timeline": {"no_such_rule": 1}})
    failed = bad.section("sim_timeline")
    assert failed is not None and failed.error is not None and "no_such_rule" in failed.error


def _case(mrd: list[dict[str, object]]) -> Case:
    return Case.model_validate({
        "patient": {"id": "SIM-1", "sex": "female", "date_of_birth": "2014-03-01"},
        "diagnosis": {"date": "2019-05-10", "lineage": "B"},
        "relapses": [{"number": 1, "date": "2023-02-01", "site": "isolated_bm", "marrow_blasts_percent": 60}],
        "mrd_reports": mrd,
    })


def test_case_without_mrd_gets_no_section(tmp_path: Path) -> None:
    from remission.pipeline import analyze_case

    a = analyze_case(_case([]), tmp_path)
    assert a.section("sim_timeline") is None and not a.failures


def test_latest_result_negative_is_projected_not_failed(tmp_path: Path) -> None:
    """The fit window starts at the last negative result; when that is the latest result the
    window holds that one result (day 0) and the fit simulates at least one day."""
    from remission.pipeline import analyze_case

    a = analyze_case(_case([
        {"date": "2023-03-01", "method": "pcr", "value": 2e-3, "lod": 5e-5, "loq": 1e-4},
        {"date": "2023-04-15", "method": "pcr", "value": None, "lod": 5e-5, "loq": 1e-4},
    ]), tmp_path)
    sec = a.section("sim_timeline")
    assert sec is not None and sec.error is None and isinstance(sec.result, SimTimelineResult)
    assert sec.result.projection_start_date == dt.date(2023, 4, 15)
    assert sec.result.now_offset_days == 0
    # MRD negative now: no draw is in haematological relapse today
    assert sec.result.in_relapse_now_share == 0.0
