"""Plate CSV reader: round trip, and every bad-file kind names file, line and field."""

from __future__ import annotations

import json

import pytest

from remission.cli import main
from remission.errors import QpcrFormatError
from remission.io.qpcr import read_plate, write_plate

HEADER = "well,sample,target,kind,level,ct,replicate\n"
GOOD = HEADER + "A1,DX,IGH1,standard,1e-1,23.3,1\nA2,FU1,IGH1,follow_up,,Undetermined,1\n"


def test_round_trip_is_exact(plate, tmp_path):
    wells = plate()
    p = tmp_path / "p.csv"
    write_plate(p, wells)
    back = read_plate(p)
    assert [(w.well, w.sample, w.target, w.kind, w.level, w.ct, w.replicate) for w in back] == \
        [(w.well, w.sample, w.target, w.kind, w.level, w.ct, w.replicate) for w in wells]
    assert back[0].line == 2


def test_reads_undetermined_as_none(tmp_path):
    p = tmp_path / "ok.csv"
    p.write_text(GOOD)
    w = read_plate(p)
    assert w[0].level == 0.1 and w[0].ct == 23.3
    assert w[1].ct is None and w[1].level is None


@pytest.mark.parametrize(("text", "match"), [
    ("", r"plate\.csv', line 1: empty file"),
    ("well,sample,target,kind,level,ct\n", r"line 1, field replicate: missing column\(s\) replicate"),
    (HEADER.strip() + ",extra\n", r"line 1, field extra: unknown column"),
    (HEADER, r"line 2: no wells"),
    (HEADER + "A1,DX,IGH1,calibrator,1e-1,23.3,1\n", r"line 2, field kind: expected one of standard"),
    (HEADER + "A1,DX,IGH1,standard,,23.3,1\n", r"line 2, field level: a standard well needs its dilution"),
    (HEADER + "A1,DX,IGH1,standard,2,23.3,1\n", r"line 2, field level: expected a dilution level in \(0, 1\]"),
    (HEADER + "A1,FU,IGH1,follow_up,1e-3,23.3,1\n", r"line 2, field level: only standard wells have a level"),
    (HEADER + "A1,FU,IGH1,follow_up,,n/a,1\n", r"line 2, field ct: expected a Ct value \(number\) or 'Undetermined', got 'n/a'"),
    (HEADER + "A1,FU,IGH1,follow_up,,nan,1\n", r"line 2, field ct"),
    (HEADER + "A1,FU,IGH1,follow_up,,-3,1\n", r"line 2, field ct: expected a Ct between 0 and 100"),
    (HEADER + "A1,FU,IGH1,follow_up,,30,0\n", r"line 2, field replicate: expected a positive integer"),
    (HEADER + "A1,FU,IGH1,follow_up,,30,x\n", r"line 2, field replicate"),
    (HEADER + "A1,FU,IGH1,follow_up,,30\n", r"line 2: expected 7 fields, got 6"),
    (HEADER + "A1,FU,,follow_up,,30,1\n", r"line 2, field target"),
    (HEADER + "A1,FU,IGH1,follow_up,,30,1\nA1,FU,IGH1,follow_up,,30,2\n", r"line 3, field well: duplicate well 'A1' \(first on line 2\)"),
])
def test_bad_files_name_line_and_field(tmp_path, text, match):
    p = tmp_path / "plate.csv"
    p.write_text(text)
    with pytest.raises(QpcrFormatError, match=match):
        read_plate(p)


def test_missing_file(tmp_path):
    with pytest.raises(QpcrFormatError, match="cannot open"):
        read_plate(tmp_path / "none.csv")


def test_cli_pcr_json(plate_file, capsys):
    p = plate_file()
    assert main(["mrd", "pcr", str(p), "--json"]) == 0
    env = json.loads(capsys.readouterr().out)
    assert env["schema"] == "remission.pcr_mrd/1"
    assert env["inputs"][0]["sha256"]
    assert env["parameters"]["qr_max_replicate_spread"] == 1.5
    res = env["result"]
    assert res["case_level"][0]["category"] == "positive"
    assert res["markers"][0]["curve"]["slope"] == pytest.approx(-3.3)


def test_cli_pcr_param_override_and_human(plate_file, capsys, tmp_path):
    p = plate_file()
    out = tmp_path / "out.txt"
    assert main(["mrd", "pcr", str(p), "--param", "slope_max=-3.35", "-o", str(out)]) == 0
    text = out.read_text()
    assert "NO" in text and "not evaluable" in text  # slope -3.3 now outside [-3.9, -3.35]


def test_cli_bad_plate_exits_1_with_one_line(tmp_path, capsys):
    p = tmp_path / "bad.csv"
    p.write_text(HEADER + "A1,FU,IGH1,follow_up,,n/a,1\n")
    assert main(["mrd", "pcr", str(p)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "qPCR plate file 'bad.csv', line 2, field ct" in err


def test_cli_unknown_param_is_a_usage_error(plate_file, capsys):
    # issue 12: an unknown parameter is a bad option value (exit 2), refused before any work
    assert main(["mrd", "pcr", str(plate_file()), "--param", "nope=1"]) == 2
    assert "unknown parameter 'nope'" in capsys.readouterr().err
