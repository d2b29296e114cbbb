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
from remission.report.plots import COLORS, figure, svg

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
    """Draw :func:`timeline_rows` as an inline ``<svg class="plot">``."""
    import matplotlib.dates as mdates
    from matplotlib.lines import Line2D

    rows = timeline_rows(analysis)
    n = len(rows)
    fig, ax = figure(10.0, 1.1 + 0.42 * n)
    num = mdates.date2num

    all_dates = [it["start"] for row in rows for it in row["items"]]
    all_dates += [it["end"] for row in rows for it in row["items"] if it["end"] is not None]
    lo, hi = min(all_dates), max(all_dates)
    span = max((hi - lo).days, 30)
    pad = dt.timedelta(days=max(20, int(span * 0.04)))
    # room on the right for the annotation of the last bar / marker
    right_pad = dt.timedelta(days=max(60, int(span * 0.2)))
    ax.set_xlim(num(lo - pad), num(hi + right_pad))
    ax.set_ylim(n - 0.4, -0.9)

    for r in analysis.case.relapses:
        ax.axvline(num(r.date), color=COLORS["relapse"], linestyle=(0, (4, 3)), linewidth=0.9, alpha=0.55, zorder=0)
    ax.axvline(num(analysis.case.diagnosis.date), color=COLORS["diagnosis"], linestyle=(0, (1, 3)),
               linewidth=0.8, alpha=0.5, zorder=0)

    for y, row in enumerate(rows):
        if y % 2 == 0:
            ax.axhspan(y - 0.5, y + 0.5, color="#f4f6f9", zorder=-1, linewidth=0)
        for k, it in enumerate(row["items"]):
            x0 = num(it["start"])
            if it["end"] is not None and it["end"] > it["start"]:
                ax.barh(y, num(it["end"]) - x0, left=x0, height=0.56, color=it["color"], alpha=0.9,
                        edgecolor="white", linewidth=0.5, zorder=2)
                xt = num(it["end"])
            elif row["kind"] == "mrd":
                fill = {"positive": "full", "positive_not_quantifiable": "bottom", "negative": "none"}[it["status"]]
                # methods on slightly different heights, so same-day NGS/flow/PCR never hide each other
                dy = {"ngs": -0.2, "flow": 0.0, "pcr": 0.2}.get(it["method"], 0.0)
                ax.plot(x0, y + dy, marker="o", markersize=6.5, color=it["color"], fillstyle=fill,
                        markerfacecoloralt="white", markeredgewidth=1.3, linestyle="none", zorder=3)
                xt = x0
            else:
                ax.plot(x0, y, marker=it.get("marker", "o"), color=it["color"],
                        markersize=12 if it.get("marker") == "|" else 8, markeredgewidth=1.5,
                        linestyle="none", zorder=3)
                xt = x0
            if it["text"]:
                if row["kind"] == "events":
                    # event labels sit above the marker, alternating heights when crowded
                    ax.annotate(it["text"].split("\n")[0], (x0, y), textcoords="offset points",
                                xytext=(0, 9 + 9 * (k % 2 and len(row["items"]) > 3)), ha="center",
                                fontsize=8, fontweight="bold", color=it["color"])
                else:
                    gap = 5 if it["end"] is not None and it["end"] > it["start"] else 9
                    ax.annotate(_short(it["text"], 32), (xt, y), textcoords="offset points", xytext=(gap, 0),
                                va="center", ha="left", fontsize=7.5, color="#333333")

    ax.set_yticks(range(n), [_short(r["label"]) for r in rows])
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    locator = mdates.AutoDateLocator(minticks=5, maxticks=12)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.grid(axis="x", alpha=0.25, zorder=0)

    if any(r["kind"] == "mrd" for r in rows):
        handles = [
            Line2D([], [], marker="o", color="#555", linestyle="none", label="MRD positive"),
            Line2D([], [], marker="o", color="#555", fillstyle="bottom", markerfacecoloralt="white",
                   linestyle="none", label="positive < LoQ"),
            Line2D([], [], marker="o", color="#555", fillstyle="none", linestyle="none", label="negative"),
        ]
        methods = sorted({it["method"] for r in rows if r["kind"] == "mrd" for it in r["items"]})
        handles += [Line2D([], [], marker="s", color=COLORS[m], linestyle="none", label=m.upper()) for m in methods]
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.25 / max(n, 1)),
                  ncol=len(handles), frameon=False, fontsize=7.5)
    return svg(fig, title=f"Timeline of {analysis.case_id}: diagnosis, relapses, therapy courses, HSCT, CAR-T")
