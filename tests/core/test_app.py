"""The application layer: ``run_case`` (analyse, check, render, save) and the ``analyze`` contract.

Each test is built for one rule of issue 12 (items 2, 3 and 5): a failed engine is a data error
unless a partial analysis is allowed (and then it is marked partial); nothing is saved by a run
that fails; output paths never come from data; user text is never read as rich markup.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from remission.app import run_case, safe_name
from remission.cli import main
from remission.errors import IncompleteAnalysisError, ValidationError


def _rows(db: Path) -> dict[str, int]:
    """Row count of every store table (the store is 'unchanged' when these are)."""
    if not db.exists():
        return {}
    eng = sa.create_engine(f"sqlite:///{db}")
    try:
        with eng.connect() as conn:
            names = [r[0] for r in conn.execute(sa.text(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'alembic%'"))]
            return {n: int(conn.execute(sa.text(f'SELECT COUNT(*) FROM "{n}"')).scalar_one())
                    for n in names}
    finally:
        eng.dispose()


@pytest.fixture
def tall_case(example_cases: dict[str, Path], tmp_path: Path) -> Path:
    """A private copy of the T-ALL example (NGS + RQ-PCR files), safe to corrupt."""
    src = example_cases["t-all-early-combined"].parent
    dst = tmp_path / "case"
    shutil.copytree(src, dst)
    return dst / "case.yaml"


def _corrupt_first_pcr_plate(case_yaml: Path) -> None:
    plate = sorted((case_yaml.parent / "pcr").iterdir())[0]
    plate.write_text("this is not a plate export\n", encoding="utf-8")


def _set_patient_id(case_yaml: Path, new_id: str) -> None:
    import yaml

    data = yaml.safe_load(case_yaml.read_text(encoding="utf-8"))
    data["patient"]["id"] = new_id
    case_yaml.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def test_failed_engine_is_a_data_error_and_saves_nothing(tall_case: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    _corrupt_first_pcr_plate(tall_case)
    db = tmp_path / "s.db"
    out = tmp_path / "report"
    code = main(["analyze", str(tall_case), "--db", f"sqlite:///{db}", "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and "RQ-PCR" in err[0] and "--allow-partial" in err[0]
    assert not any(_rows(db).values())  # nothing stored
    assert not (out / "report.html").exists()


def test_allow_partial_keeps_it_and_marks_it_everywhere(tall_case: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # the store table on one line per row
    _corrupt_first_pcr_plate(tall_case)
    db = f"sqlite:///{tmp_path / 's.db'}"
    out = tmp_path / "report"
    assert main(["analyze", str(tall_case), "--db", db, "-o", str(out), "--allow-partial"]) == 0
    assert "PARTIAL ANALYSIS" in capsys.readouterr().out
    assert 'id="partial"' in (out / "report.html").read_text(encoding="utf-8")
    assert main(["store", "list", "--db", db]) == 0
    listed = capsys.readouterr().out
    assert "PARTIAL" in listed and "pcr_mrd (failed)" in listed
    assert main(["store", "list", "--db", db, "--json"]) == 0
    import json

    row = json.loads(capsys.readouterr().out)["result"]["analyses"][0]
    assert row["partial"] is True and row["failed_sections"] == ["pcr_mrd"]


def test_run_case_raises_typed_error_listing_failed_engines(tall_case: Path) -> None:
    _corrupt_first_pcr_plate(tall_case)
    with pytest.raises(IncompleteAnalysisError) as info:
        run_case(tall_case)
    assert info.value.failed == ("pcr_mrd",)


def test_render_failure_leaves_store_unchanged(tall_case: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import remission.report as report

    def boom(analysis: object) -> str:
        raise RuntimeError("renderer broke")

    monkeypatch.setattr(report, "render_html", boom)
    db = tmp_path / "s.db"
    with pytest.raises(RuntimeError, match="renderer broke"):
        run_case(tall_case, report_dir=tmp_path / "r", db_url=f"sqlite:///{db}")
    assert not any(_rows(db).values())


def test_save_failure_leaves_no_report(tall_case: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from remission.errors import StoreError
    from remission.store import Store

    def refuse(self: Store, analysis: object) -> None:
        raise StoreError("disk full")

    monkeypatch.setattr(Store, "save_analysis", refuse)
    out = tmp_path / "r"
    with pytest.raises(StoreError):
        run_case(tall_case, report_dir=out, db_url=f"sqlite:///{tmp_path / 's.db'}")
    assert list(out.iterdir()) == []  # the rendered temporary file was removed, no report.html


def test_markup_in_patient_id_is_shown_literally(tall_case: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # '[/x]' made rich raise MarkupError after the save; '[bold]' must not be interpreted
    _set_patient_id(tall_case, "P[/x][bold]1[/bold]")
    db = f"sqlite:///{tmp_path / 's.db'}"
    code = main(["analyze", str(tall_case), "--db", db, "-o", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert code == 0
    assert "P[/x][bold]1[/bold]" in out
    assert main(["store", "list", "--db", db]) == 0  # the listing still works afterwards
    assert "P[/x][bold]1[/bold]" in capsys.readouterr().out


@pytest.mark.parametrize("bad_id", ["../../x", "/abs/path", ".hidden", "a/b", "x" * 101, "a\nb"])
def test_unsafe_id_never_becomes_an_output_path(bad_id: str) -> None:
    with pytest.raises(ValidationError, match="not a safe folder name"):
        safe_name(bad_id)


def test_unsafe_id_without_output_is_refused_before_work(tall_case: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _set_patient_id(tall_case, "../../escape")
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "s.db"
    code = main(["analyze", str(tall_case), "--db", f"sqlite:///{db}"])
    assert code == 1
    assert "not a safe folder name" in capsys.readouterr().err
    assert not (tmp_path.parent / "escape").exists() and not any(_rows(db).values())


def test_safe_id_is_kept() -> None:
    assert safe_name("SYN-LATE-01") == "SYN-LATE-01"


def test_non_finite_number_refused_at_the_case_file(tall_case: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    text = tall_case.read_text(encoding="utf-8")
    text = text.replace("relapses:\n", "relapses:\n", 1)
    import yaml

    data = yaml.safe_load(text)
    data["relapses"][0]["marrow_blasts_percent"] = float("inf")
    tall_case.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    code = main(["analyze", str(tall_case), "--db", f"sqlite:///{tmp_path / 's.db'}",
                 "-o", str(tmp_path / "r")])
    err = capsys.readouterr().err
    # refused where the file is read (the line of .inf) or validated (the field path)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "marrow_blasts_percent" in err or ("line" in err and "finite" in err)


def test_bad_db_url_is_refused_before_any_work(tall_case: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["analyze", str(tall_case), "--db", "mysql://nowhere/x", "-o", str(tmp_path / "r")])
    assert code == 1
    assert "unsupported database 'mysql'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_run_batch_keeps_input_order() -> None:
    from remission.app import run_batch

    ticks: list[int] = []
    out = run_batch(pow, [(2, k) for k in range(6)], scheduler="synchronous",
                    progress=lambda: ticks.append(1))
    assert out == [1, 2, 4, 8, 16, 32] and len(ticks) == 6
