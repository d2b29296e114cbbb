"""``remission analyze --db``, ``store list | show | export`` and ``report ID``, in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from remission.cli import main


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    out = capsys.readouterr().out
    return json.loads(out)


@pytest.fixture
def stored(store_url: str, example_cases: dict[str, Path], example_analysis) -> dict[str, str]:
    """Every example case's analysis (computed once per session) saved in a fresh store."""
    from remission.store import Store

    with Store(store_url) as st:
        return {slug: st.save_analysis(example_analysis(slug)).analysis_id for slug in example_cases}


def test_analyze_with_db_twice_is_one_copy(store_url, small_case_file, tmp_path, capsys):
    ids = []
    for run in ("first", "again"):
        code = main(["analyze", str(small_case_file), "--db", store_url, "-o", str(tmp_path / run), "--json"])
        assert code == 0, capsys.readouterr().err
        env = _json(capsys)
        ids.append(env["result"]["store"])
    assert ids[0]["created"] is True
    assert ids[1] == {"analysis_id": ids[0]["analysis_id"], "created": False}
    assert main(["store", "list", "--db", store_url, "--json"]) == 0
    rows = _json(capsys)["result"]["analyses"]
    assert [(r["analysis_id"], r["case_id"]) for r in rows] == [(ids[0]["analysis_id"], "SMALL-1")]
    # its reported MRD values are queryable
    from remission.store import Store

    with Store(store_url) as st:
        assert [(m.status, m.value) for m in st.mrd_results(case_id="SMALL-1")] == [
            ("positive", 2e-3), ("negative", None)]


def test_analyze_example_case_into_store(store_url, example_cases, tmp_path, capsys):
    # the cheapest bundled example, end to end through the CLI (real engines, real files)
    case = example_cases["t-all-early-combined"]
    assert main(["analyze", str(case), "--db", store_url, "-o", str(tmp_path), "--json"]) == 0
    env = _json(capsys)
    from remission.store import Store

    with Store(store_url) as st:
        back = st.get_analysis(env["result"]["store"]["analysis_id"])
    assert [s.name for s in back.sections] == [s["name"] for s in env["result"]["sections"]]
    assert [i.model_dump() for i in back.provenance.inputs] == env["inputs"]


def test_analyze_human_output_names_the_stored_analysis(store_url, small_case_file, tmp_path, capsys):
    assert main(["analyze", str(small_case_file), "--db", store_url, "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "store: analysis " in out and "(new)" in out


def test_store_list(store_url, stored, capsys):
    assert main(["store", "list", "--db", store_url, "--json"]) == 0
    env = _json(capsys)
    assert env["schema"].startswith("remission.store_list/")
    rows = {r["analysis_id"]: r for r in env["result"]["analyses"]}
    assert set(rows) == set(stored.values())
    assert {"analysis_id", "case_id", "analysed_at", "remission_version", "sections"} <= set(
        next(iter(rows.values())))
    # human table
    assert main(["store", "list", "--db", store_url]) == 0
    out = capsys.readouterr().out
    for r in rows.values():
        assert r["case_id"] in out


def test_store_list_names_its_store_and_points_to_the_demo_store(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REMISSION_DB", raising=False)
    (tmp_path / "out" / "demo").mkdir(parents=True)
    (tmp_path / "out" / "demo" / "remission.db").write_bytes(b"")  # only its presence matters
    assert main(["store", "list", "--json"]) == 0
    res = _json(capsys)["result"]
    assert res["store"] == "sqlite:///remission.db" and res["analyses"] == []
    assert "out/demo/remission.db" in res["hint"]
    assert main(["store", "list", "--db", "postgresql://u:secret@127.0.0.1:1/x", "--json"]) == 1
    assert "secret" not in capsys.readouterr().err  # the password is never shown


def test_store_list_reads_remission_db_env(store_url, stored, capsys, monkeypatch):
    monkeypatch.setenv("REMISSION_DB", store_url)
    assert main(["store", "list", "--json"]) == 0
    assert len(_json(capsys)["result"]["analyses"]) == len(stored)


def test_store_show(store_url, stored, capsys):
    from remission.domain import CaseAnalysis

    aid = stored["ph-like-very-early"]
    assert main(["store", "show", aid, "--db", store_url, "--json"]) == 0
    env = _json(capsys)
    back = CaseAnalysis.model_validate(env["result"])
    assert back.case_id == env["result"]["case_id"]
    assert main(["store", "show", aid, "--db", store_url]) == 0
    assert back.case_id in capsys.readouterr().out


def test_store_export_matches_store(store_url, stored, tmp_path, capsys):
    from remission.store import Store

    aid = stored["t-all-early-combined"]
    out = tmp_path / "export.json"
    assert main(["store", "export", aid, "--db", store_url, "-o", str(out)]) == 0
    env = json.loads(out.read_text(encoding="utf-8"))
    assert set(env) >= {"schema", "remission_version", "inputs", "parameters", "result"}
    with Store(store_url) as st:
        a = st.get_analysis(aid)
    assert env["result"] == json.loads(a.model_dump_json(by_alias=True))
    assert env["inputs"] == [i.model_dump() for i in a.provenance.inputs]
    # to stdout too
    assert main(["store", "export", aid, "--db", store_url]) == 0
    assert _json(capsys)["result"]["case_id"] == a.case_id


def test_report_from_store(store_url, stored, tmp_path, capsys):
    out = tmp_path / "r" / "report.html"
    out.parent.mkdir()
    assert main(["report", stored["late-bm-bcp"], "--db", store_url, "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")
    assert "not a medical device" in html


def test_unknown_id_is_exit_1_one_line(store_url, stored, capsys):
    for argv in (["store", "show", "doesnotexist"], ["store", "export", "doesnotexist"],
                 ["report", "doesnotexist"]):
        assert main([*argv, "--db", store_url]) == 1
        err = capsys.readouterr().err.strip()
        assert "no analysis with id 'doesnotexist'" in err
        assert len(err.splitlines()) == 1, err


def test_bad_store_url_is_exit_1_one_line(tmp_path, capsys):
    assert main(["store", "list", "--db", f"sqlite:///{tmp_path}/missing/dir/x.db"]) == 1
    err = capsys.readouterr().err.strip()
    assert "does not exist" in err and len(err.splitlines()) == 1


def test_report_and_show_take_json_and_output(store_url, stored, tmp_path, capsys):
    aid = stored["late-bm-bcp"]
    out = tmp_path / "report.html"
    assert main(["report", aid, "--db", store_url, "-o", str(out), "--json"]) == 0
    env = _json(capsys)
    assert env["schema"].startswith("remission.report/") and env["result"]["report"] == str(out)
    shown = tmp_path / "show.txt"
    assert main(["store", "show", aid, "--db", store_url, "-o", str(shown)]) == 0
    assert "not a medical device" in " ".join(shown.read_text(encoding="utf-8").lower().split())
