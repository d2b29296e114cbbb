"""Every simulator number is a named, tagged, cited, overridable rule."""

from __future__ import annotations

import pytest

from remission.errors import ValidationError
from remission.sim import SIM_RULES, resolve_sim


def test_every_rule_is_tagged_and_sourced() -> None:
    for name, rule in SIM_RULES.items():
        assert rule.tag in ("C", "R", "U"), name
        assert rule.source.strip() and rule.description.strip(), name


def test_calibrated_rules_say_so_and_name_their_anchor() -> None:
    calibrated = [r for r in SIM_RULES.values() if "calibrated by remission" in r.source]
    assert {r.name for r in calibrated} >= {"cart_dysfunction_probability", "cart_kill_max_per_day",
                                            "cart_kill_half_copies", "cart_functional_copies",
                                            "cd19_negative_fraction0"}
    assert all(r.tag == "U" for r in calibrated)


def test_override_by_name_and_unknown_names_refused() -> None:
    r = resolve_sim({"hsct_trm_probability": 0.2})
    assert r["hsct_trm_probability"].value == 0.2 and r["hsct_trm_probability"].tag == "user"
    assert r["stein_tmax"].value["typical"] == 9.3  # the Stein 2019 rules travel with the simulator's
    with pytest.raises(ValidationError, match="unknown parameter 'hsct_trm'"):
        resolve_sim({"hsct_trm": 0.2})
