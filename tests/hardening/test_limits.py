"""Rules of the hardening layer tested one by one: bounded excerpts, bounded lines, sample paths
that stay in the case folder (symlinks included) unless a data root allows them, literal output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from remission.cli import main
from remission.errors import QpcrFormatError, UnsafePathError, excerpt
from remission.io._text import MAX_HEADER_BYTES, MAX_LINE_BYTES, iter_text_lines
from remission.io.casefile import DATA_ROOTS_ENV, resolve_sample_path


def test_excerpt_is_bounded_escaped_and_one_line() -> None:
    assert excerpt("abc") == "'abc'"
    assert excerpt("a\nb\x00\x1b[31m") == "'a\\nb\\x00\\x1b[31m'"  # control characters escaped
    long = excerpt("x" * 10_000_000)
    # 80 characters quoted, then the full length: 80 + 2 quotes + "… (10000000 characters)"
    assert long == "'" + "x" * 80 + "'… (10000000 characters)"
    # undecodable bytes become U+FFFD; the length is counted in bytes
    assert excerpt(b"\xff\xfeA" * 5, limit=4) == "'\ufffd\ufffdA\ufffd'… (15 bytes)"
    assert excerpt("Müller \u202e") == "'Müller \\u202e'"  # a bidi override is escaped


def test_line_limits(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_bytes(b"a,b\n" + b"1" * (MAX_LINE_BYTES + 1) + b"\n")  # line 2: one byte over
    with pytest.raises(QpcrFormatError, match=rf"line 2: line longer than {MAX_LINE_BYTES} bytes"):
        list(iter_text_lines(p, QpcrFormatError))
    p.write_bytes(b"a,b\n" + b"1" * MAX_LINE_BYTES + b"\n")  # exactly the limit: accepted
    assert len(list(iter_text_lines(p, QpcrFormatError))) == 2
    p.write_bytes(b"h" * (MAX_HEADER_BYTES + 1))
    with pytest.raises(QpcrFormatError, match="line 1: header line longer than"):
        list(iter_text_lines(p, QpcrFormatError))
    p.write_bytes(b"\xef\xbb\xbfa,b\n")  # a UTF-8 byte-order mark is dropped
    assert list(iter_text_lines(p, QpcrFormatError)) == ["a,b\n"]
    with pytest.raises(QpcrFormatError, match="is a directory"):
        list(iter_text_lines(tmp_path, QpcrFormatError))


@pytest.fixture()
def tree(tmp_path: Path) -> dict[str, Path]:
    case = tmp_path / "case"
    (case / "ngs").mkdir(parents=True)
    (case / "ngs" / "dx.tsv").write_text("x")
    data = tmp_path / "data"
    data.mkdir()
    (data / "fu.tsv").write_text("y")
    os.symlink(data, case / "link_out")
    os.symlink(case / "ngs", case / "link_in")
    return {"case": case, "data": data}


def test_paths_inside_the_case_folder_resolve(tree: dict[str, Path],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_ROOTS_ENV, raising=False)
    case = tree["case"]
    assert resolve_sample_path(case, "ngs/dx.tsv") == case / "ngs/dx.tsv"
    assert resolve_sample_path(case, "ngs/../ngs/dx.tsv").resolve() == (case / "ngs/dx.tsv").resolve()
    assert resolve_sample_path(case, "link_in/dx.tsv").is_file()  # a symlink staying inside


@pytest.mark.parametrize(("rel", "why"), [
    ("../data/fu.tsv", "leaves the case folder"),
    ("link_out/fu.tsv", "symlink that leads out"),
    ("{data}/fu.tsv", "absolute path"),
    ("/etc/passwd", "absolute path"),
])
def test_paths_leaving_the_case_folder_are_refused(rel: str, why: str, tree: dict[str, Path],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_ROOTS_ENV, raising=False)
    rel = rel.format(data=tree["data"])
    with pytest.raises(UnsafePathError, match=why):
        resolve_sample_path(tree["case"], rel, source="case.yaml", field="samples[0].files[0]")


def test_data_roots_allow_named_folders_only(tree: dict[str, Path],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    case, data = tree["case"], tree["data"]
    # by parameter
    assert resolve_sample_path(case, "../data/fu.tsv", [data]).resolve() == (data / "fu.tsv").resolve()
    assert resolve_sample_path(case, "link_out/fu.tsv", [data]).is_file()
    with pytest.raises(UnsafePathError):
        resolve_sample_path(case, "/etc/passwd", [data])
    # by environment (os.pathsep-separated)
    monkeypatch.setenv(DATA_ROOTS_ENV, os.pathsep.join(["/nonexistent", str(data)]))
    assert resolve_sample_path(case, str(data / "fu.tsv")).is_file()
    # an explicit (empty) list overrides the environment
    with pytest.raises(UnsafePathError):
        resolve_sample_path(case, str(data / "fu.tsv"), [])


def test_user_text_is_printed_literally(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a sample named like rich markup: shown as typed, no MarkupError, no styling
    from _seeds import QPCR

    p = tmp_path / "plate.csv"
    p.write_bytes(QPCR.replace(b"FU1", b"[bold]x[/bold]").replace(b"ALB", b"[/y]"))
    assert main(["mrd", "pcr", str(p)]) == 0
    out = capsys.readouterr().out
    assert "[bold]x[/bold]" in out


def test_airr_line_limit_inside_a_block(tmp_path: Path) -> None:
    from _seeds import AIRR

    from remission.errors import AirrFormatError
    from remission.io.airr import read_airr

    header, row1, rest = AIRR.split(b"\n", 2)
    fields = row1.split(b"\t")
    fields[1] = b"A" * (MAX_LINE_BYTES + 1)  # the sequence column alone passes the limit
    p = tmp_path / "long.tsv"
    p.write_bytes(header + b"\n" + b"\t".join(fields) + b"\n" + rest)
    with pytest.raises(AirrFormatError, match=rf"line 2: line longer than {MAX_LINE_BYTES}"):
        read_airr(p)
    fields[1] = b"A" * 1000  # a long but plausible row is fine
    p.write_bytes(header + b"\n" + b"\t".join(fields) + b"\n" + rest)
    assert len(read_airr(p)) == 3


def test_case_file_parameters_naming_files_stay_inside(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from _seeds import CASE_YAML

    from remission.io.casefile import load_case

    monkeypatch.delenv(DATA_ROOTS_ENV, raising=False)
    sample = (b"samples:\n  - {id: V, date: 2019-03-11, material: bone_marrow, assay: variants,"
              b" files: [v.vcf], parameters: {copy_number: [cn.tsv, ../../cn.tsv]}}\n")
    p = tmp_path / "case.yaml"
    p.write_bytes(CASE_YAML + sample)
    # checked even when file existence is not (check_files=False): the path itself is unsafe
    with pytest.raises(UnsafePathError, match=r"samples\[0\]\.parameters\.copy_number\[1\]"):
        load_case(p, check_files=False)


def test_non_finite_result_is_a_one_line_error_before_output(tmp_path: Path) -> None:
    from remission.cli.common import emit
    from remission.errors import ValidationError

    out = tmp_path / "r.json"
    with pytest.raises(ValidationError, match="JSON cannot carry"):
        emit("x", {"auc": float("inf")}, json_out=True, output=out)
    assert not out.exists()


@pytest.mark.parametrize(("item", "message"), [
    ("noequals", "must be STEP.NAME=VALUE"),
    ("ngs_mrd=1", "must be STEP.NAME=VALUE"),
    ("bogus.x=1", "unknown step 'bogus'; steps: ngs_mrd, risk"),
    ("ngs_mrd.nope=1", "unknown parameter 'nope' of step ngs_mrd"),
    ("ngs_mrd.index_min_fraction=[1", "not a valid YAML value"),
])
def test_step_overrides_refuse_bad_items(item: str, message: str) -> None:
    import typer

    from remission.cli.common import parse_step_overrides

    steps = {"ngs_mrd": {"index_min_fraction"}, "risk": None}
    with pytest.raises(typer.BadParameter, match=message.replace("[", r"\[")):
        parse_step_overrides([item], steps)
    # a good item: the value is parsed as YAML; a step without a name list is not checked
    assert parse_step_overrides(["ngs_mrd.index_min_fraction=0.03", "risk.anything=[1, 2]"],
                                steps) == {"ngs_mrd": {"index_min_fraction": 0.03},
                                           "risk": {"anything": [1, 2]}}


def test_airr_carriage_return_inside_a_line(tmp_path: Path) -> None:
    # pandas' parser ends a row at a lone CR while the field count check does not: refused
    # (found by the mutation fuzz); CRLF line endings stay accepted
    from _seeds import AIRR

    from remission.errors import AirrFormatError
    from remission.io.airr import read_airr

    p = tmp_path / "cr.tsv"
    p.write_bytes(AIRR.replace(b"\t35\n", b"\t3\r5\n"))
    with pytest.raises(AirrFormatError, match="line 3: carriage return inside a line"):
        read_airr(p)
    p.write_bytes(AIRR.replace(b"\n", b"\r\n"))
    assert read_airr(p).count.tolist() == [400, 35, 7]
