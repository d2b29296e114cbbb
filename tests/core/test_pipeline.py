"""The pipeline: steps register themselves, run in order, and a failing step does not stop the rest."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from remission.domain import Case, EngineSection, MrdResult, OptionsResult
from remission.errors import AirrFormatError, InputError
from remission.pipeline import (
    StepContext,
    analyze,
    analyze_case,
    build_timeline,
    registered_steps,
    run_order,
    upstream_of,
)
from remission.steps._base import registry, step


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """Test steps are registered for one test only; the engines' own steps stay untouched."""
    registered_steps()  # import the real steps first, so the snapshot includes them
    saved = dict(registry)
    registry.clear()
    try:
        yield
    finally:
        registry.clear()
        registry.update(saved)


def _case(**extra: Any) -> Case:
    data: dict[str, Any] = {
        "patient": {"id": "T1", "date_of_birth": "2010-01-01"},
        "diagnosis": {"date": "2015-01-01", "lineage": "B"},
        "frontline": {"end_date": "2017-01-01"},
        "relapses": [{"number": 1, "date": "2018-06-01", "site": "isolated_bm"}],
    }
    data.update(extra)
    return Case.model_validate(data)


def test_registered_step_runs(clean_registry: None, tmp_path: Path) -> None:
    seen: list[str] = []

    @step("t_probe", title="Probe")
    def run(ctx: StepContext) -> EngineSection:
        seen.append(ctx.case.id)
        return EngineSection(name="t_probe", title="Probe",
                             result=OptionsResult(notes=[f"relapses={len(ctx.case.relapses)}"]))

    analysis = analyze_case(_case(), tmp_path)
    assert seen == ["T1"]
    sec = analysis.section("t_probe")
    assert sec is not None and sec.error is None
    assert sec.result == OptionsResult(notes=["relapses=1"])


def test_failing_step_becomes_error_section_and_others_run(clean_registry: None, tmp_path: Path) -> None:
    @step("t_first", title="First")
    def first(ctx: StepContext) -> EngineSection:
        return EngineSection(name="t_first", title="First", result=OptionsResult(notes=["ok"]))

    @step("t_bad", title="Bad input", needs=("t_first",))
    def bad(ctx: StepContext) -> EngineSection:
        raise AirrFormatError("expected an integer, got 'n/a'", path="dx.tsv", line=12, field="duplicate_count")

    @step("t_after", title="After", needs=("t_first", "t_bad"))
    def after(ctx: StepContext) -> EngineSection:
        # later steps see earlier sections, including failed ones
        return EngineSection(name="t_after", title="After",
                             warnings=(f"saw={sorted(ctx.sections)}",
                                       f"bad_failed={ctx.sections['t_bad'].error is not None}"))

    analysis = analyze_case(_case(), tmp_path)
    assert [s.name for s in analysis.sections] == ["t_first", "t_bad", "t_after"]
    bad_sec = analysis.section("t_bad")
    assert bad_sec is not None
    assert bad_sec.error == "AIRR file 'dx.tsv', line 12, field duplicate_count: expected an integer, got 'n/a'"
    assert bad_sec.result is None
    assert analysis.section("t_after").warnings == ("saw=['t_bad', 't_first']", "bad_failed=True")  # type: ignore[union-attr]
    assert any(w.startswith("Bad input: AIRR file 'dx.tsv'") for w in analysis.warnings)


def test_strict_propagates_the_error(clean_registry: None, tmp_path: Path) -> None:
    @step("t_bad", title="Bad")
    def bad(ctx: StepContext) -> EngineSection:
        raise InputError("broken", path="x.tsv")

    with pytest.raises(InputError, match="broken"):
        analyze_case(_case(), tmp_path, strict=True)


def test_engine_bug_is_contained(clean_registry: None, tmp_path: Path) -> None:
    @step("t_bug", title="Buggy")
    def bug(ctx: StepContext) -> EngineSection:
        raise ZeroDivisionError("oops")

    analysis = analyze_case(_case(), tmp_path)
    assert analysis.section("t_bug").error == "internal error: ZeroDivisionError('oops')"  # type: ignore[union-attr]


def test_steps_run_in_order_and_only_when_they_apply(clean_registry: None, tmp_path: Path) -> None:
    calls: list[str] = []

    def make(name: str, needs: tuple[str, ...] = (), applies: Any = lambda case: True) -> None:
        @step(name, title=name, needs=needs, applies=applies)
        def run(ctx: StepContext) -> EngineSection | None:
            calls.append(name)
            return None if name == "t_none" else EngineSection(name=name, title=name)

    make("t_late", needs=("t_none", "t_early"))  # declared first, runs after what it needs
    make("t_early")
    make("t_none", needs=("t_early",))  # returns None: runs, adds no section
    make("t_cart", applies=lambda case: bool(case.cart_infusions))  # this case has no CAR-T
    progress: list[str] = []
    analysis = analyze_case(_case(), tmp_path, progress=progress.append)
    assert calls == ["t_early", "t_none", "t_late"]
    assert progress == calls
    assert [s.name for s in analysis.sections] == ["t_early", "t_late"]


def test_steps_add_mrd_and_reported_mrd_is_included(clean_registry: None, tmp_path: Path) -> None:
    @step("t_mrd", title="MRD", provides=("mrd",))
    def run(ctx: StepContext) -> EngineSection:
        assert [m.source for m in ctx.mrd] == ["reported"]
        ctx.mrd.append(MrdResult(method="ngs", status="positive", value=3e-4, lod=1e-6, loq=1e-5,
                                 date=dt.date(2018, 7, 1), sample_id="FU1"))
        return EngineSection(name="t_mrd", title="MRD")

    case = _case(mrd_reports=[
        {"date": "2018-08-01", "method": "flow", "value": 2e-5, "lod": 1e-5, "loq": 5e-5},
    ])
    analysis = analyze_case(case, tmp_path)
    # sorted by date: computed 2018-07-01 first, then the reported 2018-08-01
    assert [(m.method, m.source) for m in analysis.mrd] == [("ngs", "computed"), ("flow", "reported")]
    # the reported value 2e-5 is below its LoQ 5e-5: positive but not quantifiable
    assert analysis.mrd[1].status == "positive_not_quantifiable"


def test_reported_mrd_status_inference() -> None:
    case = _case(mrd_reports=[
        {"date": "2018-07-01", "method": "flow", "value": 0, "lod": 1e-5},  # zero -> negative
        {"date": "2018-07-02", "method": "pcr", "value": 1e-3, "lod": 1e-5, "loq": 1e-4},  # >= LoQ
        {"date": "2018-07-03", "method": "ngs", "status": "negative", "lod": 1e-6},
    ])
    mrd = [rep.to_result() for rep in case.mrd_reports]
    assert [m.status for m in mrd] == ["negative", "positive", "negative"]
    assert mrd[0].value is None and mrd[1].value == 1e-3


def test_build_timeline_orders_events() -> None:
    case = _case(
        therapies=[
            {"name": "consolidation", "start": "2018-08-01", "end": "2018-10-01"},
            {"name": "induction", "start": "2018-06-08", "end": "2018-07-06", "best_response": "CR"},
        ],
        transplants=[{"date": "2018-11-15", "donor": "matched_sibling"}],
        cart_infusions=[{"product": "tisagenlecleucel", "date": "2019-05-01"}],
    )
    tl = build_timeline(case)
    assert [e.kind for e in tl] == ["diagnosis", "frontline", "relapse", "therapy", "therapy", "hsct", "cart"]
    assert [e.start for e in tl] == sorted(e.start for e in tl)
    assert tl[0].label == "Diagnosis (B-ALL)"
    assert tl[1].end == dt.date(2017, 1, 1)  # frontline spans diagnosis -> end of frontline
    assert tl[2].label == "Relapse 1" and tl[2].detail == "isolated_bm"
    assert tl[3].label == "induction" and tl[3].detail == "CR"
    assert tl[-1].label == "CAR-T: tisagenlecleucel"


def test_timeline_ties_are_stable_by_kind() -> None:
    # a relapse sample taken on the day of relapse comes after the relapse event
    case = _case(samples=[{"id": "R1", "date": "2018-06-01", "material": "bone_marrow",
                           "assay": "ngs_mrd", "role": "relapse", "files": ["r1.tsv"]}])
    kinds = [e.kind for e in build_timeline(case) if e.start == dt.date(2018, 6, 1)]
    assert kinds == ["relapse", "sample"]


def test_analyze_with_no_engines_builds_the_timeline(clean_registry: None,
                                                    example_cases: dict[str, Path]) -> None:
    path = example_cases["t-all-early-combined"]
    analysis = analyze(path)
    assert analysis.sections == ()
    assert analysis.timeline[0].kind == "diagnosis"
    assert {e.kind for e in analysis.timeline} >= {"diagnosis", "relapse", "therapy", "hsct"}
    assert analysis.provenance.inputs[0].path == "case.yaml"
    assert len(analysis.case_sha256) == 64
    # the same inputs give the same content hash (what the store's idempotent import relies on)
    assert analyze(path).case_sha256 == analysis.case_sha256


def test_real_steps_run_after_what_they_need() -> None:
    steps = registered_steps()
    pos = {s.name: i for i, s in enumerate(steps)}
    for st in steps:
        for need in st.needs:
            providers = [o.name for o in steps if need in o.provides and o.name != st.name]
            assert providers, f"{st.name} needs {need!r}, which no step provides"
            assert all(pos[p] < pos[st.name] for p in providers), (st.name, need, providers)
    # the MRD engines provide "mrd"; the course, risk and options read it
    assert {s.name for s in steps if "mrd" in s.provides} == {"ngs_mrd", "flow_mrd", "pcr_mrd"}


def test_targets_run_only_what_they_need() -> None:
    assert [s.name for s in registered_steps(["mrd_course"])] == \
        ["ngs_mrd", "flow_mrd", "pcr_mrd", "mrd_course"]
    assert set(upstream_of("risk")) == {"ngs_mrd", "flow_mrd", "pcr_mrd"}
    assert "risk" in upstream_of("options") and "options" not in upstream_of("options")


def test_run_order_refuses_unknown_needs_and_circles() -> None:
    from remission.errors import ValidationError
    from remission.steps import Step

    def mk(name: str, needs: tuple[str, ...]) -> Step:
        return Step(name=name, title=name, needs=needs, provides=(name,),
                    applies=lambda case: True, run=lambda ctx: None)

    with pytest.raises(ValidationError, match="needs \\['nowhere'\\]"):
        run_order([mk("a", ("nowhere",))])
    with pytest.raises(ValidationError, match="circle"):
        run_order([mk("a", ("b",)), mk("b", ("a",))])
    with pytest.raises(ValidationError, match="unknown step 'zz'"):
        run_order([mk("a", ())], targets=["zz"])
