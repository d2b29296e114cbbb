"""The summary the report and the CLI open with, the options listing at 80 columns, and the
published JSON schemas of the disease state and of options."""

from __future__ import annotations

import json

import pytest

from remission.clinic import patient_profile, propose_options, stratify
from remission.domain.results import OptionsResult
from remission.state import DiseaseState, disease_state


@pytest.fixture(scope="module")
def example_options(example_loaded, kb):
    out = {}
    for slug, (c, m) in example_loaded.items():
        st = disease_state(c, m)
        prof = patient_profile(c, vocabulary=kb.vocabulary, mrd=m,
                               risk=stratify(c, m).to_json() if c.relapses else None, state=st)
        out[slug] = (st, propose_options(prof, kb))
    return out


def test_options_results_follow_the_published_model(example_options):
    for st, res in example_options.values():
        OptionsResult.model_validate(res)  # raises on any field the schema does not describe
        DiseaseState.model_validate(st.to_json())


@pytest.mark.parametrize("kind", ["state", "options"])
def test_schema_command_publishes_state_and_options(kind, capsys):
    from remission.cli import main

    assert main(["schema", kind]) == 0
    schema = json.loads(capsys.readouterr().out)
    props = schema["properties"]
    if kind == "state":
        assert {"current", "periods", "mrd_latest", "antigens", "alerts", "line"} <= set(props)
    else:
        assert {"options", "excluded", "notes", "patient"} <= set(props)
        assert "evidence_in_setting" in json.dumps(schema)


def test_options_listing_reads_at_80_columns(example_cases, capsys):
    from remission.cli import main

    assert main(["options", str(example_cases["ph-like-very-early"]), "--reported-mrd-only"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and max(len(x) for x in lines) <= 80
    text = "\n".join(lines)
    assert "evidence: single-arm phase 2 in this setting" in text
    assert "isolated_bm" not in text and "not_indicated" not in text  # clinical words only


def test_summary_lines_open_with_the_current_state(example_loaded):
    from remission.pipeline import analyze_case
    from remission.report.html import render_html
    from remission.report.sections.state import summary_lines

    case, _ = example_loaded["ph-like-very-early"]
    a = analyze_case(case.model_copy(update={"samples": ()}), None)
    lines = summary_lines(a)
    assert lines[0].startswith("Where the patient stands now")
    assert "refractory" in lines[1] and "since 2022-08-16" in " ".join(lines[1:4])
    text = "\n".join(lines)
    assert "MRD NGS, bone marrow: 1.18e-02 (1.18 %) (2022-09-13), rising" in text.replace("\n  ", " ")
    assert "CD19 loss" in text and "1. Inotuzumab" in text
    assert max(len(x) for x in lines) <= 78
    html = render_html(a)
    assert html.index("id='now'") < html.index('id="summary"')
    assert "bfm:S4" not in html.split("id='now'")[1].split("</section>")[0]
