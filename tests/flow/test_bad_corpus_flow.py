"""The FCS and Gating-ML files of the bad-input corpus (``tests/data/bad/fcs_*``, ``gatingml_*``)
through the CLI: exit code 1 and one stderr line naming the file and the record/field, or - for a
tube with no evaluable event - status ``not_evaluable`` with the reason, never ``negative``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from remission.cli import main

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"
GATES = """<gating:Gating-ML xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating"
 xmlns:data-type="http://www.isac-net.org/std/Gating-ML/v2.0/datatypes">
 <gating:RectangleGate gating:id="cells"><gating:dimension gating:compensation-ref="uncompensated"
  gating:min="1000"><data-type:fcs-dimension data-type:name="FSC-A"/></gating:dimension></gating:RectangleGate>
 <gating:RectangleGate gating:id="high" gating:parent_id="cells"><gating:dimension
  gating:compensation-ref="uncompensated" gating:min="60000"><data-type:fcs-dimension data-type:name="FL1-A"/>
  </gating:dimension></gating:RectangleGate>
</gating:Gating-ML>"""


@pytest.fixture(scope="module")
def gates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("g") / "gates.xml"
    p.write_text(GATES, encoding="utf-8")
    return p


@pytest.mark.parametrize(("name", "expected"), [
    ("fcs_nan_event.fcs", "FCS file 'fcs_nan_event.fcs', record event 18, field FL1-A: value nan is not a finite"),
    ("fcs_inf_event.fcs", "FCS file 'fcs_inf_event.fcs', record event 6, field FSC-A: value inf is not a finite"),
    ("fcs_byteord_9999.fcs", "FCS file 'fcs_byteord_9999.fcs', field $BYTEORD: has unsupported $BYTEORD '9,9,9,9'"),
    ("fcs_datatype_ascii.fcs", "FCS file 'fcs_datatype_ascii.fcs', field $DATATYPE: has unsupported $DATATYPE 'A'"),
])
def test_bad_fcs_is_one_line_exit_1(name: str, expected: str, gates: Path, capsys) -> None:
    code = main(["mrd", "flow", str(BAD / name), "--gates", str(gates), "--leukemic", "high",
                 "--denominator", "cells"])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith(f"error: {expected}")


@pytest.mark.parametrize(("name", "expected"), [
    ("gatingml_nan_bound.xml", "Gating-ML file 'gatingml_nan_bound.xml', field RectangleGate cells: attribute "
                               "min='nan' must be a finite number"),
    ("gatingml_logicle_w_negative.xml", "Gating-ML file 'gatingml_logicle_w_negative.xml', field transformation L: "
                                        "logicle W must be in [0, M/2] = [0, 2.25], but was -7.0"),
])
def test_bad_gatingml_is_one_line_exit_1(name: str, expected: str, capsys) -> None:
    code = main(["mrd", "flow", str(BAD / "fcs_all_negative.fcs"), "--gates", str(BAD / name), "--leukemic",
                 "cells", "--denominator", "cells"])
    err = capsys.readouterr().err
    assert code == 1 and err.strip() == f"error: {expected}"


def test_all_negative_events_are_not_evaluable(gates: Path, capsys) -> None:
    code = main(["mrd", "flow", str(BAD / "fcs_all_negative.fcs"), "--gates", str(gates), "--leukemic", "high",
                 "--denominator", "cells", "--json"])
    res = json.loads(capsys.readouterr().out)["result"]
    # 200 events, every FSC value negative: the denominator gate (FSC-A >= 1000) is empty
    assert code == 0 and res["status"] == "not_evaluable" and res["mrd"] is None and res["lod"] is None
    assert res["reason"] == "no evaluable events: the denominator gate 'cells' holds none of the 200 events"
