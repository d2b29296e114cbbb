"""Report section "risk": risk groups of the first relapse with their rule paths, the transplant
rule with the MRD it used (method, LoD, LoQ; below-LoQ values never as plain numbers), flags."""

from __future__ import annotations

from typing import Any

from markupsafe import escape

from remission.domain import CaseAnalysis, EngineSection

_SITE = {"isolated_bm": "isolated marrow", "combined": "combined marrow and extramedullary",
         "isolated_cns": "isolated CNS", "isolated_testis": "isolated testicular",
         "other_em": "isolated extramedullary (other)"}
_FLAG = {"relapse_after_hsct": "relapse after HSCT", "second_relapse": "later relapse",
         "ph_positive": "Ph+ ALL", "age_outside_scheme": "age outside a scheme",
         "t_all_not_aall1331": "T-ALL and AALL1331", "prior_blinatumomab": "prior blinatumomab",
         "missing_frontline_end_date": "end of frontline therapy missing",
         "no_relapse": "no relapse"}
_SCHEMES = (("bfm", "ALL-REZ BFM"), ("intreall", "IntReALL"), ("allr3", "UK ALLR3"), ("cog", "COG"))


def _mrd(m: dict[str, Any] | None) -> str:
    if not m:
        return "none available"
    lims = ", ".join(f"{k.upper()} {m[k]:.1e}" for k in ("lod", "loq") if m.get(k) is not None)
    return (f"<span class='badge {escape(m['status'])}'>{escape(m['display'])}</span> "
            f"({escape(m['method'])}{', ' + escape(lims) if lims else ''}; {escape(str(m['date']))}"
            f"{', ' + escape(m['timepoint']) if m.get('timepoint') else ''})")


def _cite(source: str) -> str:
    """``[S-Fuster] Fuster JL. ...`` -> ``Fuster JL. ...`` (authors, journal, year only)."""
    return source.split("] ", 1)[1] if source.startswith("[S-") and "] " in source else source


def render(section: EngineSection, analysis: CaseAnalysis) -> str:
    r = section.data()
    out: list[str] = []
    if r.get("relapse_number") is None:
        return "<p>No relapse recorded: the relapse risk schemes do not apply.</p>"
    tp = r.get("time_point") or "unknown (end of frontline therapy not given)"
    out.append(
        f"<p>Relapse {r['relapse_number']} on {escape(str(r['relapse_date']))}: "
        f"{escape(r['lineage'])} lineage, site <b>{escape(_SITE.get(r['case_site'], r['case_site']))}</b>, BFM time point "
        f"<b>{escape(tp.replace('_', ' '))}</b> ({r['months_from_diagnosis']} months from diagnosis"
        + (f", {r['months_from_end_of_frontline']} months after the end of frontline therapy"
           if r.get("months_from_end_of_frontline") is not None else "")
        + f"); COG time point <b>{escape(r['cog_time_point'])}</b>. Months are calendar months.</p>")
    out.append("<table class='compact'><thead><tr><th>scheme</th><th>group</th><th>rule path</th>"
               "<th>consolidation</th></tr></thead><tbody>")
    for key, label in _SCHEMES:
        g = r.get(key)
        if g is None:
            out.append(f"<tr><td>{label}</td><td>–</td><td colspan='2'>not applied (see flags)</td></tr>")
            continue
        grp = escape(g["group"]) if g["group"] else (
            f"pending: {escape('/'.join(g['candidates']))} ({escape(g['pending'] or '')})")
        path = " → ".join(escape(p) for p in g["rule_path"])
        rests = "".join(f" <span class='tag tag-R'>{escape(n)}</span>" for n in g.get("rests_on", []))
        out.append(f"<tr><td>{escape(g['scheme'])}</td><td><b>{grp}</b></td><td>{path}{rests}</td>"
                   f"<td>{escape(g.get('consolidation') or '')}</td></tr>")
    out.append("</tbody></table>")
    tr = r.get("transplant")
    if tr:
        out.append("<h3>Transplant rule</h3>")
        out.append(f"<p><b>{escape(tr['decision'].replace('_', ' '))}</b> — {escape(tr['rule'])} "
                   f"({escape(tr['backbone'])}). MRD used: {_mrd(tr.get('mrd'))}.</p>")
        out.append("<p class='small'>" + " → ".join(escape(p) for p in tr["rule_path"]) + "</p>")
        for alt in tr.get("alternatives", []):
            out.append(f"<p class='small'>Other backbone ({escape(alt['backbone'])}): "
                       f"<b>{escape(alt['decision'].replace('_', ' '))}</b> — {escape(alt['rule'])}</p>")
    if r.get("flags"):
        out.append("<h3>Flags</h3><ul>")
        for f in r["flags"]:
            look = ", ".join(f"{k}: {v}" for k, v in f.get("table_lookup", {}).items() if v)
            out.append(f"<li><b>{escape(_FLAG.get(f['code'], f['code']))}</b>: {escape(f['message'])}"
                       + (f" <span class='small'>(table alone: {escape(look)})</span>" if look else "")
                       + "</li>")
        out.append("</ul>")
    if r.get("sources"):
        out.append("<details><summary>Sources</summary><ul>"
                   + "".join(f"<li>{escape(_cite(s))}</li>" for s in r["sources"]) + "</ul></details>")
    out.append(f"<p class='small'>{escape(r.get('notice', ''))}</p>")
    return "\n".join(out)
