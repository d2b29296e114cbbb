"""The patient's timeline as an inline SVG plot (a Gantt-style chart of the clinical course).

Rows, top to bottom: diagnosis and relapses; frontline therapy; one row per therapy course
(bar from start to end, best response written after the bar); HSCT; CAR-T infusions; MRD
results (one marker per value: filled = quantifiable, half = positive below the LoQ, open =
negative); samples. Rows without events are left out. Relapse dates are drawn as dashed lines
through every row, so "what happened after which relapse" reads at a glance.

Nothing is inferred: a frontline therapy without an end date is drawn as a marker at diagnosis
and labelled "end not given", never as a guessed bar.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from remission.domain import CaseAnalysis
from remission.report.colors import COLORS

__all__ = ["timeline_rows", "timeline_svg"]

#: colour of a therapy bar by therapy kind
THERAPY_COLORS = {
    "chemotherapy": "#f28e2b",
    "bispecific": "#b07aa1",
    "antibody_drug_conjugate": "#e15759",
    "targeted": "#59a14f",
    "cart": COLORS["cart"],
    "radiotherapy": "#9c755f",
    "other": "#bab0ac",
}

_MAX_LABEL = 38


def _short(text: str, n: int = _MAX_LABEL) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def timeline_rows(analysis: CaseAnalysis) -> list[dict[str, Any]]:
    """The rows the plot draws, top to bottom: ``{"label", "kind", "items": [...]}``.

    Each item has ``start`` (date), ``end`` (date or None), ``text`` (annotation or None) and
    ``color``; MRD items carry ``status``. Exposed so tests can check what is drawn.
    """
    case = analysis.case
    rows: list[dict[str, Any]] = []

    events = [{"start": case.diagnosis.date, "end": None, "text": f"Diagnosis ({case.diagnosis.lineage}-ALL)",
               "color": COLORS["diagnosis"], "marker": "s"}]
    for r in case.relapses:
        events.append({"start": r.date, "end": None, "text": f"Relapse {r.number}\n{r.site.replace('_', ' ')}",
                       "color": COLORS["relapse"], "marker": "X"})
    rows.append({"label": "diagnosis / relapse", "kind": "events", "items": events})

    fl = case.frontline
    fl_label = "frontline" + (f": {fl.protocol}" if fl.protocol else "")
    if fl.end_date is not None:
        rows.append({"label": fl_label, "kind": "frontline",
                     "items": [{"start": case.diagnosis.date, "end": fl.end_date, "text": f"ended {fl.end_date}",
                                "color": COLORS["frontline"]}]})
    elif fl.protocol:
        rows.append({"label": fl_label, "kind": "frontline",
                     "items": [{"start": case.diagnosis.date, "end": None, "text": "end not given",
                                "color": COLORS["frontline"], "marker": ">"}]})

    for t in sorted(case.therapies, key=lambda t: t.start):
        text = t.best_response.replace("_", " ") if t.best_response else None
        rows.append({"label": t.name, "kind": "therapy",
                     "items": [{"start": t.start, "end": t.end, "text": text,
                                "color": THERAPY_COLORS.get(t.kind, COLORS["therapy"]),
                                "marker": ">"}]})
    if case.transplants:
        rows.append({"label": "allogeneic HSCT", "kind": "hsct",
                     "items": [{"start": h.date, "end": None, "text": h.donor.replace("_", " "),
                                "color": COLORS["hsct"], "marker": "D"} for h in case.transplants]})
    if case.cart_infusions:
        rows.append({"label": "CAR-T infusion", "kind": "cart",
                     "items": [{"start": c.date, "end": None, "text": f"{c.product} ({c.target})",
                                "color": COLORS["cart"], "marker": "^"} for c in case.cart_infusions]})
    mrd = [m for m in analysis.mrd if m.date is not None]
    if mrd:
        rows.append({"label": "MRD", "kind": "mrd",
                     "items": [{"start": m.date, "end": None, "text": None, "status": m.status,
                                "color": COLORS.get(m.method, COLORS["mrd"]), "marker": "o",
                                "method": m.method} for m in mrd]})
    if case.samples:
        rows.append({"label": "samples", "kind": "sample",
                     "items": [{"start": s.date, "end": None, "text": None, "color": COLORS["sample"],
                                "marker": "|"} for s in case.samples]})
    return rows


def timeline_svg(analysis: CaseAnalysis) -> str:
    """Draw :func:`timeline_rows` as an inline ``<svg class="plot">`` (hand-written SVG, see
    :mod:`remission.report.svg`)."""
    from remission.report.svg import Chart, DateScale, LinearScale

    rows = timeline_rows(analysis)
    n = len(rows)
    has_mrd = any(r["kind"] == "mrd" for r in rows)
    labels = [_short(r["label"]) for r in rows]
    row_h = 28.0
    chart = Chart(width=960.0, height=26.0 + row_h * (n + 0.5) + 30.0 + (20.0 if has_mrd else 0.0),
                  title=f"Timeline of {analysis.case_id}: diagnosis, relapses, therapy courses, HSCT, CAR-T",
                  desc="One row per kind of event, dates on the horizontal axis; relapses as dashed "
                       "vertical lines. MRD markers: filled = positive, half = positive below the LoQ, "
                       "open = negative.",
                  margin_left=min(240.0, 14.0 + 5.6 * max(len(x) for x in labels)), margin_right=12.0,
                  margin_top=6.0, margin_bottom=30.0 + (20.0 if has_mrd else 0.0))

    all_dates = [it["start"] for row in rows for it in row["items"]]
    all_dates += [it["end"] for row in rows for it in row["items"] if it["end"] is not None]
    lo, hi = min(all_dates), max(all_dates)
    span = max((hi - lo).days, 30)
    pad = dt.timedelta(days=max(20, int(span * 0.04)))
    # room on the right for the annotation of the last bar / marker
    right_pad = dt.timedelta(days=max(60, int(span * 0.2)))
    chart.x = DateScale.between(lo - pad, hi + right_pad, max_ticks=12)
    chart.y = LinearScale(n - 0.4, -0.9)

    for y in range(0, n, 2):
        chart.hspan(y - 0.5, min(y + 0.5, n - 0.4), color="#f4f6f9")
    chart.axes(xgrid=True, yticks=False)
    for r in analysis.case.relapses:
        chart.vline(r.date, color=COLORS["relapse"], dash="4 3", width=0.9, opacity=0.55)
    chart.vline(analysis.case.diagnosis.date, color=COLORS["diagnosis"], dash="1 3", width=0.8, opacity=0.5)

    for y, row in enumerate(rows):
        chart.text(chart.left - 6, chart.Y(y), labels[y], anchor="end", baseline="middle", size=9.5)
        for k, it in enumerate(row["items"]):
            x0 = it["start"]
            if it["end"] is not None and it["end"] > it["start"]:
                chart.rect(x0.toordinal(), y - 0.28, it["end"].toordinal(), y + 0.28, fill=it["color"],
                           opacity=0.9, stroke="#ffffff", title=f"{row['label']}: {it['start']} – {it['end']}")
                xt = chart.X(it["end"])
                gap = 5.0
            elif row["kind"] == "mrd":
                fill = {"positive": "full", "positive_not_quantifiable": "bottom", "negative": "none"}[it["status"]]
                # methods on slightly different heights, so same-day NGS/flow/PCR never hide each other
                dy = {"ngs": -0.2, "flow": 0.0, "pcr": 0.2}.get(it["method"], 0.0)
                chart.markers([x0], [y + dy], color=it["color"], marker="o", size=8.5, fill=fill,
                              titles=[f"{it['method'].upper()} {it['start']}: {it['status'].replace('_', ' ')}"])
                xt, gap = chart.X(x0), 9.0
            else:
                mk = it.get("marker", "o")
                chart.markers([x0], [y], color=it["color"], marker=mk, size=14.0 if mk == "|" else 10.0,
                              width=1.5, titles=[f"{(it['text'] or row['label']).splitlines()[0]} {it['start']}"])
                xt, gap = chart.X(x0), 9.0
            if it["text"]:
                if row["kind"] == "events":
                    # event labels sit above the marker, alternating heights when crowded
                    up = 11.0 + 11.0 * bool(k % 2 and len(row["items"]) > 3)
                    chart.text(chart.X(x0), chart.Y(y) - up, it["text"].split("\n")[0], anchor="middle",
                               size=10.0, bold=True, color=it["color"])
                else:
                    chart.text(xt + gap, chart.Y(y), _short(it["text"], 32), baseline="middle", size=9.5)

    if has_mrd:
        chart.legend_entry("MRD positive", color="#555555")
        chart.legend_entry("positive < LoQ", color="#555555", fill="bottom")
        chart.legend_entry("negative", color="#555555", fill="none")
        methods = sorted({it["method"] for r in rows if r["kind"] == "mrd" for it in r["items"]})
        for m in methods:
            chart.legend_entry(m.upper(), color=COLORS[m], marker="s")
        chart.legend(where="below", size=9.0)
    return chart.svg()
