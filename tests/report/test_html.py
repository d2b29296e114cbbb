"""The HTML report: complete for a tumour board, self-contained, honest about MRD below the LoQ."""

from __future__ import annotations

import datetime as dt
import re
import sys
import types
from html.parser import HTMLParser
from pathlib import Path

import pytest

from remission.domain import (
    NOT_A_MEDICAL_DEVICE,
    CaseAnalysis,
    EngineSection,
    MrdResult,
    OptionsResult,
)
from remission.report import render_html, write_report
from remission.report.html import clinical_facts, render_section
from remission.report.timeline import timeline_rows


class _Collect(HTMLParser):
    """Collects ids, tags and every attribute that can load something."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.tags: list[str] = []
        self.loads: list[tuple[str, str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if name in ("src", "href", "xlink:href", "action", "poster", "data", "srcset", "background") and value:
                self.loads.append((tag, name, value))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Collect:
    p = _Collect()
    p.feed(html)
    return p


def _analysis_with_mrd(base: CaseAnalysis) -> CaseAnalysis:
    mrd = (
        MrdResult(method="ngs", status="positive", value=2.5e-3, lod=1e-6, loq=1e-5, date=dt.date(2019, 4, 15),
                  sample_id="FU1", material="bone_marrow", timepoint="end_of_induction"),
        # point estimate 3.3e-6 lies below the LoQ 1e-5: it must never appear as a number
        MrdResult(method="ngs", status="positive_not_quantifiable", value=3.3e-6, lod=1e-6, loq=1e-5,
                  date=dt.date(2019, 7, 10), sample_id="FU2", material="bone_marrow"),
        MrdResult(method="flow", status="negative", value=None, lod=2e-5, loq=5e-5, date=dt.date(2019, 7, 10),
                  sample_id="FU2F", material="bone_marrow", source="reported"),
    )
    # engine sections are left out: they are the engines' to render; this checks the frame
    return base.model_copy(update={"mrd": mrd, "sections": ()})


@pytest.mark.parametrize("slug", ["late-bm-bcp", "ph-like-very-early", "t-all-early-combined"])
def test_report_has_the_key_parts(slug: str, example_analyses: dict[str, CaseAnalysis]) -> None:
    a = example_analyses[slug]
    html = render_html(a)
    doc = _parse(html)
    assert f"<title>remission report: {a.case_id}</title>" in html
    assert {"title", "notice", "patient-summary", "summary", "timeline", "mrd-table", "provenance",
            "inputs", "toc"} <= doc.ids
    assert NOT_A_MEDICAL_DEVICE in html
    # the timeline is an inline SVG inside #timeline
    timeline = html[html.index('<section id="timeline">'):html.index('<section id="mrd-table">')]
    assert "<svg" in timeline and "</svg>" in timeline
    # provenance lists every input with its full SHA-256
    prov = html[html.index('<section id="provenance">'):]
    for item in a.provenance.inputs:
        assert item.path in prov and item.sha256 in prov
    assert a.case_sha256 in prov
    assert a.provenance.remission_version in prov
    # the clinical summary names every relapse and therapy
    for r in a.case.relapses:
        assert str(r.date) in html
    for t in a.case.therapies:
        assert t.name in html
    for lesion in a.case.diagnosis.lesions:
        assert lesion.name in html


@pytest.mark.parametrize("slug", ["late-bm-bcp", "ph-like-very-early", "t-all-early-combined"])
def test_report_is_self_contained(slug: str, example_analyses: dict[str, CaseAnalysis]) -> None:
    # the real analysis, with every engine section and its plots, plus the frame's MRD rows
    a = example_analyses[slug]
    html = render_html(a.model_copy(update={"mrd": a.mrd + _analysis_with_mrd(a).mrd}))
    doc = _parse(html)
    # nothing is loaded from anywhere: only in-page anchors (#...) or data: URIs
    for tag, attr, value in doc.loads:
        assert value.startswith(("#", "data:")), f"<{tag} {attr}={value!r}> refers outside the file"
    assert "script" not in doc.tags, "the report needs no JavaScript"
    assert "link" not in doc.tags and "img" not in doc.tags and "iframe" not in doc.tags
    assert not re.search(r"@import|url\(\s*['\"]?(?!data:|#)", html), "CSS must not load anything"
    # and the words http(s) appear, if at all, only as text (e.g. a cited source), never as a target
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html)


def test_mrd_table_never_shows_below_loq_as_a_number(example_analyses: dict[str, CaseAnalysis]) -> None:
    a = _analysis_with_mrd(example_analyses["late-bm-bcp"])
    html = render_html(a)
    table = html[html.index('<table id="mrd">'):]
    table = table[:table.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)
    assert len(rows) == 1 + 3  # header + three results
    # quantifiable: value and percent, 2.5e-3 = 0.25 %
    assert "2.50e-03 (0.25 %)" in rows[1]
    # below LoQ: "positive, < LoQ (0.001 %)", LoQ 1e-5 = 0.001 %; the estimate 3.3e-6 nowhere
    assert "positive, &lt; LoQ (0.001 %)" in rows[2]
    for spelled in ("3.3e-06", "3.30e-06", "3.3e-6", "0.00033", "0.0003"):
        assert spelled not in html
    # negative: "negative (< 0.002 %)", LoD 2e-5 = 0.002 %
    assert "negative (&lt; 0.002 %)" in rows[3]
    # LoD and LoQ are shown beside every value
    assert all("1e-06" in r and "1e-05" in r for r in rows[1:3])
    assert "reported" in rows[3]


def test_report_escapes_case_text(example_analyses: dict[str, CaseAnalysis]) -> None:
    a = example_analyses["late-bm-bcp"]
    therapies = (a.case.therapies[0].model_copy(update={"name": "<script>alert(1)</script>"}),)
    case = a.case.model_copy(update={"therapies": therapies})
    html = render_html(a.model_copy(update={"case": case}))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_clinical_facts_intervals(example_analyses: dict[str, CaseAnalysis]) -> None:
    facts = dict(clinical_facts(example_analyses["t-all-early-combined"].case))
    # diagnosis 2018-05-02 -> relapse 2020-12-01: 2018-05-02..2019-05-02 = 365 d, ..2020-05-02 = 366 d
    # (leap year), ..2020-12-01 = 213 d; total 944 d = 944 / 30.4375 = 31.0 months
    assert facts["Relapse 1: from diagnosis"] == "31.0 months (944 days)"
    # end of frontline 2020-08-14 -> 2020-12-01: 17 + 30 + 31 + 30 + 1 = 109 d = 3.6 months
    assert facts["Relapse 1: from end of frontline"] == "3.6 months (109 days)"
    # born 2008-03-21, diagnosed 2018-05-02: 3694 d / 365.25 = 10.1 years
    assert facts["Age at diagnosis"] == "10.1 years"
    assert facts["HSCT"] == "2021-04-12 (matched unrelated)"


def test_no_frontline_end_is_not_invented(example_analyses: dict[str, CaseAnalysis]) -> None:
    a = example_analyses["ph-like-very-early"]
    assert a.case.frontline.end_date is None
    facts = dict(clinical_facts(a.case))
    assert "end date not given" in facts["Frontline"]
    assert "Relapse 1: from end of frontline" not in facts
    frontline = next(r for r in timeline_rows(a) if r["kind"] == "frontline")
    assert frontline["items"][0]["end"] is None and frontline["items"][0]["text"] == "end not given"


def test_timeline_rows(example_analyses: dict[str, CaseAnalysis]) -> None:
    a = example_analyses["t-all-early-combined"]
    rows = timeline_rows(a)
    kinds = [r["kind"] for r in rows]
    assert kinds[:2] == ["events", "frontline"]
    assert kinds.count("therapy") == len(a.case.therapies)
    assert "hsct" in kinds and "cart" not in kinds  # empty rows are left out
    assert ("mrd" in kinds) == bool(a.mrd)
    events = rows[0]["items"]
    assert [e["start"] for e in events] == [a.case.diagnosis.date, *(r.date for r in a.case.relapses)]
    mrd_rows = timeline_rows(_analysis_with_mrd(a))
    mrd = next(r for r in mrd_rows if r["kind"] == "mrd")
    assert [i["status"] for i in mrd["items"]][-3:] == ["positive", "positive_not_quantifiable", "negative"]


def test_section_module_protocol(example_analyses: dict[str, CaseAnalysis], monkeypatch: pytest.MonkeyPatch) -> None:
    mod = types.ModuleType("remission.report.sections.t_fake")
    mod.render = lambda section, analysis: f"<p id='fake'>{len(section.data()['notes'])} for {analysis.case_id}</p>"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "remission.report.sections.t_fake", mod)
    a = example_analyses["late-bm-bcp"]
    sections = (
        EngineSection(name="t_fake", title="Fake engine", result=OptionsResult(notes=["a", "b", "c"]),
                      rests_on=({"name": "x_threshold", "value": 0.5, "tag": "R", "source": "spec §9", "description": ""},)),
        EngineSection(name="t_nomodule", title="Generic engine",
                      result=OptionsResult(ranking="1.5", notes=["groups"])),
        EngineSection(name="t_failed", title="Failed engine", error="AIRR file 'dx.tsv', line 3: bad\nmore"),
    )
    html = render_html(a.model_copy(update={"sections": sections}))
    assert "<p id='fake'>3 for SYN-LATE-01</p>" in html
    assert '<section id="section-t_fake"' in html and 'href="#section-t_fake"' in html
    # the fallback renders top-level scalars as a table and the whole result as JSON
    assert "<th>ranking</th><td>1.5</td>" in html
    generic = html.split('id="section-t_nomodule"')[1].split("</section>")[0]
    assert "Full result (JSON)" in generic and "groups" in generic
    # a failed engine shows its one-line error (escaped), and the toc marks it
    assert 'class="toc-error">Failed engine</a>' in html
    assert "This engine could not run on this case's data:</strong> AIRR file &#39;dx.tsv&#39;, line 3: bad" in html
    assert "more" not in html.split('id="section-t_failed"')[1].split("</section>")[0]
    # rules a result rests on are listed under the section and in the provenance
    prov = html[html.index('<section id="provenance">'):]
    assert "x_threshold" in prov and "spec §9" in prov
    assert str(render_section(sections[2], a)).startswith("<p class='error'>")


def test_write_report_creates_folders(example_analyses: dict[str, CaseAnalysis], tmp_path: Path) -> None:
    out = write_report(example_analyses["late-bm-bcp"], tmp_path / "a" / "b" / "report.html")
    assert out.is_file()
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert 20_000 < len(text) < 2_000_000  # an inline SVG timeline, not an empty page


def _minimal_analysis(**case_fields: object) -> CaseAnalysis:
    from remission.domain import Case
    from remission.pipeline import analyze_case

    data: dict[str, object] = {"patient": {"id": "MIN-1", "age_at_diagnosis_years": 4},
                               "diagnosis": {"date": "2020-01-01", "lineage": "B"}}
    data.update(case_fields)
    return analyze_case(Case.model_validate(data), Path("."))


def test_minimal_case_renders() -> None:
    # no relapse, no therapy, no frontline: the frame still renders, with one timeline row
    a = _minimal_analysis()
    assert [r["kind"] for r in timeline_rows(a)] == ["events"]
    html = render_html(a)
    assert "No relapse recorded." in html and "No MRD results in this case." in html


def test_busy_case_renders() -> None:
    therapies = [{"name": f"course {i} with a rather long regimen name", "kind": "chemotherapy",
                  "start": f"2021-{i:02d}-01", "end": f"2021-{i:02d}-20"} for i in range(1, 11)]
    a = _minimal_analysis(
        relapses=[{"number": k, "date": f"202{k}-06-01", "site": "isolated_bm"} for k in (1, 2, 3)],
        therapies=therapies,
        transplants=[{"date": "2021-12-01", "donor": "haploidentical"}],
        cart_infusions=[{"product": "tisagenlecleucel", "date": "2022-09-01"},
                        {"product": "CD22 CAR-T", "date": "2023-09-01", "target": "CD22"}],
    )
    rows = timeline_rows(a)
    # events, 10 therapies, HSCT, CAR-T (no frontline given: no frontline row)
    assert len(rows) == 1 + 10 + 2
    assert [i["text"] for i in rows[-1]["items"]] == ["tisagenlecleucel (CD19)", "CD22 CAR-T (CD22)"]
    html = render_html(a)
    assert html.count("<svg") >= 1 and "course 10 with a rather long regimen name" in html
