"""The strategy-comparison table of the sim report section shows P(death) with what it rests on."""

from __future__ import annotations

from remission.report.sections.sim import render_result
from remission.sim.strategies import DEATH_NOTE


def _p(p: float) -> dict[str, float]:
    return {"p": p, "low": p / 2, "high": min(1.0, p * 1.5)}


def test_compare_table_shows_death_and_its_caveat() -> None:
    r = {"label": "model projection", "draws": 10,
         "time_to_haematological_relapse_days": {"q05": 20.0, "q50": 60.0, "q95": None},
         "options": [], "bridge_question": "is a bridge needed", "bridges": [], "rests_on": [], "note": "",
         "compare": {"strategies": {"watch": {"probabilities": {
             f"{k}_{m}m": _p(0.1 * m / 3) for k in ("haem_relapse", "cd19neg_relapse",
                                                       "mrd_negative_remission", "death") for m in (3, 6, 12)}}}}}
    html = render_result(r)
    assert "<th>P(death)</th>" in html
    # watch, 12 months: p = 0.1 * 12 / 3 = 0.4, interval 0.2-0.6 (the _p rule above)
    assert "<td>40% (20%–60%)</td>" in html
    assert DEATH_NOTE.split(" rests on ")[1][:40] in html
