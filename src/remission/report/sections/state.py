"""Report section "state" and the "where the patient stands now" summary that opens the report
(and the same summary as text lines for the command line).

Clinical labels, not internal codes: the state label, the line of therapy, MRD per method and
material with its trend, active alerts, risk groups in words, the top options with the evidence
level in the patient's setting and their access route.
"""

from __future__ import annotations

from typing import Any

from markupsafe import escape

from remission.domain import CaseAnalysis, EngineSection

__all__ = ["RISK_WORDS", "render", "standing_now", "summary_html", "summary_lines"]

_METHOD = {"ngs": "NGS", "flow": "flow cytometry", "pcr": "RQ-PCR"}
_MATERIAL = {"bone_marrow": "bone marrow", "peripheral_blood": "blood"}
_TREND = {"rising": "rising", "falling": "falling", "stable": "unchanged", "single": "single result",
          "new_positive": "newly positive", "became_negative": "became negative",
          "unchanged_negative": "negative again"}

#: Clinical wording of risk groups (scheme key, group) -> text.
RISK_WORDS: dict[str, dict[str, str]] = {
    "bfm": {"S1": "ALL-REZ BFM S1", "S2": "ALL-REZ BFM S2", "S3": "ALL-REZ BFM S3",
            "S4": "ALL-REZ BFM S4"},
    "intreall": {"SR": "IntReALL standard risk", "HR": "IntReALL high risk"},
    "allr3": {"SR": "UK ALLR3 standard risk", "IR": "UK ALLR3 intermediate risk",
              "HR": "UK ALLR3 high risk"},
    "cog": {"LR": "COG low risk", "IR": "COG intermediate risk", "HR": "COG high risk"},
}
_DECISION = {"indicated": "allogeneic HSCT indicated", "not_indicated": "no HSCT (chemotherapy)",
             "pending_mrd": "HSCT decision pending MRD"}


def _section(analysis: CaseAnalysis, name: str) -> dict[str, Any] | None:
    s = analysis.section(name)
    if s is None or s.error:
        return None
    return s.data() or None


def standing_now(analysis: CaseAnalysis, top: int = 3) -> dict[str, Any] | None:
    """The facts the summary shows, as plain data (None without a state section)."""
    st = _section(analysis, "state")
    if st is None:
        return None
    cur = st["current"]
    risk = _section(analysis, "risk") or {}
    groups = []
    for key in ("bfm", "intreall", "allr3", "cog"):
        g = risk.get(key)
        if isinstance(g, dict) and g.get("group"):
            groups.append(RISK_WORDS[key].get(g["group"], f"{g.get('scheme')} {g['group']}"))
    tr = risk.get("transplant")
    if isinstance(tr, dict):
        done = st.get("last_hsct") and risk.get("relapse_date") and \
            str(st["last_hsct"]) >= str(risk["relapse_date"])
        groups.append(_DECISION.get(tr.get("decision", ""), str(tr.get("decision")))
                      + (f" (performed {st['last_hsct']})" if done else ""))
    for f in risk.get("flags", ()) or ():
        if f.get("code") in ("relapse_after_hsct", "second_relapse", "ph_positive"):
            groups.append("outside the first-relapse schemes: " + f["message"].split(":")[0])
    opts = _section(analysis, "options") or {}
    best = [{"rank": o["rank"], "name": o["name"], "evidence": o.get("evidence_in_setting", ""),
             "access": o.get("eligibility", "")} for o in (opts.get("options") or [])[:top]]
    mrd = [{"what": f"{_METHOD.get(m['method'], m['method'])}, {_MATERIAL.get(m['material'], m['material'])}",
            "latest": f"{m['display']} ({m['date']})",
            "trend": _TREND.get(m["trend"], m["trend"])
            + (f" from {m['previous_display']} ({m['previous_date']})" if m.get("previous_display") else "")}
           for m in st.get("mrd_latest", ())]
    antigens = [f"{a['antigen']} on {a['percent_of_blasts']:g} % of blasts ({a['source']})"
                + (f", {a['negative_fraction_percent']:g} % negative" if a["status"] == "partial" else "")
                + (" - negative" if a["status"] == "negative" else "")
                for a in st.get("antigens", ())]
    cart = st.get("cart")
    cart_text = None
    if cart:
        bits = [f"{cart['product']} on {cart['infusion_date']} (day {cart['days_since_infusion']})"]
        if cart.get("persistence") is not None:
            bits.append("CAR-T persisting" if cart["persistence"] else "CAR-T not detectable")
        if cart.get("b_cell_aplasia") is not None:
            bits.append("B-cell aplasia ongoing" if cart["b_cell_aplasia"] else "B cells recovered")
        cart_text = ", ".join(bits)
    hsct = (f"allogeneic HSCT on {st['last_hsct']} ({st['days_since_hsct']} days ago)"
            if st.get("last_hsct") else None)
    imm = None
    if st.get("immune"):
        x = st["immune"][-1]
        bits = [f"{lab} {x[k]:g}{u}" for k, lab, u in (
            ("cd4_cd8_ratio", "CD4/CD8", ""), ("treg_percent_of_cd4", "Treg", " % of CD4"),
            ("cd8_exhausted_percent", "exhausted", " % of CD8")) if x.get(k) is not None]
        imm = f"T-cell context {x['date']}: " + ", ".join(bits) + " (values only, no threshold)"
    return {"state": cur["label"], "since": cur["start"], "line": cur["line"]["label"],
            "in_remission": st["in_remission"], "as_of": st["as_of"],
            "definition": cur["definition"], "mrd": mrd, "antigens": antigens,
            "cart": cart_text, "hsct": hsct, "immune": imm,
            "alerts": [f"{a['label']}: {a['message']}" for a in st.get("alerts", ())],
            "risk": groups, "risk_relapse": risk.get("relapse_number"), "options": best}


def summary_lines(analysis: CaseAnalysis, width: int = 78) -> list[str]:
    """The summary as text lines no wider than ``width`` (for the command line)."""
    import textwrap

    s = standing_now(analysis)
    if s is None:
        return []

    def wrap(text: str, indent: str = "  ") -> list[str]:
        return textwrap.wrap(text, width=width, initial_indent=indent,
                             subsequent_indent=indent + "  ")

    out = [f"Where the patient stands now (as of {s['as_of']})"]
    out += wrap(f"{s['state']} - since {s['since']}; {s['line']}")
    for m in s["mrd"]:
        out += wrap(f"MRD {m['what']}: {m['latest']}, {m['trend']}")
    for a in s["antigens"]:
        out += wrap(a)
    for x in (s["cart"], s["hsct"], s["immune"]):
        if x:
            out += wrap(x)
    for a in s["alerts"]:
        out += wrap(f"ALERT {a}")
    if s["risk"]:
        out += wrap(f"Risk (relapse {s['risk_relapse']}): " + "; ".join(s["risk"]))
    for o in s["options"]:
        out += wrap(f"{o['rank']}. {o['name']} - {o['access']}")
        out += wrap(f"evidence: {o['evidence']}", "     ")
    return out


def summary_html(analysis: CaseAnalysis) -> str:
    """The "where the patient stands now" block that opens the HTML report."""
    s = standing_now(analysis)
    if s is None:
        return ""
    cls = "ok" if s["in_remission"] else "alert"
    out = ["<section id='now' class='now'><h2>Where the patient stands now</h2>",
           f"<p class='state {cls}'><b>{escape(s['state'])}</b> since {escape(str(s['since']))} "
           f"<span class='small'>({escape(s['line'])}; as of {escape(str(s['as_of']))})</span></p>",
           f"<p class='small'>Definition: {escape(s['definition'])}</p>"]
    if s["alerts"]:
        out.append("<ul class='alerts'>" + "".join(f"<li class='warning'>{escape(a)}</li>"
                                                    for a in s["alerts"]) + "</ul>")
    if s["mrd"]:
        out.append("<table class='compact'><thead><tr><th>MRD (method, material)</th>"
                   "<th>latest</th><th>trend</th></tr></thead><tbody>"
                   + "".join(f"<tr><td>{escape(m['what'])}</td><td>{escape(m['latest'])}</td>"
                             f"<td>{escape(m['trend'])}</td></tr>" for m in s["mrd"])
                   + "</tbody></table>")
    facts = [*s["antigens"], *(x for x in (s["cart"], s["hsct"], s["immune"]) if x)]
    if facts:
        out.append("<p>" + "<br>".join(escape(f) for f in facts) + "</p>")
    if s["risk"]:
        out.append(f"<p><b>Risk (relapse {s['risk_relapse']}):</b> "
                   + "; ".join(escape(g) for g in s["risk"]) + "</p>")
    if s["options"]:
        out.append("<p><b>Top options</b> (a reading order, not a recommendation):</p><ol>"
                   + "".join(f"<li><b>{escape(o['name'])}</b> - {escape(o['access'])}<br>"
                             f"<span class='small'>evidence: {escape(o['evidence'])}</span></li>"
                             for o in s["options"]) + "</ol>")
    out.append("</section>")
    return "\n".join(out)


def render(section: EngineSection, analysis: CaseAnalysis) -> str:
    """The state timeline: each period with its line, definition and the evidence it rests on."""
    r = section.data()
    rows = []
    for p in r.get("periods", []):
        ev = "<br>".join(escape(f"{e['date']}: {e['text']}") for e in p.get("evidence", []))
        end = p.get("end") or "now"
        rows.append(f"<tr><td>{escape(str(p['start']))} – {escape(str(end))}</td>"
                    f"<td><b>{escape(p['label'])}</b></td><td>{escape(p['line']['label'])}</td>"
                    f"<td class='small'>{ev}</td></tr>")
    out = ["<table class='compact'><thead><tr><th>period</th><th>state</th><th>line of therapy</th>"
           "<th>rests on</th></tr></thead><tbody>", *rows, "</tbody></table>"]
    defs = {p["status"]: p["definition"] for p in r.get("periods", [])}
    out.append("<details><summary>Definitions</summary><ul>"
               + "".join(f"<li>{escape(d)}</li>" for d in defs.values()) + "</ul></details>")
    out.append(f"<p class='small'>{escape(r.get('notice', ''))}</p>")
    return "\n".join(out)
