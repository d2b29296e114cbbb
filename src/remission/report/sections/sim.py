"""Report section "sim": the strategy timeline of the virtual patient (a model projection).

``section.result`` is the result of :func:`remission.sim.strategy_timeline` (optionally with a
``"compare"`` entry from :func:`remission.sim.compare` and an inline ``"svg"``). Every table says
"model projection"; the section never recommends.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from remission.domain import CaseAnalysis, EngineSection
from remission.sim.strategies import DEATH_NOTE

__all__ = ["render", "render_result"]


def _d(v: float | None) -> str:
    return "beyond the horizon" if v is None else f"{v:.0f}"


def render_result(r: dict[str, Any]) -> str:
    """HTML of a timeline result (and comparison, when present)."""
    out = [f"<p><b>{escape(r.get('label', 'model projection')).upper()}</b> — virtual patients calibrated "
           "to this patient's MRD course; not a prediction and not a recommendation.</p>"]
    rel = r["time_to_haematological_relapse_days"]
    out.append(f"<p>Projected time to haematological relapse without treatment: median {_d(rel['q50'])} days "
               f"(90 % interval {_d(rel['q05'])} to {_d(rel['q95'])} days; {r['draws']} posterior draws).</p>")
    out.append("<table class='compact'><thead><tr><th>option</th><th>days needed: median (IQR)</th>"
               "<th>never available</th><th>relapse comes first</th><th>rests on</th></tr></thead><tbody>")
    for o in r["options"]:
        dn = o["days_needed"]
        out.append(f"<tr><td>{escape(o['option'])}</td><td>{_d(dn['q50'])} ({_d(dn['q25'])}–{_d(dn['q75'])})</td>"
                   f"<td>{o['share_never_available']:.0%}</td><td>{o['p_relapse_before_available']:.0%}</td>"
                   f"<td class='small'>{escape(', '.join(o['rests_on']))}</td></tr>")
    out.append("</tbody></table>")
    out.append(f"<p>{escape(r['bridge_question'])}.</p>")
    out.append("<table class='compact'><thead><tr><th>bridge</th><th>fits this patient's state</th>"
               "<th>reasons</th></tr></thead><tbody>")
    for b in r["bridges"]:
        out.append(f"<tr><td>{escape(b['bridge'])}</td><td>{'yes' if b['fits'] else 'no'}</td>"
                   f"<td>{'; '.join(escape(x) for x in b['reasons'])}</td></tr>")
    out.append("</tbody></table>")
    car = r.get("cd19_car_t")
    if car:
        out.append(f"<p>CD19 CAR-T {'fits' if car['fits'] else 'does not fit'} the antigen state: "
                   f"{'; '.join(escape(x) for x in car['reasons'])}.</p>")
    cmp_ = r.get("compare")
    if cmp_:
        out.append("<table class='compact'><thead><tr><th>strategy</th><th>months</th><th>P(haem. relapse)</th>"
                   "<th>P(CD19− relapse)</th><th>P(MRD-negative remission)</th><th>P(death)</th>"
                   "</tr></thead><tbody>")
        for name, s in cmp_["strategies"].items():
            for m in (3, 6, 12):
                cells = []
                for k in ("haem_relapse", "cd19neg_relapse", "mrd_negative_remission", "death"):
                    v = s["probabilities"].get(f"{k}_{m}m")
                    cells.append("–" if v is None else f"{v['p']:.0%} ({v['low']:.0%}–{v['high']:.0%})")
                out.append(f"<tr><td>{escape(name)}</td><td>{m}</td>" + "".join(f"<td>{c}</td>" for c in cells)
                           + "</tr>")
        out.append("</tbody></table>")
        out.append(f"<p class='small'>{escape(DEATH_NOTE)}.</p>")
    if r.get("svg"):
        out.append(str(Markup(r["svg"])))
    rests = r.get("rests_on") or []
    if rests:
        out.append("<details><summary>Parameters this projection rests on (recalled, uncertain or set by "
                   "user)</summary><ul>" + "".join(
                       f"<li><b>{escape(x['name'])}</b> = {escape(str(x['value']))} [{escape(x['tag'])}]: "
                       f"{escape(x['source'])}</li>" for x in rests) + "</ul></details>")
    out.append(f"<p class='small'>{escape(r.get('note', ''))}</p>")
    return "\n".join(out)


def render(section: EngineSection, analysis: CaseAnalysis) -> str:
    return render_result(section.data())
