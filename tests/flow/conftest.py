"""Fixtures of the flow-cytometry tests: compliance data, the real B-ALL tube, synthetic tubes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def gml_dir(shared_dir: Path) -> Path:
    d = shared_dir / "data" / "gatingml"
    if not (d / "data1.fcs").is_file():
        pytest.skip("Gating-ML compliance data not in ../shared/data/gatingml")
    return d


@pytest.fixture(scope="session")
def data1(gml_dir: Path):
    from remission.io.fcs import read_fcs

    return read_fcs(gml_dir / "data1.fcs")


@pytest.fixture(scope="session")
def diva_path() -> Path:
    """The real Vienna B-ALL MRD tube shipped in the fcsparser 0.2.8 wheel (MIT licence).

    ``$REMISSION_FACS_DIVA`` may point to the file when another fcsparser version is installed.
    """
    import os

    env = os.environ.get("REMISSION_FACS_DIVA")
    if env and Path(env).is_file():
        return Path(env)
    fcsparser = pytest.importorskip("fcsparser")
    p = (Path(fcsparser.__file__).parent / "tests" / "data" / "FlowCytometers" / "FACS_Diva"
         / "facs_diva_test.fcs")
    if not p.is_file():
        pytest.skip("facs_diva_test.fcs missing: install the dev extra (fcsparser==0.2.8)")
    return p


def tube_as_fcsdata(tube, *, truth: bool = True):
    """A simulated tube as in-memory FcsData (what read_fcs would return for write_tube's file)."""
    from remission.io.fcs import FcsData, Spillover

    ev, ch, mk = tube.events, tube.channels, tube.markers
    if truth:
        ev = np.hstack([ev, tube.truth[:, None].astype(np.float32)])
        ch, mk = (*ch, "TRUTH"), (*mk, "truth label (1 = leukemic)")
    return FcsData(path=None, version="FCS3.1", events=ev, channels=ch, markers=mk, metadata={},
                   spill=Spillover(tube.spill_channels, tube.spill))


@pytest.fixture(scope="session")
def small_tube_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(fcs, gates.xml): 60 000-event synthetic tube with leukaemia at 2e-3 and its gates."""
    from remission.synth.flow import _gates_xml, simulate_tube, write_tube

    d = tmp_path_factory.mktemp("flow")
    tube = simulate_tube(60_000, fraction=2e-3, phenotype="cd45neg_cd38lo", seed=11)
    fcs = write_tube(tube, d / "tube.fcs")
    xml = d / "gates.xml"
    xml.write_text(_gates_xml(tube), encoding="utf-8")
    return fcs, xml
