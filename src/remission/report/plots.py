"""Matplotlib → inline SVG, for the cohort report and ``remission sim`` figures only.

The per-patient figures (``remission analyze`` reports and the web patient page) are drawn by
:mod:`remission.report.svg` without matplotlib. Import inside render functions (slow)."""

from __future__ import annotations

import io
import re
from typing import Any

from remission.report.colors import COLORS

__all__ = ["COLORS", "figure", "svg"]



def figure(width: float = 9.0, height: float = 3.0) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False})
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    return fig, ax


def svg(fig: Any, *, title: str | None = None) -> str:
    """Serialise a figure as an inline ``<svg>`` element (and close it)."""
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<svg ", '<svg class="plot" role="img" ', text, count=1)
    if title:
        from markupsafe import escape

        text = text.replace(">", f"><title>{escape(title)}</title>", 1)
    return text
