"""``remission cart ...`` commands, the "cart" pipeline step and its report section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from remission.cli import main
from remission.domain import CartResult


@pytest.fixture(scope="module")
def cart_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from remission.synth.examples import write_examples

    (case,) = write_examples(tmp_path_factory.mktemp("cart"), only=["ph-like-very-early"])
    return case


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_grade_json(cart_case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = _json(capsys, ["cart", "grade", str(cart_case.parent / "cart/observations.csv"), "--age-years", "12.8",
                         "--json"])
    assert env["schema"] == "remission.cart_grade/1" and env["inputs"][0]["sha256"]
    r = env["result"]
    # the synthetic course (synth/cart.py): 1 vasopressor + low-flow O2 on day 3 -> ASTCT 3; ICE 8 on day 5 -> 1
    assert r["max_grade"]["CRS"]["ASTCT"]["grade"] == 3
    assert r["max_grade"]["CRS"]["ASTCT"]["driver"] == "hypotension requiring 1 vasopressor"
    assert r["max_grade"]["ICANS"]["ASTCT"]["grade"] == 1
    assert r["onset"]["CRS"]["onset_day"] == 1
    assert len(r["assessments"]) == 15


def test_grade_refuses_ice_for_a_five_year_old(cart_case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cart", "grade", str(cart_case.parent / "cart/observations.csv"), "--age-years", "5"]) == 1
    err = capsys.readouterr().err
    assert "line 2, field ice_score" in err and "CAPD" in err and len(err.strip().splitlines()) == 1


def test_grade_human_output(cart_case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cart", "grade", str(cart_case.parent / "cart/observations.csv")]) == 0
    assert "max CRS (ASTCT): 3" in capsys.readouterr().out


def test_kinetics_and_bcells_json(cart_case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    k = _json(capsys, ["cart", "kinetics", str(cart_case.parent / "cart/kinetics.csv"), "--json"])["result"]
    assert k["nca"]["tmax"] == 10 and k["fit"]["method"].startswith("MAP")
    assert 0 < k["population_percentiles"]["cmax"] < 100
    b = _json(capsys, ["cart", "bcells", str(cart_case.parent / "cart/b_cells.csv"), "--json"])["result"]
    assert b["ongoing"] is True and b["threshold"] == 1.0


def test_bcells_param_override(cart_case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b = _json(capsys, ["cart", "bcells", str(cart_case.parent / "cart/b_cells.csv"), "--param",
                       "bca_threshold_percent_lymphocytes=0.02", "--json"])["result"]
    assert b["threshold"] == 0.02 and b["recovery_day"] is not None
    # an unknown parameter is a usage error (exit 2; issue 12)
    assert main(["cart", "bcells", str(cart_case.parent / "cart/b_cells.csv"), "--param", "nope=1"]) == 2
    assert "unknown parameter 'nope'" in capsys.readouterr().err


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cart", "--help"]) == 0
    out = capsys.readouterr().out
    assert all(c in out for c in ("grade", "kinetics", "bcells"))


def test_pipeline_step_and_report(cart_case: Path) -> None:
    # the step alone (the full pipeline runs every engine of the project; too slow for this area)
    from remission.io.casefile import load_case
    from remission.pipeline import StepContext, registered_steps
    from remission.report.sections.cart import render

    st = next(x for x in registered_steps() if x.name == "cart")
    case = load_case(cart_case)
    assert st.needs == () and st.applies(case)
    s = st.run(StepContext(case=case, case_dir=cart_case.parent, parameters={}))
    assert s is not None and s.error is None
    typed = s.result
    assert isinstance(typed, CartResult) and typed.persistence is not None
    # the typed facts other engines read
    assert typed.persistence.present is True and typed.persistence.last_detectable_day == 365
    assert typed.b_cell_aplasia.ongoing is True and typed.b_cell_aplasia.recovery_date is None
    r = s.data()
    assert r["persistence"]["last_detectable_day"] == r["kinetics"]["nca"]["last_detectable_day"] == 365
    assert r["persistence_day"] == 365
    # the example case records CD19 on 2 % of blasts on 2022-08-16, after CD19 CAR-T
    assert r["cd19_negative"] is True
    assert r["toxicity"]["max_grade"]["CRS"]["ASTCT"]["grade"] == 3
    assert {x.name for x in s.rests_on} >= {"capd_age_below_years", "bca_threshold_percent_lymphocytes"}
    json.dumps(r, allow_nan=False)  # JSON-ready
    html = render(s, None)  # type: ignore[arg-type]
    assert "Cellular kinetics" in html and "Stein 2019 population" in html and "B-cell aplasia" in html
    assert html.count("<svg") >= 3


def test_step_rejects_unknown_parameter(cart_case: Path) -> None:
    from remission.errors import ValidationError
    from remission.io.casefile import load_case
    from remission.pipeline import StepContext
    from remission.steps.cart import run

    ctx = StepContext(case=load_case(cart_case), case_dir=cart_case.parent, parameters={"cart": {"typo": 1}})
    with pytest.raises(ValidationError, match=r"unknown parameter cart\.typo"):
        run(ctx)
