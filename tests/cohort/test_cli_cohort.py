"""``remission cohort ...`` in-process: JSON envelope, HTML report, data and usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from remission.cli import main

from .conftest import STORED


def _env(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


def test_km_json_envelope_carries_r_values(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["cohort", "km", str(STORED / "aml.csv"), "--time", "time", "--event", "status",
                 "--group", "x", "--json"])
    assert code == 0
    env = _env(capsys)
    assert env["schema"] == "remission.cohort_km/1"
    assert "not a medical device" in env["notice"]
    assert env["inputs"][0]["path"].endswith("aml.csv") and len(env["inputs"][0]["sha256"]) == 64
    g = env["result"]["groups"]
    # R survfit(Surv(time, status) ~ x, aml): medians 31 (18, NA) and 23 (8, NA) (spec 2.4 run)
    assert (g["Maintained"]["median"], g["Maintained"]["median_lower"],
            g["Maintained"]["median_upper"]) == (31, 18, None)
    assert g["Nonmaintained"]["median"] == 23
    # R survdiff(Surv(time, status) ~ x, aml): chisq 3.396 on 1 df (reference.json, 3.3964)
    assert env["result"]["logrank"]["chisq"] == pytest.approx(3.39638, rel=1e-5)


def test_cif_html_report_is_self_contained(tmp_path: Path) -> None:
    out = tmp_path / "cif.html"
    code = main(["cohort", "cif", str(STORED / "bmt.csv"), "--time", "t2", "--event", "ev",
                 "--group", "group", "--times", "365,730,1825", "-o", str(out)])
    assert code == 0
    html = out.read_text()
    assert html.count("<svg") == 2  # one CIF plot per cause, inline
    assert "number at risk" in html and "not a medical device" in html
    assert "Gray&#39;s test χ² = 11.92 on 2 df" in html  # R cuminc: 11.923 (spec 2.4)
    # nothing external: no script/image/stylesheet sources, only in-document SVG references
    assert " src=" not in html and "<link" not in html and 'href="http' not in html


def test_cox_time_varying_and_forest_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cox.html"
    code = main(["cohort", "cox", str(STORED / "heart.csv"), "--time", "stop", "--start", "start",
                 "--event", "event", "-x", "age,year,surgery,transplant", "--id", "id", "-o",
                 str(out), "--json"])
    assert code == 0
    cov = {c["name"]: c["coef"] for c in _env(capsys)["result"]["covariates"]}
    # R coxph(Surv(start, stop, event) ~ age + year + surgery + transplant, heart): Efron
    assert cov["age"] == pytest.approx(0.02717, abs=5e-6)
    assert cov["transplant"] == pytest.approx(-0.01025, abs=5e-6)
    assert "hazard ratios" in out.read_text()


def test_finegray_text_covariate_becomes_indicator(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["cohort", "finegray", str(STORED / "mgus2.csv"), "--time", "etime", "--event",
                 "ev", "-x", "age", "-x", "sex", "--json"])
    assert code == 0
    cov = {c["name"]: c for c in _env(capsys)["result"]["covariates"]}
    # R crr(etime, ev, cbind(age, sexM)): sexM -0.2600 (SE 0.18568) (spec 2.4)
    assert cov["sex=M"]["coef"] == pytest.approx(-0.2600382, rel=1e-6)
    assert cov["sex=M"]["se"] == pytest.approx(0.18568, rel=1e-4)


def test_landmark_states_its_rule(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["cohort", "landmark", str(STORED / "bmt.csv"), "--time", "t2", "--event", "d3",
                 "--at", "100", "--group", "group", "--json"])
    assert code == 0
    lm = _env(capsys)["result"]["landmark"]
    # bmt: 24 of 137 patients had relapse/death by day 100 and none was censored before it
    assert lm["n_analysed"] == 113 and lm["n_event_before"] == 24
    assert lm["rule"].startswith("landmark at 100 days: 113 of 137 patients")


def test_negative_time_is_exit_1_naming_file_line_column(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time,event\n5,1\n-3,0\n7,1\n")
    assert main(["cohort", "km", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: cohort table 'bad.csv', line 3, field time: time must be >= 0, but was -3.0"


def test_missing_column_and_text_in_numeric_column(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "t.csv"
    bad.write_text("days,event\n5,1\nsoon,0\n")
    assert main(["cohort", "km", str(bad)]) == 1
    assert "line 1, field time: no column 'time'" in capsys.readouterr().err
    assert main(["cohort", "km", str(bad), "--time", "days"]) == 1
    assert "line 3, field days: expected a number, got 'soon'" in capsys.readouterr().err


def test_usage_error_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cohort", "km"]) == 2
    assert "usage" in capsys.readouterr().err.lower()


def test_event_after_last_follow_up_is_exit_1(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "fu.csv"
    bad.write_text("time,event,last_seen\n5,1,10\n40,1,30\n7,0,7\n")
    assert main(["cohort", "km", str(bad), "--last-followup", "last_seen"]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: cohort table 'fu.csv', line 3, field time: event at 40.0 is after the censoring "
        "(last follow-up) time 30.0 in column last_seen")


def test_parquet_table_and_its_errors_name_the_record(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    good = tmp_path / "aml.parquet"
    pd.read_csv(STORED / "aml.csv").to_parquet(good, index=False)
    assert main(["cohort", "km", str(good), "--event", "status", "--group", "x", "--json"]) == 0
    # same numbers as from the CSV: R survfit medians 31 and 23 (spec 2.4)
    meds = {k: v["median"] for k, v in _env(capsys)["result"]["groups"].items()}
    assert meds == {"Maintained": 31, "Nonmaintained": 23}
    bad = tmp_path / "bad.parquet"
    pd.DataFrame({"time": [3.0, -1.0], "event": [1, 0]}).to_parquet(bad, index=False)
    assert main(["cohort", "km", str(bad)]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: cohort table 'bad.parquet', record 2, field time: time must be >= 0, but was -1.0")


def test_cause_specific_cox_censors_competing_events(capsys: pytest.CaptureFixture[str]) -> None:
    # Cause-specific Cox of relapse (ev == 1) in KMsurv bmt by group = coxph on the indicator
    # ev == 1, the engine checked against R above; here: the CLI recodes, and says so.
    import pandas as pd

    from remission.cohort import cox_ph

    code = main(["cohort", "cox", str(STORED / "bmt.csv"), "--time", "t2", "--event", "ev",
                 "-x", "group", "--cause", "1", "--json"])
    assert code == 0
    res = _env(capsys)["result"]
    b = pd.read_csv(STORED / "bmt.csv")
    direct = cox_ph(b[["group"]], b.t2, (b.ev == 1).astype(int))
    assert res["covariates"][0]["coef"] == pytest.approx(float(direct.coef[0]), rel=1e-12)
    assert res["n_event"] == 42  # relapses: 12 + 9 + 21 by group (spec 2.4 counts)
    assert any("cause-specific" in r for r in res["rules"])
