"""Fixtures for the cohort engines: R reference values and the data sets they were computed on.

Every comparison test takes ``ref``, which is parametrised twice:

- ``stored``: ``tests/data/cohort/reference.json`` and the CSVs beside it, written by
  ``tests/cohort/r/reference.R`` (R 4.2.2, survival 3.5-3, cmprsk 2.2-11, KMsurv 0.1-5; Debian
  12 packages). Always runs; R is not needed.
- ``live`` (pytest marker ``r``): runs ``Rscript tests/cohort/r/reference.R`` now, into a
  temporary folder, and compares against that fresh output. Skipped without ``Rscript``, except
  when ``REMISSION_REQUIRE_TIERS=1`` (CI), where it fails instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

HERE = Path(__file__).resolve().parent
STORED = HERE.parent / "data" / "cohort"
R_SCRIPT = HERE / "r" / "reference.R"

#: Relative agreement required with R (the issue's bar); R's own approximations are named
#: where a test loosens it.
RTOL = 1e-6


@dataclass(frozen=True)
class RefSet:
    values: dict[str, Any]
    data_dir: Path
    source: str

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def csv(self, name: str) -> pd.DataFrame:
        return pd.read_csv(self.data_dir / f"{name}.csv")


def _live(tmp_path_factory: pytest.TempPathFactory) -> RefSet:
    rscript = shutil.which("Rscript")
    if rscript is None:
        reason = "Rscript is not installed (scripts/test-tiers.sh installs Debian's r-base-core " \
                 "and r-cran-survival/cmprsk/kmsurv when run as root)"
        if os.environ.get("REMISSION_REQUIRE_TIERS") == "1":
            pytest.fail(f"r tier required (REMISSION_REQUIRE_TIERS=1) but {reason}", pytrace=False)
        pytest.skip(f"r tier: {reason}")
    out = tmp_path_factory.mktemp("r_reference")
    proc = subprocess.run([rscript, str(R_SCRIPT), str(out)], capture_output=True, text=True,
                          timeout=600, check=False)
    if proc.returncode != 0:
        pytest.fail(f"Rscript failed: {proc.stderr[-2000:]}", pytrace=False)
    return RefSet(json.loads((out / "reference.json").read_text()), out, "live")


@pytest.fixture(scope="session", params=["stored", pytest.param("live", marks=pytest.mark.r)])
def ref(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> RefSet:
    if request.param == "stored":
        return RefSet(json.loads((STORED / "reference.json").read_text()), STORED, "stored")
    return _live(tmp_path_factory)


def as_array(v: Any) -> np.ndarray:
    """R's JSON (null = NA) as a float array with NaN."""
    if isinstance(v, list):
        return np.array([as_array(x) if isinstance(x, list) else
                         (np.nan if x is None else float(x)) for x in v], dtype=float)
    return np.asarray(np.nan if v is None else v, dtype=float)


def assert_r(actual: Any, expected: Any, what: str, rtol: float = RTOL) -> None:
    """``actual`` equals R's ``expected`` to ``rtol`` (NaN where R has NA)."""
    a = np.asarray(actual, dtype=float)
    e = as_array(expected)
    np.testing.assert_allclose(a, e.reshape(a.shape) if e.size == a.size else e, rtol=rtol,
                               atol=1e-13, equal_nan=True, err_msg=what)
