"""Fixtures of the flow-cytometry tests: compliance data, the real B-ALL tube, synthetic tubes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

#: ISAC Gating-ML 2.0 compliance suite, vendored with its licence (tests/data/gatingml/README.md)
GML_DIR = Path(__file__).resolve().parents[1] / "data" / "gatingml"


@pytest.fixture(scope="session")
def gml_dir() -> Path:
    assert (GML_DIR / "data1.fcs").is_file(), f"vendored compliance data missing under {GML_DIR}"
    return GML_DIR


@pytest.fixture(scope="session")
def data1(gml_dir: Path):
    from remission.io.fcs import read_fcs

    return read_fcs(gml_dir / "data1.fcs")


def _diva() -> Path | None:
    import importlib.util
    import os

    env = os.environ.get("REMISSION_FACS_DIVA")
    if env and Path(env).is_file():
        return Path(env)
    spec = importlib.util.find_spec("fcsparser")
    if spec is None or spec.origin is None:
        return None
    p = (Path(spec.origin).parent / "tests" / "data" / "FlowCytometers" / "FACS_Diva" / "facs_diva_test.fcs")
    return p if p.is_file() else None


@pytest.fixture(scope="session")
def diva_path() -> Path:
    """The real Vienna B-ALL MRD tube shipped in the fcsparser 0.2.8 wheel (MIT licence).

    ``$REMISSION_FACS_DIVA`` may point to the file when another fcsparser version is installed.
    Missing data fails the test (never a silent skip): ``make install`` installs the wheel.
    """
    p = _diva()
    if p is None:
        pytest.fail("facs_diva_test.fcs not found: run `make install` (pip install --no-deps fcsparser==0.2.8) "
                    "or set REMISSION_FACS_DIVA")
    return p


def tube_as_fcsdata(tube, *, truth: bool = True):
    """A simulated tube as in-memory FcsData (what read_fcs would return for write_tube's file)."""
    from remission.io.fcs import FcsData, Spillover

    ev, ch, mk = tube.events, tube.channels, tube.markers
    if truth:
        ev = np.hstack([ev, tube.truth[:, None].astype(np.float32)])
        ch, mk = (*ch, "TRUTH"), (*mk, "truth label (1 = leukemic)")
    from remission.synth.flow import SYNTHETIC_CYTOMETER

    return FcsData(path=None, version="FCS3.1", events=ev, channels=ch, markers=mk,
                   metadata={"cyt": SYNTHETIC_CYTOMETER}, spill=Spillover(tube.spill_channels, tube.spill))


@pytest.fixture(scope="session")
def normal_ref():
    """A (non-demo) reference model from two seeded synthetic normal tubes of the default panel."""
    from remission.mrd.flow import build_reference
    from remission.synth.flow import simulate_tube

    tubes = [tube_as_fcsdata(simulate_tube(200_000, fraction=0.0, seed=s), truth=False) for s in (7001, 7002)]
    return build_reference(tubes, sources=[{"file": f"normal-{s}.fcs", "sha256": None} for s in (7001, 7002)])


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
