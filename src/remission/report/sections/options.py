"""Report section "options": the ranked therapy options with why, evidence level, citations,
eligibility and cautions; the options not proposed with their reasons. Proposes, never decides."""

from __future__ import annotations

from typing import Any

from markupsafe import escape

from remission.domain import CaseAnalysis, EngineSection


def _cites(cs: list[dict[str, Any]]) -> str:
    items = []
    for c in cs:
        nums = f" — {escape(c['key_numbers'])}" if c.get("key_numbers") else ""
        items.append(f"<li>{escape(c['source'])}{nums} <span class='tag tag-{escape(c['tag'])}'>"
                     f"{escape(c['tag'])}</span></li>")
    return "<ul class='small'>" + "".join(items) + "</ul>"


def render(section: EngineSection, analysis: CaseAnalysis) -> str:
    r = section.data()
    kb = r.get("knowledge_base", {})
    out = [f"<p><b>{escape(r.get('notice', ''))}</b></p>",
           f"<p class='small'>Knowledge base {escape(kb.get('version', '?'))} "
           f"({kb.get('entries', '?')} entries). Order: {escape(r.get('ranking', ''))}.</p>"]
    for n in r.get("notes", []):
        out.append(f"<p class='warning'>{escape(n)}</p>")
    out.append("<table class='compact'><thead><tr><th>#</th><th>option</th><th>why it applies</th>"
               "<th>evidence</th><th>eligibility</th><th>cautions / contraindications</th>"
               "<th>citations</th></tr></thead><tbody>")
    for o in r.get("options", []):
        why = "<ul class='small'>" + "".join(f"<li>{escape(w)}</li>" for w in o["why"]) + "</ul>"
        ev = "<br>".join(f"{escape(e['framework'])} <b>{escape(e['level'])}</b>: {escape(e['summary'])}"
                         for e in o["evidence"])
        cautions = ("<ul class='small'>" + "".join(f"<li>{escape(c)}</li>" for c in o["cautions"])
                    + "</ul>") if o["cautions"] else "–"
        contra = ""
        if o.get("contraindications"):
            contra = ("<br><span class='small'>contraindicated when: "
                      + "; ".join(escape(c) for c in o["contraindications"]) + "</span>")
        out.append(f"<tr><td>{o['rank']}</td><td><b>{escape(o['name'])}</b><br>"
                   f"<span class='small'>{escape(o.get('target') or '')}</span></td><td>{why}</td>"
                   f"<td>{ev}</td><td>{escape(o['eligibility'])}</td><td>{cautions}{contra}</td>"
                   f"<td>{_cites(o['citations'])}</td></tr>")
    out.append("</tbody></table>")
    if r.get("excluded"):
        out.append("<h3>Not proposed</h3><table class='compact'><thead><tr><th>option</th>"
                   "<th>reason</th><th>evidence</th></tr></thead><tbody>")
        for e in r["excluded"]:
            out.append(f"<tr><td>{escape(e['name'])}</td><td>"
                       + "<br>".join(escape(x) for x in e["reasons"])
                       + f"</td><td>{escape(e['evidence_level'])}</td></tr>")
        out.append("</tbody></table>")
    return "\n".join(out)
