"""The command line, in-process through ``remission.cli.main`` (and one subprocess smoke check)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from remission import __version__
from remission.cli import main

ENVELOPE_KEYS = {"schema", "remission_version", "inputs", "parameters", "result"}


# -- usage errors: exit 2 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["analyze"],  # missing CASE
        ["analyze", "x.yaml", "--bogus"],  # unknown option
        ["no-such-command"],
        ["schema", "nonsense"],  # unknown KIND
        ["store", "list", "--db"],  # option without its value
    ],
    ids=["missing-argument", "unknown-option", "unknown-command", "bad-choice", "option-without-value"],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage error:"), err
    assert "Traceback" not in err


def test_bad_param_syntax_is_reported(example_cases: dict[str, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["analyze", str(example_cases["t-all-early-combined"]), "--no-store", "-o", str(tmp_path),
                 "--param", "novalue"])
    assert code == 2  # a malformed option value is a usage error
    assert "must be STEP.NAME=VALUE, but was 'novalue'" in capsys.readouterr().err


def test_no_arguments_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    captured = capsys.readouterr()
    assert "analyze" in captured.err + captured.out


@pytest.mark.parametrize("argv", [["--help"], ["analyze", "--help"], ["schema", "--help"],
                                  ["demo", "--help"], ["store", "--help"]])
def test_help_exits_0(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Usage:" in out or "usage:" in out.lower()
    if argv == ["--help"]:
        assert "not a medical device" in " ".join(out.lower().split())


def _remission_cmd() -> list[str]:
    script = Path(sys.executable).with_name("remission")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from remission.cli import run; run()"]


def test_help_runs_in_a_fresh_process() -> None:
    # The < 1 s start-up target is measured by benchmarks/bench_cli.py (no wall-clock assertion
    # here: a busy machine must not fail the suite); this checks the installed entry point works
    # and the lazy imports are covered by the next test.
    cmd = [*_remission_cmd(), "--help"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "100"})
    assert proc.returncode == 0, proc.stderr
    assert "analyze" in proc.stdout


def test_help_does_not_import_heavy_libraries() -> None:
    code = ("import sys; from remission.cli import main; main(['--help']); "
            "heavy = [m for m in ('numpy', 'pandas', 'matplotlib', 'sqlalchemy', 'scipy', 'dask') "
            "if m in sys.modules]; print('HEAVY=' + ','.join(heavy))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY=", "--help imported heavy libraries"


# -- schema case ---------------------------------------------------------------------------------


def test_analysis_schema_is_closed(capsys: pytest.CaptureFixture[str]) -> None:
    """Every engine result in ``schema analysis`` is a closed object told apart by ``kind``."""
    assert main(["schema", "analysis"]) == 0
    defs = json.loads(capsys.readouterr().out)["$defs"]
    engines = {"NgsResult", "FlowResult", "PcrResult", "CourseResult", "CartResult", "ClonalResult",
               "RiskResult", "OptionsResult", "SimTimelineResult"}
    assert engines <= set(defs)
    for name in engines:
        assert "kind" in defs[name]["properties"], name
    # every object the engines publish is closed (no key that the schema does not name)
    for name, d in defs.items():
        if d.get("type") == "object" and name not in ("Case", "MrdReport", "Sample"):
            assert d.get("additionalProperties") is False, name
    union = defs["EngineSection"]["properties"]["result"]["anyOf"][0]
    assert union["discriminator"]["propertyName"] == "kind"


def _schema(capsys: pytest.CaptureFixture[str], kind: str = "case") -> dict:
    assert main(["schema", kind]) == 0
    return json.loads(capsys.readouterr().out)


def test_schema_case_is_valid_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    schema = _schema(capsys)
    assert schema["type"] == "object"
    assert {"patient", "diagnosis", "relapses", "samples"} <= set(schema["properties"])
    assert schema.get("additionalProperties") is False  # unknown fields are rejected
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (dev extra) validates the schema")
    jsonschema.Draft202012Validator.check_schema(schema)


def test_example_cases_validate_against_the_schema(example_cases: dict[str, Path],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (dev extra) validates the schema")
    validator = jsonschema.Draft202012Validator(_schema(capsys))
    for slug, path in example_cases.items():
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        # YAML gives datetime.date objects; JSON Schema sees the case as JSON (ISO strings)
        data = json.loads(json.dumps(data, default=str))
        errors = sorted(validator.iter_errors(data), key=str)
        assert not errors, f"{slug}: {errors[0].message}"


def test_schema_rejects_what_the_loader_rejects(capsys: pytest.CaptureFixture[str]) -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (dev extra) validates the schema")
    validator = jsonschema.Draft202012Validator(_schema(capsys))
    bad = {"patient": {"id": "P"}, "diagnosis": {"date": "2020-01-01", "lineage": "X"}}
    assert any("'X' is not one of" in e.message or "'X'" in e.message for e in validator.iter_errors(bad))


def test_schema_to_file(tmp_path: Path) -> None:
    out = tmp_path / "case.schema.json"
    assert main(["schema", "case", "-o", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["title"] == "Case"


def test_schema_analysis(capsys: pytest.CaptureFixture[str]) -> None:
    schema = _schema(capsys, "analysis")
    assert {"case", "provenance", "timeline", "mrd", "sections"} <= set(schema["properties"])


# -- analyze --json ------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["late-bm-bcp", "ph-like-very-early", "t-all-early-combined"])
def test_analyze_json_envelope(slug: str, example_cases: dict[str, Path], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    case_path = example_cases[slug]
    out = tmp_path / "out"
    code = main(["analyze", str(case_path), "--json", "--no-store", "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    env = json.loads(captured.out)  # exactly ONE JSON object: json.loads rejects trailing data
    assert isinstance(env, dict)
    assert set(env) >= ENVELOPE_KEYS
    assert env["schema"] == "remission.case_analysis/2"  # typed results (CHANGELOG 0.2.0)
    assert env["remission_version"] == __version__
    assert isinstance(env["parameters"], dict)
    assert "not a medical device" in env["notice"]
    # inputs: the case file first, then every assay file, each with its SHA-256
    assert env["inputs"][0]["path"] == "case.yaml"
    for item in env["inputs"]:
        assert set(item) == {"path", "sha256"}
        assert len(item["sha256"]) == 64 and int(item["sha256"], 16) >= 0
        assert (case_path.parent / item["path"]).is_file()
    # one checksum verified by hand, independently of remission's sha256_file
    by_hand = hashlib.sha256(case_path.read_bytes()).hexdigest()
    assert env["inputs"][0]["sha256"] == by_hand
    result = env["result"]
    assert result["case_id"] == result["case"]["patient"]["id"]
    assert result["timeline"][0]["kind"] == "diagnosis"
    assert result["provenance"]["inputs"] == env["inputs"]
    assert Path(result["report"]).is_file()
    assert "store" not in result  # --no-store


def test_analyze_json_checksums_all_inputs(example_cases: dict[str, Path], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    case_path = example_cases["t-all-early-combined"]  # has an assay file and a fast pipeline
    assert main(["analyze", str(case_path), "--json", "--no-store", "-o", str(tmp_path)]) == 0
    env = json.loads(capsys.readouterr().out)
    assert len(env["inputs"]) > 1
    for item in env["inputs"]:
        assert item["sha256"] == hashlib.sha256((case_path.parent / item["path"]).read_bytes()).hexdigest()


def test_analyze_param_lands_in_envelope(example_cases: dict[str, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["analyze", str(example_cases["t-all-early-combined"]), "--json", "--no-store",
                 "-o", str(tmp_path), "--param", "mrd_course.progression_log_increase=0.5"])
    assert code == 0
    env = json.loads(capsys.readouterr().out)
    expected = {"mrd_course": {"progression_log_increase": 0.5}}
    assert env["parameters"] == expected
    assert env["result"]["provenance"]["parameters"] == expected


def test_analyze_unknown_step_in_param_is_a_usage_error(example_cases: dict[str, Path], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["analyze", str(example_cases["t-all-early-combined"]), "--no-store",
                 "-o", str(tmp_path), "--param", "demo.threshold=0.5"])
    assert code == 2
    assert "unknown step 'demo'" in capsys.readouterr().err


def test_analyze_human_output(example_cases: dict[str, Path], tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["analyze", str(example_cases["t-all-early-combined"]), "--no-store", "-o", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "SYN-TALL-03" in out
    assert "not a medical device" in " ".join(out.split())
    assert (tmp_path / "report.html").is_file()


def test_analyze_default_output_folder(example_cases: dict[str, Path], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["analyze", str(example_cases["t-all-early-combined"]), "--no-store"]) == 0
    assert (tmp_path / "out" / "SYN-TALL-03" / "report.html").is_file()


# -- start-up of `analyze` (issue 15) --------------------------------------------------------------


@pytest.mark.parametrize("preset", [None, "4"])
def test_analyze_uses_one_blas_thread_unless_the_user_set_a_number(preset: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                            "MKL_NUM_THREADS")}
    if preset is not None:
        env["OPENBLAS_NUM_THREADS"] = preset
    code = ("import os; from remission.cli.common import single_threaded_blas; single_threaded_blas(); "
            "print(os.environ['OPENBLAS_NUM_THREADS'], os.environ['OMP_NUM_THREADS'])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [preset or "1", "1"]


@pytest.mark.parametrize("url", ["sqlite:///./remission.db", "sqlite:///{tmp}/a-b_c.db", "sqlite:///{tmp}/x+y.db",
                                 "sqlite:///{tmp}/no such folder/x.db", "sqlite:///{tmp}"])
def test_plain_sqlite_urls_are_checked_like_sqlalchemy_parses_them(url: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # the fast path (no SQLAlchemy import) must accept and refuse exactly what make_url gives
    import sqlalchemy as sa

    from remission.cli import common
    from remission.errors import RemissionError

    monkeypatch.chdir(tmp_path)
    url = url.format(tmp=tmp_path)

    def outcome() -> str:
        try:
            return "ok " + common.check_db_url(url)
        except RemissionError as exc:
            return f"{type(exc).__name__}: {exc}"

    fast = outcome()
    if " " not in url:  # a URL with a space never takes the fast path
        assert common._SIMPLE_SQLITE.fullmatch(url) is not None
        assert common._SIMPLE_SQLITE.fullmatch(url).group(1) == sa.make_url(url).database
    monkeypatch.setattr(common, "_SIMPLE_SQLITE", re.compile(r"(?!x)x"))  # never matches
    assert outcome() == fast
