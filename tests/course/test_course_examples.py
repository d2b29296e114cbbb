"""The example cases: MRD course, projection in the report, ``remission mrd course`` CLI.

Truth of the examples (``remission.synth.pcr``): T-ALL post-HSCT regrowth 1e-6 on 2021-06-01
doubling every 12 days -> 5e-2 on 2021-06-01 + 12·log2(5e4) d = 2021-12-05; Ph-like regrowth
through 1e-3 on 2022-08-02 doubling every 12 days -> 5e-2 on 2022-08-02 + 12·log2(50) d =
2022-10-08.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from remission.cli import main


@pytest.fixture(scope="session")
def analyses(example_cases):
    from remission.pipeline import analyze

    return {slug: analyze(path) for slug, path in example_cases.items()}


@pytest.mark.parametrize(("slug", "method", "truth"), [
    ("t-all-early-combined", "pcr", dt.date(2021, 12, 5)),
    ("ph-like-very-early", "ngs", dt.date(2022, 10, 8)),
])
def test_projection_interval_contains_truth(analyses, slug, method, truth):
    sec = analyses[slug].section("mrd_course")
    assert sec is not None and sec.error is None
    fit = next(f for f in sec.data()["fits"] if f["method"] == method)
    pr = fit["projection"]
    lo, hi = dt.date.fromisoformat(pr["ci_low"]), dt.date.fromisoformat(pr["ci_high"])
    assert lo <= truth <= hi
    assert fit["doubling_time_days_ci"][0] <= 12 <= fit["doubling_time_days_ci"][1]


def test_ph_like_doubling_time_within_20_percent(analyses):
    # 4 quantifiable NGS results in the window; truth 12 days
    fit = next(f for f in analyses["ph-like-very-early"].section("mrd_course").data()["fits"]
               if f["method"] == "ngs")
    assert fit["n_quantifiable"] >= 4
    assert fit["doubling_time_days"] == pytest.approx(12, rel=0.2)


def test_tall_course_rules(analyses):
    res = analyses["t-all-early-combined"].section("mrd_course").data()
    assert res["molecular_relapse"]["status"] == "confirmed"
    assert res["molecular_relapse"]["date"] == "2021-09-06"
    assert res["detectable_after_hsct"]
    assert "flow" in res["methods"] and "pcr" in res["methods"]
    assert [f["method"] for f in res["fits"]] == res["methods"]  # one fit entry per method


def test_every_example_report_shows_the_course(analyses):
    from remission.report.html import render_html

    for slug, a in analyses.items():
        html = render_html(a)
        assert 'id="section-mrd_course"' in html, slug
        start = html.index('id="section-mrd_course"')
        body = html[start:html.index("</section>", start)]
        assert "<svg" in body and "MRD course across methods" in body
        if slug != "late-bm-bcp":
            assert "projected" in body and "profile-likelihood interval" in body
        for p in a.section("mrd_course").data()["points"]:
            if p["status"] == "positive_not_quantifiable" and p["value"]:
                assert f"{p['value']:.2e}" not in body


def test_cli_course_json(example_cases, capsys):
    assert main(["mrd", "course", str(example_cases["ph-like-very-early"]), "--json"]) == 0
    env = json.loads(capsys.readouterr().out)
    assert env["schema"] == "remission.mrd_course/1"
    assert env["parameters"]["relapse_blast_fraction"] == 0.05
    assert env["result"]["headline"]["method"] == "ngs"
    assert any(i["sha256"] for i in env["inputs"])


def test_cli_course_param_and_errors(example_cases, capsys, tmp_path):
    assert main(["mrd", "course", str(example_cases["ph-like-very-early"]),
                 "--param", "relapse_blast_fraction=0.25"]) == 0
    assert "25 % blasts projected" in capsys.readouterr().out
    assert main(["mrd", "course", str(tmp_path / "missing.yaml")]) == 1
