"""``remission mrd flow``: JSON keys, batches with Dask, errors as one line with exit code 1."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from remission.cli import main

KEYS = {"mrd", "status", "lod", "loq", "events_total", "events_denominator", "events_leukemic", "method", "f1"}


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict, str]:
    code = main(["mrd", "flow", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip().startswith("{") else {}), err


def test_gating_json(small_tube_file, capsys) -> None:
    fcs, xml = small_tube_file
    code, env, _ = _run(capsys, str(fcs), "--gates", str(xml), "--leukemic", "leukemic",
                        "--denominator", "nucleated", "--json")
    assert code == 0
    res = env["result"]
    assert set(res) >= KEYS
    assert res["method"] == "gating" and res["denominator"] == "nucleated"
    # 60 000 events at 2e-3 -> ~115 leukaemic events (simulate_tube seed 11); gate is exact here
    assert res["status"] == "positive" and res["f1"] > 0.95
    assert res["mrd"] == pytest.approx(res["events_leukemic"] / res["events_denominator"])
    assert res["lod"] == pytest.approx(20 / res["events_denominator"])
    assert any("LoD" in w for w in res["warnings"])  # 60 000 cells < 200 000 for 1e-4


def test_auto_json_and_folder_batch(small_tube_file, tmp_path: Path, capsys) -> None:
    fcs, _ = small_tube_file
    code, env, _ = _run(capsys, str(fcs), "--auto", "--json")
    assert code == 0 and env["result"]["method"] == "auto" and env["result"]["f1"] > 0.9
    folder = tmp_path / "batch"
    folder.mkdir()
    for i in range(2):
        shutil.copy(fcs, folder / f"t{i}.fcs")
    code, env, _ = _run(capsys, str(folder), "--auto", "--json", "--workers", "2")
    assert code == 0
    rows = env["result"]["files"]
    assert [r["file"] for r in rows] == ["t0.fcs", "t1.fcs"]
    assert rows[0]["events_leukemic"] == rows[1]["events_leukemic"]


def test_auto_with_normal_reference_tube(small_tube_file, tmp_path: Path, capsys) -> None:
    from remission.synth.flow import simulate_tube, write_tube

    ref = write_tube(simulate_tube(80_000, fraction=0.0, seed=99), tmp_path / "normal.fcs", truth_channel=False)
    fcs, _ = small_tube_file
    code, env, _ = _run(capsys, str(fcs), "--auto", "--reference", str(ref), "--json")
    assert code == 0
    res = env["result"]
    assert res["reference"] == "1 normal reference tube(s)"
    assert not any("synthetic normal-marrow model" in w for w in res["warnings"])
    assert res["f1"] > 0.8


def test_gate_on_missing_channel_is_one_line_error(small_tube_file, tmp_path: Path, capsys) -> None:
    fcs, xml = small_tube_file
    bad = tmp_path / "bad.xml"
    bad.write_text(xml.read_text().replace('data-type:name="PE-A"', 'data-type:name="CD99-PE"'))
    code, _, err = _run(capsys, str(fcs), "--gates", str(bad), "--leukemic", "leukemic",
                        "--denominator", "nucleated")
    assert code == 1
    assert err.startswith("error: Gating-ML file 'bad.xml', field gate leukemic: channel 'CD99-PE' is not in FCS")


def test_corrupt_file_error(tmp_path: Path, capsys) -> None:
    p = tmp_path / "junk.fcs"
    p.write_bytes(b"FCS3.0    junk")
    code, _, err = _run(capsys, str(p), "--auto")
    assert code == 1 and "FCS file 'junk.fcs'" in err


def test_needs_gates_or_auto(small_tube_file, capsys) -> None:
    code, _, err = _run(capsys, str(small_tube_file[0]))
    assert code == 1 and "--gates" in err


def test_help_mentions_options(capsys) -> None:
    assert main(["mrd", "flow", "--help"]) == 0
    out = capsys.readouterr().out
    for opt in ("--gates", "--leukemic", "--denominator", "--auto", "--reference", "--scheduler", "--json"):
        assert opt in out
