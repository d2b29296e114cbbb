"""Plates built in code for the RQ-PCR tests (a small well factory, no files unless asked)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from remission.io.qpcr import QpcrWell, write_plate

U = None  # an 'Undetermined' well

#: the worked-example standard curve: Ct = -3.3 * log10(f) + 20 exactly
SLOPE, INTERCEPT = -3.3, 20.0


def ct_at(level: float, slope: float = SLOPE, intercept: float = INTERCEPT) -> float:
    return round(slope * math.log10(level) + intercept, 4)


def build_plate(
    *,
    target: str = "IGH1",
    standards: dict[float, Sequence[float | None]] | None = None,
    background: Sequence[float | None] = (40.0, U, U),
    ntc: Sequence[float | None] = (U, U),
    follow_up: Sequence[float | None] = (30.0, 30.2, 29.8),
    fu_name: str = "FU1",
    control: dict[str, Sequence[float | None]] | None = None,
    extra: Sequence[QpcrWell] = (),
) -> list[QpcrWell]:
    """One marker; standards default to the exact curve at 1e-1..1e-4 plus a partial 1e-5."""
    if standards is None:
        standards = {lv: [ct_at(lv)] * 3 for lv in (1e-1, 1e-2, 1e-3, 1e-4)}
        standards[1e-5] = [36.5, U, 36.9]
    if control is None:
        control = {"DX": [24.0, 24.0, 24.0], fu_name: [25.0, 25.0, 25.0]}
    wells: list[QpcrWell] = []

    def add(sample: str, tgt: str, kind: str, level: float | None, ct: float | None, rep: int) -> None:
        wells.append(QpcrWell(well=f"W{len(wells) + 1}", sample=sample, target=tgt, kind=kind,  # type: ignore[arg-type]
                              level=level, ct=ct, replicate=rep))

    for lv, cts in standards.items():
        for i, c in enumerate(cts, 1):
            add("DX", target, "standard", lv, c, i)
    for i, c in enumerate(background, 1):
        add("BUFFY", target, "background", None, c, i)
    for i, c in enumerate(ntc, 1):
        add("WATER", target, "ntc", None, c, i)
    for i, c in enumerate(follow_up, 1):
        add(fu_name, target, "follow_up", None, c, i)
    for sample, cts in control.items():
        for i, c in enumerate(cts, 1):
            add(sample, "ALB", "control_gene", None, c, i)
    wells.extend(extra)
    return wells


@pytest.fixture(scope="session")
def plate() -> Callable[..., list[QpcrWell]]:
    return build_plate


@pytest.fixture
def plate_file(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "plate.csv", **kw: Any) -> Path:
        p = tmp_path / name
        write_plate(p, build_plate(**kw))
        return p

    return make
