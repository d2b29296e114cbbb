"""Case files: the examples load; each kind of bad case file gives one line naming file and field.

Every bad file is checked twice: through :func:`remission.io.casefile.load_case` (raises
``CaseFileError``) and through the CLI in-process (exit code 1, one line on stderr).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from remission.cli import main
from remission.domain import Case
from remission.errors import CaseFileError, InputError
from remission.io.casefile import case_inputs, load_case, parse_case

# -- the examples --------------------------------------------------------------------------


def test_example_cases_load(example_cases: dict[str, Path]) -> None:
    # the issue names three patients; contributors may add samples but never remove cases
    assert {"late-bm-bcp", "ph-like-very-early", "t-all-early-combined"} <= set(example_cases)
    for slug, path in example_cases.items():
        case = load_case(path)
        assert isinstance(case, Case), slug
        assert case.id.startswith("SYN-"), "example patients are synthetic and say so"
        assert case.relapses, f"{slug}: every example is a relapse case"
        # every referenced assay file exists and is listed for provenance
        for f in case_inputs(path, case):
            assert f.is_file(), f


def test_example_case_contents(example_cases: dict[str, Path]) -> None:
    # the clinical picture each example must show (issue 2, "Example cases")
    late = load_case(example_cases["late-bm-bcp"])
    assert late.diagnosis.lineage == "B"
    assert late.relapses[0].site == "isolated_bm"
    assert late.frontline.end_date is not None
    # "late": relapse >= 6 months after the end of frontline therapy (by construction of the example)
    assert (late.relapses[0].date - late.frontline.end_date).days >= 183

    phl = load_case(example_cases["ph-like-very-early"])
    names = {lesion.name for lesion in phl.diagnosis.lesions}
    assert any("CRLF2" in n for n in names) and "JAK2" in names
    assert any(t.name == "blinatumomab" for t in phl.therapies)
    assert phl.cart_infusions
    # "very early": relapse < 18 months from diagnosis
    assert (phl.relapses[0].date - phl.diagnosis.date).days < 18 * 30.44

    tall = load_case(example_cases["t-all-early-combined"])
    assert tall.diagnosis.lineage == "T"
    assert tall.relapses[0].site == "combined"


def test_json_case_file_loads(base_case: dict[str, Any], write_case: Callable[..., Path]) -> None:
    case = load_case(write_case(base_case, name="case.json"))
    assert case.id == "SYN-LATE-01"
    assert case.relapses[0].date == dt.date(2019, 3, 11)


def test_yaml_and_json_give_the_same_case(base_case: dict[str, Any], write_case: Callable[..., Path]) -> None:
    a = load_case(write_case(base_case, name="a.yaml"))
    b = load_case(write_case(base_case, name="b.json"))
    assert a == b


def test_age_instead_of_date_of_birth(base_case: dict[str, Any], write_case: Callable[..., Path]) -> None:
    base_case["patient"] = {"id": "P1", "age_at_diagnosis_years": 7.5}
    case = load_case(write_case(base_case))
    # age at relapse = 7.5 y + (2019-03-11 - 2015-02-03) = 7.5 + 1497 d / 365.25
    assert case.age_at(dt.date(2019, 3, 11)) == pytest.approx(7.5 + 1497 / 365.25)


def test_sample_files_are_checked_relative_to_the_case_file(
    base_case: dict[str, Any], write_case: Callable[..., Path], tmp_path: Path
) -> None:
    (tmp_path / "ngs").mkdir()
    (tmp_path / "ngs" / "fu1.tsv").write_text("sequence_id\n", encoding="utf-8")
    base_case["samples"] = [_sample(files=["ngs/fu1.tsv"])]
    case = load_case(write_case(base_case))
    assert case.samples[0].files == ("ngs/fu1.tsv",)
    assert load_case(write_case(base_case), check_files=True).samples_of("ngs_mrd")


# -- bad case files ----------------------------------------------------------------------------


def _sample(**kw: Any) -> dict[str, Any]:
    s = {"id": "FU1", "date": "2019-04-15", "material": "bone_marrow", "assay": "ngs_mrd",
         "role": "follow_up", "files": ["ngs/fu1.tsv"]}
    s.update(kw)
    return s


def _unknown_field(d: dict[str, Any]) -> None:
    d["patient"]["favourite_colour"] = "blue"


def _wrong_enum(d: dict[str, Any]) -> None:
    d["relapses"][0]["site"] = "marrow"


def _missing_assay_file(d: dict[str, Any]) -> None:
    d["samples"] = [_sample(files=["ngs/absent.tsv"])]


def _relapse_before_diagnosis(d: dict[str, Any]) -> None:
    d["relapses"][0]["date"] = "2014-12-31"  # diagnosis is 2015-02-03


def _dob_after_diagnosis(d: dict[str, Any]) -> None:
    d["patient"]["date_of_birth"] = "2015-02-04"  # diagnosis is 2015-02-03


def _bad_date(d: dict[str, Any]) -> None:
    d["diagnosis"]["date"] = "03/02/2015"


def _missing_required(d: dict[str, Any]) -> None:
    del d["diagnosis"]["lineage"]


def _duplicate_sample(d: dict[str, Any], tmp: Path) -> None:
    (tmp / "ngs").mkdir(exist_ok=True)
    (tmp / "ngs" / "fu1.tsv").write_text("x\n", encoding="utf-8")
    d["samples"] = [_sample(), _sample()]


# (id, mutation, field path, message pattern)
BAD: list[tuple[str, Callable[..., None], str, str]] = [
    ("unknown-field", _unknown_field, "patient.favourite_colour", r"unknown field"),
    ("wrong-enum", _wrong_enum, "relapses[0].site",
     r"expected one of isolated_bm, combined, isolated_cns, isolated_testis, other_em, got 'marrow'"),
    ("missing-assay-file", _missing_assay_file, "samples[0].files[0]", r"assay file 'ngs/absent.tsv' not found"),
    ("relapse-before-diagnosis", _relapse_before_diagnosis, "relapses[0].date", r"before diagnosis 2015-02-03"),
    ("dob-after-diagnosis", _dob_after_diagnosis, "patient.date_of_birth", r"after diagnosis 2015-02-03"),
    ("bad-date", _bad_date, "diagnosis.date", r"expected an ISO date \(YYYY-MM-DD\), got '03/02/2015'"),
    ("missing-required", _missing_required, "diagnosis.lineage", r"required field is missing"),
]


def _write_bad(mutate: Callable[..., None], base: dict[str, Any], write_case: Callable[..., Path],
               tmp: Path, name: str) -> Path:
    if mutate is _duplicate_sample:
        mutate(base, tmp)
    else:
        mutate(base)
    return write_case(base, name=name)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
@pytest.mark.parametrize(("kind", "mutate", "field", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_case_raises_case_file_error(
    kind: str, mutate: Callable[..., None], field: str, message: str, suffix: str,
    base_case: dict[str, Any], write_case: Callable[..., Path], tmp_path: Path,
) -> None:
    path = _write_bad(mutate, base_case, write_case, tmp_path, f"bad-{kind}{suffix}")
    with pytest.raises(CaseFileError, match=message) as info:
        load_case(path)
    err = info.value
    assert isinstance(err, InputError) and isinstance(err, ValueError)
    assert err.field == field
    text = str(err)
    assert "\n" not in text
    # the short form of the issue: "<file>[, line N]: <field>: <reason>"
    assert re.match(rf"^bad-{kind}{re.escape(suffix)}(, line \d+)?: {re.escape(field)}: ", text), text
    if suffix == ".yaml":
        assert err.line is not None, "YAML errors name the line"
    else:
        assert err.line is None  # JSON: no line index for schema errors


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
@pytest.mark.parametrize(("kind", "mutate", "field", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_case_cli_exit_1_one_line(
    kind: str, mutate: Callable[..., None], field: str, message: str, suffix: str,
    base_case: dict[str, Any], write_case: Callable[..., Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _write_bad(mutate, base_case, write_case, tmp_path, f"bad-{kind}{suffix}")
    out = tmp_path / "out"
    code = main(["analyze", str(path), "--no-store", "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert f"bad-{kind}{suffix}" in lines[0]
    assert field in lines[0]
    assert re.search(message, lines[0])
    assert "Traceback" not in captured.err
    assert not out.exists(), "nothing is written for a bad case"


def test_wrong_enum_names_the_yaml_line(base_case: dict[str, Any], write_case: Callable[..., Path]) -> None:
    path = write_case(base_case)
    _wrong_enum(base_case)
    path = write_case(base_case)
    with pytest.raises(CaseFileError) as info:
        load_case(path)
    line = path.read_text(encoding="utf-8").splitlines()[info.value.line - 1]  # type: ignore[operator]
    assert "site: marrow" in line


def test_duplicate_sample_id(base_case: dict[str, Any], write_case: Callable[..., Path], tmp_path: Path) -> None:
    path = _write_bad(_duplicate_sample, base_case, write_case, tmp_path, "dup.yaml")
    with pytest.raises(CaseFileError, match=r"samples: duplicate sample id 'FU1'"):
        load_case(path)


MALFORMED = [
    ("case.yaml", "patient: {id: x\n  sex: [\n", r"^case\.yaml, line \d+: malformed YAML"),
    ("case.yaml", "patient:\n\tid: x\n", r"^case\.yaml, line \d+: malformed YAML"),
    ("case.json", '{"patient": ', r"^case\.json, line 1: malformed JSON"),
    ("case.yaml", "- a\n- b\n", r"^case\.yaml: expected a mapping at the top level"),
    ("case.yaml", "", r"^case\.yaml: expected a mapping at the top level"),
]


@pytest.mark.parametrize(("name", "text", "message"), MALFORMED)
def test_malformed_file(name: str, text: str, message: str, write_case: Callable[..., Path],
                        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_case(name=name, text=text)
    with pytest.raises(CaseFileError, match=message):
        load_case(path)
    code = main(["analyze", str(path), "--no-store", "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert re.search(message.lstrip("^"), err)


def test_case_file_not_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(CaseFileError, match=r"^nope\.yaml: file not found"):
        load_case(tmp_path / "nope.yaml")
    assert main(["analyze", str(tmp_path / "nope.yaml"), "--no-store", "-o", str(tmp_path)]) == 1
    assert "nope.yaml: file not found" in capsys.readouterr().err


def test_debug_shows_the_traceback(base_case: dict[str, Any], write_case: Callable[..., Path],
                                   tmp_path: Path) -> None:
    _wrong_enum(base_case)
    path = write_case(base_case)
    with pytest.raises(CaseFileError):
        main(["--debug", "analyze", str(path), "--no-store", "-o", str(tmp_path / "out")])


def test_parse_case_rejects_non_mapping() -> None:
    with pytest.raises(CaseFileError, match="expected a mapping"):
        parse_case(["not", "a", "case"], source="x.yaml")


def test_missing_files_can_be_tolerated_by_named_flag(
    base_case: dict[str, Any], write_case: Callable[..., Path]
) -> None:
    _missing_assay_file(base_case)
    case = load_case(write_case(base_case), check_files=False)
    assert case.samples[0].files == ("ngs/absent.tsv",)
