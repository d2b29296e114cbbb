"""The bad-input corpus (``tests/data/bad/``) through the command line, in-process.

Each case is one small corrupt file (or, where the defect is size itself, a file generated here)
and the command that reads it. The contract (DESIGN.md, "Bad input gets a clear error and loses
nothing"): exit code 1, exactly one line on stderr (file descriptor level, so library prints
from htslib would count) naming the file and the line/record, and the store untouched. Bad
option values are usage errors: exit 2, refused before any work.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest
from _seeds import AIRR, KINETICS

from remission.cli import main

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A good diagnosis table, generated over-size files, and an initialised temporary store."""
    good = tmp_path / "good"
    good.mkdir()
    (good / "dx.tsv").write_bytes(AIRR)
    big = tmp_path / "big"
    big.mkdir()
    header = AIRR.split(b"\n", 1)
    # 100 kB and 400 kB headers (issue 12: analyze took 68 s / hung on them)
    for kb in (100, 400):
        extra = b"\t".join(b"x%06d" % i for i in range(kb * 1024 // 8))
        (big / f"airr_header_{kb}kb.tsv").write_bytes(header[0] + b"\t" + extra + b"\n")
    # a 2 MiB line without a newline (scaled-down "2 GB file with no newline")
    (big / "airr_no_newline.tsv").write_bytes(header[0] + b"\n" + b"A" * (2 << 20))
    # a FASTQ record of 1.5 MiB (dnaio raises OverflowError for records beyond its buffer)
    n = 3 << 19
    (big / "fastq_record_1_5mib.fastq.gz").write_bytes(
        gzip.compress(b"@r1\n" + b"A" * n + b"\n+\n" + b"I" * n + b"\n", mtime=0))
    # a CAR-T CSV field of 200 kB (beyond the csv module's 128 kB field limit)
    (big / "kinetics_field_200kb.csv").write_bytes(
        KINETICS.replace(b"14,45000", b'14,"' + b"4" * (200 << 10) + b'"'))
    (big / "vcf_dir.vcf").mkdir()
    db = tmp_path / "store.db"
    url = f"sqlite:///{db}"
    assert main(["store", "list", "--db", url]) == 0  # creates the schema
    monkeypatch.setenv("REMISSION_DB", url)
    monkeypatch.chdir(tmp_path)
    return {"good": good, "big": big, "db": db, "url": Path(url), "tmp": tmp_path}


#: id -> (argv with {bad}/{big} placeholders, the one-line message must contain each fragment)
CASES: dict[str, tuple[list[str], list[str]]] = {
    # item 1: unusable input never yields a result
    "empty_fastq": (["mrd", "ngs", "track", "--diagnosis", "{good}/dx.tsv", "--follow-up-fastq",
                     "{bad}/empty.fastq", "--dna-ng", "700"], ["'empty.fastq'", "record 1", "no reads"]),
    "empty_fastq_gz": (["mrd", "ngs", "track", "--diagnosis", "{good}/dx.tsv", "--follow-up-fastq",
                        "{bad}/empty.fastq.gz", "--dna-ng", "700"], ["'empty.fastq.gz'", "no reads"]),
    "airr_header_only": (["mrd", "ngs", "index", "{bad}/airr_header_only.tsv"],
                         ["AIRR file 'airr_header_only.tsv'", "line 2", "no rearrangements"]),
    # item 4: files stay inside the case folder
    "case_path_escape": (["analyze", "{bad}/case_path_escape.yaml", "-o", "{tmp}/out"],
                         ["case_path_escape.yaml, line 24", "samples[0].files[0]", "leaves the case folder"]),
    "case_absolute_path": (["analyze", "{bad}/case_absolute_path.yaml", "-o", "{tmp}/out"],
                           ["case_absolute_path.yaml, line 24", "absolute path"]),
    # item 6: no input makes a command hang or exhaust memory
    "case_alias_bomb": (["analyze", "{bad}/case_alias_bomb.yaml", "-o", "{tmp}/out"],
                        ["case_alias_bomb.yaml, line", "alias expansion"]),
    "airr_header_100kb": (["mrd", "ngs", "index", "{big}/airr_header_100kb.tsv"],
                          ["'airr_header_100kb.tsv', line 1", "header line longer than 65536 bytes"]),
    "airr_header_400kb": (["mrd", "ngs", "index", "{big}/airr_header_400kb.tsv"],
                          ["'airr_header_400kb.tsv', line 1", "header line longer"]),
    "airr_no_newline": (["mrd", "ngs", "index", "{big}/airr_no_newline.tsv"],
                        ["'airr_no_newline.tsv', line 2", "longer than 1048576 bytes"]),
    # item 7: one line, right exit code
    "qpcr_latin1": (["mrd", "pcr", "{bad}/qpcr_latin1.csv"],
                    ["qPCR plate file 'qpcr_latin1.csv', line 6", "not UTF-8"]),
    "mrd_pairs_latin1": (["mrd", "compare", "{bad}/mrd_pairs_latin1.csv"],
                         ["MRD pairs file 'mrd_pairs_latin1.csv', line 3", "not UTF-8"]),
    "spike_ins_latin1": (["mrd", "ngs", "track", "--diagnosis", "{good}/dx.tsv", "--follow-up",
                          "{good}/dx.tsv", "--spike-in", "{bad}/spike_ins_latin1.csv"],
                         ["spike-in file 'spike_ins_latin1.csv', line 3", "not UTF-8"]),
    "spike_ins_empty": (["mrd", "ngs", "track", "--diagnosis", "{good}/dx.tsv", "--follow-up",
                         "{good}/dx.tsv", "--spike-in", "{bad}/spike_ins_empty.csv"],
                        ["spike-in file 'spike_ins_empty.csv', line 1", "empty file"]),
    "vcf_ad_not_numeric": (["clonal", "{bad}/vcf_ad_not_numeric.vcf"],
                           ["'vcf_ad_not_numeric.vcf', line 9", "FORMAT/AD", "'90,ten'"]),
    "vcf_cut_mid_line": (["clonal", "{bad}/vcf_cut_mid_line.vcf"],
                         ["'vcf_cut_mid_line.vcf', line 9", "expected 11 tab-separated fields"]),
    "vcf_format_without_type": (["clonal", "{bad}/vcf_format_without_type.vcf"],
                                ["'vcf_format_without_type.vcf', line 5", "without Type="]),
    "vcf_directory": (["clonal", "{big}/vcf_dir.vcf"], ["'vcf_dir.vcf'", "no such file"]),
    "fastq_directory": (["mrd", "ngs", "track", "--diagnosis", "{good}/dx.tsv", "--follow-up-fastq",
                         "{big}", "--dna-ng", "700"], ["FASTQ file 'big'", "is a directory"]),
    "case_impossible_date": (["analyze", "{bad}/case_impossible_date.yaml", "-o", "{tmp}/out"],
                             ["case_impossible_date.yaml, line 5", "impossible date '2011-02-31'"]),
    "case_deep_nesting": (["analyze", "{bad}/case_deep_nesting.yaml", "-o", "{tmp}/out"],
                          ["case_deep_nesting.yaml, line 23", "nested more than 64 levels"]),
    "case_infinite_dose": (["analyze", "{bad}/case_infinite_dose.yaml", "-o", "{tmp}/out"],
                           ["case_infinite_dose.yaml, line 22", "cart_infusions[0].dose_cells_per_kg",
                            "expected a finite number, got inf"]),
    "airr_count_beyond_int64": (["mrd", "ngs", "index", "{bad}/airr_count_beyond_int64.tsv"],
                                ["line 3", "field duplicate_count", "too large"]),
    "fastq_record_over_1mib": (["mrd", "ngs", "track", "--diagnosis", "{good}/dx.tsv",
                                "--follow-up-fastq", "{big}/fastq_record_1_5mib.fastq.gz",
                                "--dna-ng", "700"],
                               ["'fastq_record_1_5mib.fastq.gz', record 1", "record longer than"]),
    "kinetics_1e308": (["cart", "kinetics", "{bad}/kinetics_1e308.csv"],
                       ["AUC", "overflows floating point"]),
    "cart_field_over_128kb": (["cart", "kinetics", "{big}/kinetics_field_200kb.csv"],
                              ["'kinetics_field_200kb.csv', line 4", "field larger than field limit"]),
    # item 8: silent acceptance ends
    "airr_duplicate_id": (["mrd", "ngs", "index", "{bad}/airr_duplicate_id.tsv"],
                          ["line 4", "field sequence_id", "'r0' occurs twice (first on line 2)"]),
    "airr_nul": (["mrd", "ngs", "index", "{bad}/airr_nul.tsv"], ["'airr_nul.tsv', line 3", "NUL byte"]),
    "qpcr_nul": (["mrd", "pcr", "{bad}/qpcr_nul.csv"], ["'qpcr_nul.csv', line 8", "NUL byte"]),
    "fastq_non_acgtn": (["mrd", "ngs", "track", "--diagnosis", "{good}/dx.tsv", "--follow-up-fastq",
                         "{bad}/non_acgtn.fastq", "--dna-ng", "700"],
                        ["'non_acgtn.fastq', line 6, record 2", "'Z' at column 18"]),
    "case_duplicate_key": (["analyze", "{bad}/case_duplicate_key.yaml", "-o", "{tmp}/out"],
                           ["case_duplicate_key.yaml, line 23", "duplicate key 'patient' (first on line 2)"]),
}


def _argv(template: list[str], e: dict[str, Path]) -> list[str]:
    return [a.format(bad=BAD, good=e["good"], big=e["big"], tmp=e["tmp"]) for a in template]


def test_every_corpus_file_is_used() -> None:
    # one file per case: a file in tests/data/bad/ that no case reads would be untested
    used = {Path(a.split("/")[-1]).name for argv, _ in CASES.values() for a in argv if "{bad}" in a}
    # the FCS and Gating-ML files of the corpus are run by tests/flow/test_bad_corpus_flow.py
    flow = {p.name for p in BAD.iterdir() if p.name.startswith(("fcs_", "gatingml_"))}
    assert used == {p.name for p in BAD.iterdir() if p.suffix != ".md"} - flow


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_exit_1_store_unchanged(case: str, env: dict[str, Path],
                                                      capfd: pytest.CaptureFixture[str]) -> None:
    template, fragments = CASES[case]
    before = _sha(env["db"])
    capfd.readouterr()
    rc = main(_argv(template, env))
    err = capfd.readouterr().err
    lines = [x for x in err.splitlines() if x.strip()]
    assert rc == 1, (rc, err[-2000:])
    assert len(lines) == 1, err[-2000:]
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert len(lines[0]) < 600, "input text is echoed only as a bounded excerpt"
    assert _sha(env["db"]) == before, "a failed command leaves the store exactly as it was"
    assert not (env["tmp"] / "out").exists(), "nothing is written by a command that fails"


#: bad option values: usage errors (exit 2) naming the option
OPTION_CASES: dict[str, tuple[list[str], str]] = {
    "strategy_bogus": (["mrd", "flow", "{bad}/empty.fastq", "--auto", "--strategy", "bogus"],
                       "--strategy: must be one of auto, cd19, cd19_independent, but was 'bogus'"),
    "dna_ng_negative": (["mrd", "ngs", "track", "--diagnosis", "{good}/dx.tsv", "--follow-up",
                         "{good}/dx.tsv", "--dna-ng", "-5"], "--dna-ng: must be a finite number > 0"),
    "param_not_yaml": (["mrd", "pcr", "{bad}/qpcr_nul.csv", "--param", "min_r2=[1"],
                       "--param: the value of 'min_r2=[1' is not a valid YAML value"),
    "param_no_equals": (["mrd", "pcr", "{bad}/qpcr_nul.csv", "--param", "noequals"],
                        "--param: must be NAME=VALUE, but was 'noequals'"),
    "param_unknown": (["mrd", "ngs", "index", "{good}/dx.tsv", "--param", "index_min_fractoin=0.1"],
                      "--param: unknown parameter 'index_min_fractoin'; known parameters:"),
    "infusion_date": (["cart", "bcells", "{bad}/kinetics_1e308.csv", "--infusion-date", "2020-02-30"],
                      "--infusion-date: must be an ISO date"),
    "spike_in_inline": (["mrd", "ngs", "track", "--diagnosis", "{good}/dx.tsv", "--follow-up",
                         "{good}/dx.tsv", "--spike-in", "10:ACGQ"], "--spike-in: must be an existing file"),
}


@pytest.mark.parametrize("case", sorted(OPTION_CASES))
def test_bad_option_value_is_usage_error(case: str, env: dict[str, Path],
                                         capfd: pytest.CaptureFixture[str]) -> None:
    template, fragment = OPTION_CASES[case]
    capfd.readouterr()
    rc = main(_argv(template, env))
    err = capfd.readouterr().err
    assert rc == 2, err
    first = err.splitlines()[0]
    assert first.startswith("usage error: ") and fragment in first, first


def test_bad_db_is_detected_before_any_work(env: dict[str, Path],
                                            capfd: pytest.CaptureFixture[str]) -> None:
    case = env["tmp"] / "case"
    case.mkdir()
    (case / "case.yaml").write_bytes((BAD / "case_impossible_date.yaml").read_bytes()
                                     .replace(b"2011-02-31", b"2011-02-28"))
    capfd.readouterr()
    for url in (f"sqlite:///{env['tmp']}/missing/x.db", f"sqlite:///{BAD / 'qpcr_nul.csv'}",
                "nosuchdb://x"):
        rc = main(["analyze", str(case / "case.yaml"), "--db", url, "-o", str(env["tmp"] / "out")])
        err = [x for x in capfd.readouterr().err.splitlines() if x.strip()]
        assert rc == 1 and len(err) == 1, err
        assert err[0].startswith(("error: store", "error: --db must be")), err
        assert not (env["tmp"] / "out").exists(), "the option is checked before the analysis runs"


def test_unusable_assay_file_inside_a_case_fails_analyze(env: dict[str, Path],
                                                        capfd: pytest.CaptureFixture[str]) -> None:
    # issue 12 item 1: an empty FASTQ inside a case was stored as "negative, LoD 1.0"; now the
    # reader refuses it ("no reads") and analyze exits 1 without saving or writing a report
    from _seeds import CASE_YAML

    case = env["tmp"] / "case"
    (case / "ngs").mkdir(parents=True)
    (case / "ngs" / "dx.tsv").write_bytes(AIRR)
    (case / "ngs" / "fu.fastq").write_bytes((BAD / "empty.fastq").read_bytes())
    samples = (b"samples:\n"
               b"  - {id: DX, date: 2019-03-11, material: bone_marrow, assay: ngs_mrd, role: diagnosis,"
               b" files: [ngs/dx.tsv], parameters: {dna_ng: 700}}\n"
               b"  - {id: FU, date: 2019-04-15, material: bone_marrow, assay: ngs_mrd, role: follow_up,"
               b" files: [ngs/fu.fastq], parameters: {dna_ng: 700}}\n")
    (case / "case.yaml").write_bytes(CASE_YAML + samples)
    before = _sha(env["db"])
    capfd.readouterr()
    rc = main(["analyze", str(case / "case.yaml"), "-o", str(env["tmp"] / "out")])
    err = [x for x in capfd.readouterr().err.splitlines() if x.strip()]
    assert rc == 1, err
    assert len(err) == 1 and "'fu.fastq'" in err[0] and "no reads" in err[0], err
    assert _sha(env["db"]) == before
    assert not (env["tmp"] / "out").exists()
