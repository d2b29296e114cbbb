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
    # four columns (fits a 1024-px screen): option with access and citations, why, evidence in
    # this patient's setting, cautions
    out.append("<table class='compact options'><thead><tr><th>#</th><th>option and access</th>"
               "<th>why it applies</th><th>evidence in this setting</th>"
               "<th>cautions / missing fields</th></tr></thead><tbody>")
    for o in r.get("options", []):
        why = "<ul class='small'>" + "".join(f"<li>{escape(w)}</li>" for w in o["why"]) + "</ul>"
        items = "".join(
            f"<li>{escape(e['level_text'])}: {escape(e['summary'])} <i>({escape(e['setting'])}; "
            + ("in setting" if e["in_setting"] else "extrapolated" if e["in_setting"] is False
               else "not checkable") + ")</i></li>"
            for e in o.get("evidence_items") or [])
        imm = (f"<br><span class='small'>{escape(o['immune_context'])}</span>"
               if o.get("immune_context") else "")
        ev = (f"<b>{escape(o.get('evidence_in_setting') or o.get('evidence_level') or '')}</b>{imm}"
              + (f"<details><summary>all evidence</summary><ul class='small'>{items}</ul></details>"
                 if items else ""))
        notes = [*o["cautions"], *(o.get("missing_fields") or [])]
        cautions = ("<ul class='small'>" + "".join(f"<li>{escape(c)}</li>" for c in notes)
                    + "</ul>") if notes else "–"
        contra = ""
        if o.get("contraindications"):
            contra = ("<br><span class='small'>contraindicated when: "
                      + "; ".join(escape(c) for c in o["contraindications"]) + "</span>")
        out.append(f"<tr><td>{o['rank']}</td><td><b>{escape(o['name'])}</b><br>"
                   f"<span class='small'>{escape(o['eligibility'])}</span>"
                   f"<details><summary class='small'>citations</summary>{_cites(o['citations'])}"
                   f"</details></td><td>{why}</td><td>{ev}</td><td>{cautions}{contra}</td></tr>")
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
