"""Colours shared by every plot of the report, the web pages and the cohort figures."""

from __future__ import annotations

__all__ = ["COLORS"]

#: colour per method / event kind, used by every plot
COLORS = {
    "ngs": "#1f77b4",
    "flow": "#2ca02c",
    "pcr": "#9467bd",
    "diagnosis": "#444444",
    "frontline": "#bbbbbb",
    "relapse": "#d62728",
    "therapy": "#ff7f0e",
    "hsct": "#8c564b",
    "cart": "#17becf",
    "sample": "#7f7f7f",
    "mrd": "#1f77b4",
}
