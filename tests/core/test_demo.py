"""``remission demo``: writes the example cases, analyses each, writes a report per case and a store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from remission.cli import main

SLUGS = {"late-bm-bcp", "ph-like-very-early", "t-all-early-combined"}


@pytest.mark.slow  # the whole demo: every engine on every example case
def test_demo_writes_a_report_for_every_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, examples = tmp_path / "out", tmp_path / "examples"
    code = main(["demo", "-o", str(out), "--examples", str(examples), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    env = json.loads(captured.out)
    assert env["schema"] == "remission.demo/1"
    cases = env["result"]["cases"]
    assert {Path(c["case"]).parent.name for c in cases} >= SLUGS
    for c in cases:
        report = Path(c["report"])
        assert report.is_file() and report.parent == out / Path(c["case"]).parent.name
        html = report.read_text(encoding="utf-8")
        assert f"remission report: {c['case_id']}" in html
        assert c["errors"] == [], f"{c['case_id']}: engines failed on the example data: {c['errors']}"
    assert (out / "remission.db").is_file()
    assert env["result"]["store"].endswith("remission.db")
