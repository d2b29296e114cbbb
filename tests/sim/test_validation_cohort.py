"""Virtual trials against published anchors; cohorts in seeded chunks (locally and on Dask)."""

from __future__ import annotations

import numpy as np
import pytest

from remission.errors import ValidationError
from remission.sim import run_cohort, virtual_trial_eliana
from remission.sim.cohort import summarise
from remission.sim.validation import wilson


@pytest.fixture(scope="module")
def eliana() -> dict:
    return virtual_trial_eliana(3000, seed=20180201)


def test_held_out_anchors_lie_within_the_published_intervals(eliana: dict) -> None:
    a = eliana["anchors"]
    # Maude 2018: OS at 6 months 90 % (81-95); ASH 2019 update (n=79): OS at 18 months 70 % (58-79);
    # Rives (5-year ELIANA, PMC10294746): OS 55 % (43-66) — all held out
    for name, lo, hi in (("os_6m", 0.81, 0.95), ("os_18m", 0.58, 0.79), ("os_60m", 0.43, 0.66)):
        assert a[name]["role"] == "held out"
        assert lo <= a[name]["model"] <= hi, name
    # Laetsch 2023: 3-year EFS 44 % (95 % CI 31-57) — held out
    assert a["efs_36m"]["role"] == "held out"
    assert 0.31 <= a["efs_36m"]["model"] <= 0.57
    # Pulsipher 2022: 23/25 relapses with persistent B-cell aplasia CD19-negative; exact CI 0.74-0.99
    assert a["cd19neg_share_relapses_with_bca"]["role"] == "held out"
    assert 0.74 <= a["cd19neg_share_relapses_with_bca"]["model"] <= 0.99


def test_calibration_anchors_are_met(eliana: dict) -> None:
    a = eliana["anchors"]
    assert a["orr_3m"]["model"] == pytest.approx(0.81, abs=0.03)  # Maude 2018: 61/75 = 81 %
    assert 0.35 <= a["efs_12m"]["model"] <= 0.64  # Maude 2018: 12-month EFS 50 % (35-64)
    # OS at 12 months 76 % (Maude 2018) and 3 years 63 % (Laetsch 2023) calibrate the death-after-
    # failure rules (no published source for them), so they are calibration targets, not checks
    assert a["os_12m"]["role"] == a["os_36m"]["role"] == "calibration"
    assert a["os_12m"]["model"] == pytest.approx(0.76, abs=0.03)
    assert a["os_36m"]["model"] == pytest.approx(0.63, abs=0.03)


def test_virtual_trial_writes_down_its_inclusion_criteria_and_death_causes(eliana: dict) -> None:
    assert {"disease", "analysis_population", "consolidation", "follow_up"} <= set(eliana["inclusion"])
    d = eliana["deaths_by_12m"]
    # Levine 2021: 2/137 toxic deaths within 30 days -> about 44 of 3000 expected (binomial SD ~6.6)
    assert 15 <= d["cart_toxicity"] <= 75
    assert d["after_failure"] > d["cart_toxicity"]


def test_wilson_interval_hand_value() -> None:
    # Wilson 95 % for 23/25 by hand: p = 0.92, z² = 3.8416, den = 1 + z²/25 = 1.153664;
    # centre = (0.92 + 0.076832)/den = 0.86406; half = 1.96·√(0.002944 + 0.00153664)/den = 0.11372
    lo, hi = wilson(23, 25)
    assert (round(lo, 4), round(hi, 4)) == (0.7503, 0.9778)


def test_cohort_table_shape_and_determinism() -> None:
    a = run_cohort(900, "cart", seed=7, chunk_size=400, horizon_days=365)
    b = run_cohort(900, "cart", seed=7, chunk_size=400, horizon_days=365, summary_only=True)
    t = a["table"]
    assert t["id"].tolist() == list(range(900)) and a["n_chunks"] == 3
    assert set(np.unique(t["cause"].astype(str))) <= {"censored", "no_remission", "relapse_cd19neg",
                                                      "relapse_cd19pos", "death_after_hsct", "death_after_cart"}
    assert np.all((t["time"] >= 0) & (t["time"] <= 365))
    assert np.array_equal(t["event"] == 0, t["cause"] == "censored")
    # overall survival columns: a death is never before the first event, and every death without
    # relapse is an event at the same time
    assert np.all((t["death_days"] >= 0) & (t["death_days"] <= 365))
    died = t["death"] == 1
    assert np.all(t["death_days"][died] >= t["time"][died] - 1e-9)
    nrm = np.isin(t["cause"].astype(str), ["death_after_hsct", "death_after_cart"])
    assert np.allclose(t["death_days"][nrm], t["time"][nrm]) and np.all(t["death"][nrm] == 1)
    # the same seed and chunking give the same chunks whether gathered or summarised
    parts = [summarise({k: v[i * 400:(i + 1) * 400] for k, v in t.items()}) for i in range(3)]
    assert [p["digest"] for p in parts] == [c["digest"] for c in b["chunks"]]


def test_cohort_refuses_bad_arguments() -> None:
    with pytest.raises(ValidationError, match="n and chunk_size must be >= 1"):
        run_cohort(0, "cart", seed=1)
    with pytest.raises(ValidationError, match="population must be one of"):
        run_cohort(10, "cart", seed=1, population="adults")  # type: ignore[arg-type]


@pytest.mark.slow
def test_dask_local_cluster_gives_the_single_machine_result() -> None:
    local = run_cohort(1200, "blina_then_cart", seed=3, chunk_size=300, horizon_days=200, summary_only=True)
    dist = run_cohort(1200, "blina_then_cart", seed=3, chunk_size=300, horizon_days=200, summary_only=True,
                      scheduler="local", n_workers=2)
    assert [c["digest"] for c in local["chunks"]] == [c["digest"] for c in dist["chunks"]]


@pytest.fixture(scope="module")
def blina() -> dict:
    from remission.sim.validation import virtual_trial_blinatumomab

    return virtual_trial_blinatumomab(3000)


def test_blinatumomab_calibration_anchor(blina: dict) -> None:
    # Brown 2021 (AALL1331): MRD-negative after cycle 1, 75 % (blinatumomab) vs 32 % (chemotherapy)
    assert blina["model"]["blinatumomab"] == pytest.approx(0.75, abs=0.03)
    assert blina["model"]["chemotherapy"] == pytest.approx(0.32, abs=0.03)


def test_locatelli_difference_held_out_within_its_interval(blina: dict) -> None:
    a = blina["anchors"]["locatelli_mrd_remission_difference"]
    # Newcombe by hand from the Wilson limits of 44/49 (0.7824-0.9556) and 26/48 (0.4029-0.6742):
    # 0.3563 ∓ √(0.1155² + 0.1326²), ± √(0.0577² + 0.1388²) -> 0.180 to 0.507
    assert (round(a["published_ci"][0], 3), round(a["published_ci"][1], 3)) == (0.180, 0.507)
    assert a["role"] == "held out" and a["within_published_ci"] is True


@pytest.mark.xfail(strict=True, reason=(
    "known gap: virtual MRD-negativity about 75 % (blinatumomab) and 32 % (chemotherapy), calibrated to AALL1331 on a "
    "population with MRD 1e-5..1e-2 at randomisation, vs Locatelli 44/49 (Wilson 78-96 %) and 26/48 (40-67 %); "
    "Locatelli's baseline MRD distribution is not in the specs, and a population chosen to reproduce it "
    "(e.g. MRD 1e-6..10^-2.4 gives 88 % and 54 %) would be calibrated on the held-out trial"))
def test_locatelli_absolute_levels(blina: dict) -> None:
    a = blina["anchors"]["locatelli_mrd_remission"]
    assert a["blinatumomab"]["within_published_ci"] and a["chemotherapy"]["within_published_ci"]


def test_pulsipher_hazard_ordering_held_out(eliana: dict) -> None:
    # Pulsipher 2022: month-3 NGS-MRD (HR 12) > day-28 NGS-MRD (HR 4.87) > B-cell recovery (3.33-4.5)
    p = eliana["pulsipher_ordering"]
    assert p["order_reproduced"] is True
    assert p["ngs_mrd_positive_month3"]["relative_risk"] > p["ngs_mrd_positive_day28"]["relative_risk"] > 1.0


def test_inotuzumab_comparison_with_aall1621_names_its_uncited_rules() -> None:
    from remission.sim import virtual_trial_inotuzumab

    res = virtual_trial_inotuzumab(2000, seed=20220401)
    a = res["anchor"]
    # O'Brien 2022 (AALL1621): CR 19 + CRi 9 of 48 = 58.3 %, 90 % CI 46.5-69.3 (clinical_rules.md)
    assert (a["published"], a["published_ci"], a["published_ci_level"]) == (0.583, [0.465, 0.693], 0.90)
    assert a["role"].startswith("comparison") and 0.0 <= a["model"] <= 1.0
    assert a["within_published_ci"] == (0.465 <= a["model"] <= 0.693)
    assert {"ino_log10_kill_cd22_high", "ino_log10_kill_cd22_low", "cd22_low_fraction0"} <= set(res["rests_on"])
    # the response ceiling is the CD22-low share: with none and a 6-log kill, 95 % blasts fall to 9.5e-8;
    # even a 2-day doubling time (far below the prior's 14 d median) regrows that only 2^14-fold by
    # day 28, to 1.6e-3 < 5 %: every patient responds
    from remission.sim.parameters import resolve_sim

    r = resolve_sim({"cd22_low_fraction0": 0.0, "ino_log10_kill_cd22_high": 6.0})
    assert virtual_trial_inotuzumab(500, seed=1, rules=r)["anchor"]["model"] == 1.0
