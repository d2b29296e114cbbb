"""The patient's timeline as an SVG plot (diagnosis, relapses, therapies, HSCT, CAR-T, samples)."""

from __future__ import annotations

import datetime as dt

from remission.domain import CaseAnalysis
from remission.report.plots import COLORS, figure, svg

__all__ = ["timeline_svg"]

_LANES = ["frontline", "therapy", "hsct", "cart", "relapse", "sample"]
_LANE_LABEL = {"frontline": "frontline", "therapy": "therapy", "hsct": "HSCT", "cart": "CAR-T",
               "relapse": "diagnosis / relapse", "sample": "samples"}


def timeline_svg(analysis: CaseAnalysis) -> str:
    import matplotlib.dates as mdates

    events = list(analysis.timeline)
    fig, ax = figure(9.5, 2.8)
    lane_y = {k: i for i, k in enumerate(reversed(_LANES))}
    for ev in events:
        lane = "relapse" if ev.kind in ("diagnosis", "relapse") else ev.kind
        if lane not in lane_y:
            continue
        y = lane_y[lane]
        color = COLORS.get(ev.kind, "#555")
        if ev.end is not None and ev.end > ev.start:
            ax.barh(y, (ev.end - ev.start).days, left=mdates.date2num(ev.start), height=0.5,
                    color=color, alpha=0.75, edgecolor="white")
        else:
            marker = {"diagnosis": "s", "relapse": "X", "hsct": "D", "cart": "^", "sample": "|"}.get(ev.kind, "o")
            ax.plot(mdates.date2num(ev.start), y, marker=marker, color=color, markersize=9 if ev.kind != "sample" else 12,
                    linestyle="none")
        if ev.kind in ("diagnosis", "relapse", "hsct", "cart"):
            ax.annotate(ev.label, (mdates.date2num(ev.start), y), textcoords="offset points", xytext=(0, 8),
                        ha="center", fontsize=8)
    ax.set_yticks(list(lane_y.values()), [_LANE_LABEL[k] for k in lane_y])
    ax.set_ylim(-0.7, len(_LANES) - 0.2)
    ax.xaxis.set_major_locator(mdates.AutoDateLocator())
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    starts = [e.start for e in events] or [dt.date.today()]
    ends = [e.end or e.start for e in events] or starts
    pad = dt.timedelta(days=45)
    ax.set_xlim(mdates.date2num(min(starts) - pad), mdates.date2num(max(ends) + pad))
    ax.grid(axis="x", alpha=0.3)
    return svg(fig, title="Patient timeline")
