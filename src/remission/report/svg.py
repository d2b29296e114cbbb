"""A small, dependency-free SVG plotting module for the report and the web patient page.

Why not matplotlib: drawing the per-patient figures with matplotlib cost about 1.3 s per
``remission analyze`` (import, constrained layout, SVG backend) for a handful of simple charts.
This module writes the same kinds of charts directly as SVG text, in milliseconds, with the same
output for the same input (no dates, ids or random numbers), so reports are reproducible.

What it draws: a :class:`Chart` is a plot area with an x and a y :class:`Scale` (linear, log,
date or symmetric-log), nice ticks, grid lines, axis labels, and primitives in data coordinates:
lines, step lines, markers (filled, open — for "not detected" / censored values — or half
filled), bands between two curves, vertical and horizontal lines and spans, rectangles, text,
and a legend. Everything a caller gives as text is escaped. The ``<svg>`` element carries
``class="plot" role="img"``, a ``<title>`` and a ``<desc>`` for screen readers, and a
``viewBox`` so it scales to its container.

Sizes are in SVG user units (pixels at 100 % zoom); fonts are the page's sans-serif.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "MARKERS",
    "Chart",
    "DateScale",
    "LinearScale",
    "LogScale",
    "Scale",
    "SymlogScale",
    "date_num",
    "esc",
    "fmt",
    "log_ticks",
    "nice_ticks",
    "padded_log_range",
    "subsample",
]

#: marker shapes (as in matplotlib): circle, square, triangles down/up/right, diamond, X, vertical
#: and horizontal ticks
MARKERS = ("o", "s", "v", "^", ">", "D", "X", "|", "_")

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def esc(text: object) -> str:
    """``text`` escaped for SVG/XML character data and double-quoted attribute values."""
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def fmt(v: float) -> str:
    """A coordinate as short, deterministic text (two decimals, no trailing zeros)."""
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


# -- scales -------------------------------------------------------------------------------------


def nice_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    """Ticks at 1, 2 or 5 × 10^k steps covering [lo, hi], about ``target`` of them."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9)
    out = []
    k = first
    while k * step <= hi + step * 1e-9:
        out.append(round(k * step, 12))
        k += 1
    return out


def log_ticks(lo: float, hi: float, max_ticks: int = 9) -> list[float]:
    """Decade ticks 10^k inside [lo, hi]; every n-th decade when there would be more than
    ``max_ticks`` (n chosen so that at most ``max_ticks`` remain)."""
    k0, k1 = math.ceil(math.log10(lo) - 1e-9), math.floor(math.log10(hi) + 1e-9)
    if k1 - k0 + 1 < 2:  # less than two decades inside: 1, 2 and 5 × 10^k
        k = math.floor(math.log10(lo) + 1e-9)
        out = []
        while 10.0 ** k <= hi * (1 + 1e-9):
            out += [float(f"{m}e{k}") for m in (1, 2, 5) if lo * (1 - 1e-9) <= float(f"{m}e{k}") <= hi * (1 + 1e-9)]
            k += 1
        return out
    n = max(1, math.ceil((k1 - k0 + 1) / max_ticks))
    return [float(f"1e{k}") for k in range(k0, k1 + 1) if (k - k0) % n == 0]


def _log_label(v: float) -> str:
    k = math.floor(math.log10(v) + 1e-9)
    m = round(v / 10.0 ** k, 6)
    if m != 1:
        return f"{m:g}×" + _log_label(10.0 ** k) if k not in (0, 1) else f"{v:g}"
    if k == 0:
        return "1"
    if k == 1:
        return "10"
    return "10" + str(k).translate(_SUPERSCRIPT)


def _num_label(v: float) -> str:
    return f"{v:.6g}"


class Scale:
    """Maps a data value to a fraction of the axis (0 at the start, 1 at the end)."""

    lo: float
    hi: float

    def fraction(self, v: float) -> float:
        raise NotImplementedError

    def ticks(self) -> list[tuple[float, str]]:
        raise NotImplementedError


@dataclass
class LinearScale(Scale):
    lo: float
    hi: float
    #: explicit ticks (value, label); ``None``: nice 1-2-5 ticks
    tick_list: list[tuple[float, str]] | None = None
    target_ticks: int = 6

    def fraction(self, v: float) -> float:
        return (v - self.lo) / (self.hi - self.lo) if self.hi != self.lo else 0.5

    def ticks(self) -> list[tuple[float, str]]:
        if self.tick_list is not None:
            return self.tick_list
        return [(t, _num_label(t)) for t in nice_ticks(self.lo, self.hi, self.target_ticks)]


@dataclass
class LogScale(Scale):
    lo: float
    hi: float
    max_ticks: int = 9

    def __post_init__(self) -> None:
        if not (self.lo > 0 and self.hi > self.lo):
            raise ValueError(f"log scale needs 0 < lo < hi, but was lo={self.lo!r}, hi={self.hi!r}")

    def fraction(self, v: float) -> float:
        v = max(v, 1e-300)
        return (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))

    def ticks(self) -> list[tuple[float, str]]:
        return [(t, _log_label(t)) for t in log_ticks(self.lo, self.hi, self.max_ticks)]


@dataclass
class SymlogScale(Scale):
    """Linear on [0, linthresh] (given ``linscale`` decades' width), log above: day axes where
    the first weeks matter in detail and later months in outline."""

    lo: float
    hi: float
    linthresh: float
    linscale: float = 1.0
    tick_list: list[tuple[float, str]] | None = None

    def _t(self, v: float) -> float:
        a = abs(v)
        y = a / self.linthresh * self.linscale if a <= self.linthresh else (
            self.linscale + math.log10(a / self.linthresh))
        return math.copysign(y, v)

    def fraction(self, v: float) -> float:
        t0, t1 = self._t(self.lo), self._t(self.hi)
        return (self._t(v) - t0) / (t1 - t0) if t1 != t0 else 0.5

    def ticks(self) -> list[tuple[float, str]]:
        if self.tick_list is not None:
            return self.tick_list
        return [(t, _num_label(t)) for t in nice_ticks(self.lo, min(self.hi, self.linthresh))]


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _add_months(d: dt.date, n: int) -> dt.date:
    m = d.month - 1 + n
    return dt.date(d.year + m // 12, m % 12 + 1, 1)


@dataclass
class DateScale(Scale):
    """Dates as proleptic ordinals (``date.toordinal()``); ticks on the first day of months or
    years (or every few days on short spans), labelled concisely: the year on the first tick
    and on every January."""

    lo: float
    hi: float
    max_ticks: int = 10

    @classmethod
    def between(cls, first: dt.date, last: dt.date, max_ticks: int = 10) -> DateScale:
        return cls(float(first.toordinal()), float(last.toordinal()), max_ticks)

    def fraction(self, v: float) -> float:
        return (v - self.lo) / (self.hi - self.lo) if self.hi != self.lo else 0.5

    def ticks(self) -> list[tuple[float, str]]:
        lo, hi = dt.date.fromordinal(math.ceil(self.lo)), dt.date.fromordinal(math.floor(self.hi))
        span = (hi - lo).days
        out: list[tuple[float, str]] = []
        if span <= 3 * 31 * self.max_ticks // 10 and span < 120:
            step = next((s for s in (1, 2, 7, 14) if span / s <= self.max_ticks), 14)
            d = lo
            if step >= 7:  # weekly ticks on Mondays
                d = lo + dt.timedelta(days=(7 - lo.weekday()) % 7)
            while d <= hi:
                first = not out
                out.append((float(d.toordinal()), f"{d.day} {_MONTHS[d.month - 1]}"
                            + (f" {d.year}" if first or (d.month == 1 and d.day <= step) else "")))
                d += dt.timedelta(days=step)
            return out
        months = span / 30.44
        step_m = next((s for s in (1, 2, 3, 4, 6, 12, 24, 60, 120) if months / s <= self.max_ticks), 240)
        d = dt.date(lo.year, lo.month, 1)
        if d < lo:
            d = _add_months(d, 1)
        while (d.month - 1) % min(step_m, 12) != 0:
            d = _add_months(d, 1)
        if step_m > 12:
            while d.year % (step_m // 12) != 0:
                d = _add_months(d, 12)
        while d <= hi:
            first = not out
            if step_m >= 12:
                label = str(d.year)
            else:
                label = _MONTHS[d.month - 1] + (f" {d.year}" if first or d.month == 1 else "")
            out.append((float(d.toordinal()), label))
            d = _add_months(d, step_m)
        return out


def date_num(d: dt.date) -> float:
    """A date as the number a :class:`DateScale` takes."""
    return float(d.toordinal())


# -- the chart ----------------------------------------------------------------------------------


@dataclass
class _LegendItem:
    label: str
    kind: Literal["marker", "line", "band"]
    color: str
    marker: str = "o"
    fill: str = "full"
    dash: str | None = None
    width: float = 1.5
    opacity: float = 1.0


@dataclass
class Chart:
    """One plot: ``width`` × ``height`` user units with margins for ticks and labels.

    Data-coordinate methods (``line``, ``markers``, ``band`` …) use the chart's scales; ``X``
    and ``Y`` turn a data value into a user-space position for the pixel-level methods
    (``text``, ``rect_px``). Elements are drawn in call order (later on top)."""

    width: float
    height: float
    title: str
    desc: str = ""
    margin_left: float = 56.0
    margin_right: float = 14.0
    margin_top: float = 12.0
    margin_bottom: float = 34.0
    font_size: float = 10.0
    x: Scale = field(default_factory=lambda: LinearScale(0.0, 1.0))
    y: Scale = field(default_factory=lambda: LinearScale(0.0, 1.0))
    _body: list[str] = field(default_factory=list)
    _legend: list[_LegendItem] = field(default_factory=list)

    # geometry
    @property
    def left(self) -> float:
        return self.margin_left

    @property
    def right(self) -> float:
        return self.width - self.margin_right

    @property
    def top(self) -> float:
        return self.margin_top

    @property
    def bottom(self) -> float:
        return self.height - self.margin_bottom

    def X(self, v: float | dt.date) -> float:
        if isinstance(v, dt.date):
            v = float(v.toordinal())
        return self.left + self.x.fraction(v) * (self.right - self.left)

    def Y(self, v: float) -> float:
        return self.bottom - self.y.fraction(v) * (self.bottom - self.top)

    # primitives ---------------------------------------------------------------------------------

    def _style(self, color: str, width: float, dash: str | None, opacity: float) -> str:
        s = f' stroke="{esc(color)}" stroke-width="{fmt(width)}"'
        if dash:
            s += f' stroke-dasharray="{esc(dash)}"'
        if opacity < 1:
            s += f' stroke-opacity="{fmt(opacity)}"'
        return s

    def line(self, xs: Sequence[float | dt.date], ys: Sequence[float], *, color: str, width: float = 1.5,
             dash: str | None = None, opacity: float = 1.0, label: str | None = None,
             step: bool = False) -> None:
        """A polyline through the points (``step``: horizontal then vertical, post-step)."""
        pts = [(self.X(a), self.Y(b)) for a, b in zip(xs, ys, strict=True)
               if b is not None and not (isinstance(b, float) and math.isnan(b))]
        if not pts:
            return
        if step:
            stepped = [pts[0]]
            for (_x0, y0), (x1, y1) in itertools.pairwise(pts):
                stepped += [(x1, y0), (x1, y1)]
            pts = stepped
        d = "M" + " L".join(f"{fmt(a)} {fmt(b)}" for a, b in pts)
        self._body.append(f'<path d="{d}" fill="none"{self._style(color, width, dash, opacity)}'
                          ' stroke-linejoin="round"/>')
        if label:
            self._legend.append(_LegendItem(label, "line", color, dash=dash, width=width, opacity=opacity))

    def band(self, xs: Sequence[float], lo: Sequence[float], hi: Sequence[float], *, color: str,
             opacity: float = 0.5, label: str | None = None, edge: str | None = None) -> None:
        """The area between two curves over the same x values."""
        up = [(self.X(a), self.Y(b)) for a, b in zip(xs, hi, strict=True)]
        dn = [(self.X(a), self.Y(b)) for a, b in zip(xs, lo, strict=True)]
        if not up:
            return
        d = "M" + " L".join(f"{fmt(a)} {fmt(b)}" for a, b in [*up, *reversed(dn)]) + "Z"
        stroke = f' stroke="{esc(edge)}" stroke-width="0.6"' if edge else ""
        self._body.append(f'<path d="{d}" fill="{esc(color)}" fill-opacity="{fmt(opacity)}"{stroke}/>')
        if label:
            self._legend.append(_LegendItem(label, "band", color, opacity=opacity))

    def markers(self, xs: Sequence[float | dt.date], ys: Sequence[float], *, color: str,
                marker: str = "o", size: float = 6.0, fill: str = "full", width: float = 1.3,
                opacity: float = 1.0, label: str | None = None, titles: Sequence[str] | None = None) -> None:
        """One marker per point; ``fill``: ``"full"``, ``"none"`` (open, white inside: not
        detected / censored) or ``"bottom"`` (lower half filled: positive below the LoQ).
        ``titles`` gives each marker a tooltip."""
        for i, (a, b) in enumerate(zip(xs, ys, strict=True)):
            tip = titles[i] if titles is not None else None
            self._body.append(_marker(self.X(a), self.Y(b), marker, size, color, fill, width, opacity, tip))
        if label:
            self._legend.append(_LegendItem(label, "marker", color, marker=marker, fill=fill, opacity=opacity))

    def dots(self, xs: Sequence[float], ys: Sequence[float], *, color: str, size: float = 2.0,
             opacity: float = 1.0, label: str | None = None) -> None:
        """Many small dots as one path (zero-length round-capped segments): compact for scatter
        plots of thousands of events."""
        d = "".join(f"M{fmt(self.X(a))} {fmt(self.Y(b))}h0" for a, b in zip(xs, ys, strict=True))
        if d:
            op = f' stroke-opacity="{fmt(opacity)}"' if opacity < 1 else ""
            self._body.append(f'<path d="{d}" stroke="{esc(color)}" stroke-width="{fmt(size)}" '
                              f'stroke-linecap="round"{op}/>')
        if label:
            self._legend.append(_LegendItem(label, "marker", color, marker="o", opacity=opacity))

    def vline(self, x: float | dt.date, *, color: str, width: float = 1.0, dash: str | None = None,
              opacity: float = 1.0) -> None:
        px = self.X(x)
        self._body.append(f'<line x1="{fmt(px)}" y1="{fmt(self.top)}" x2="{fmt(px)}" y2="{fmt(self.bottom)}"'
                          f'{self._style(color, width, dash, opacity)}/>')

    def hline(self, y: float, *, color: str, width: float = 1.0, dash: str | None = None,
              opacity: float = 1.0, label: str | None = None) -> None:
        py = self.Y(y)
        self._body.append(f'<line x1="{fmt(self.left)}" y1="{fmt(py)}" x2="{fmt(self.right)}" y2="{fmt(py)}"'
                          f'{self._style(color, width, dash, opacity)}/>')
        if label:
            self._legend.append(_LegendItem(label, "line", color, dash=dash, width=width, opacity=opacity))

    def vspan(self, x0: float | dt.date, x1: float | dt.date, *, color: str, opacity: float = 0.15) -> None:
        a, b = sorted((self.X(x0), self.X(x1)))
        self.rect_px(a, self.top, b - a, self.bottom - self.top, fill=color, opacity=opacity)

    def hspan(self, y0: float, y1: float, *, color: str, opacity: float = 1.0) -> None:
        a, b = sorted((self.Y(y0), self.Y(y1)))
        self.rect_px(self.left, a, self.right - self.left, b - a, fill=color, opacity=opacity)

    def rect(self, x0: float, y0: float, x1: float, y1: float, *, fill: str, opacity: float = 1.0,
             stroke: str | None = None, title: str | None = None) -> None:
        """A rectangle between two data-coordinate corners."""
        a, b = sorted((self.X(x0), self.X(x1)))
        c, d = sorted((self.Y(y0), self.Y(y1)))
        self.rect_px(a, c, b - a, d - c, fill=fill, opacity=opacity, stroke=stroke, title=title)

    def rect_px(self, x: float, y: float, w: float, h: float, *, fill: str, opacity: float = 1.0,
                stroke: str | None = None, title: str | None = None) -> None:
        s = f'<rect x="{fmt(x)}" y="{fmt(y)}" width="{fmt(max(w, 0))}" height="{fmt(max(h, 0))}" fill="{esc(fill)}"'
        if opacity < 1:
            s += f' fill-opacity="{fmt(opacity)}"'
        if stroke:
            s += f' stroke="{esc(stroke)}" stroke-width="0.8"'
        self._body.append(s + (f"><title>{esc(title)}</title></rect>" if title else "/>"))

    def segment_px(self, x0: float, y0: float, x1: float, y1: float, *, color: str, width: float = 1.0,
                   dash: str | None = None, opacity: float = 1.0) -> None:
        self._body.append(f'<line x1="{fmt(x0)}" y1="{fmt(y0)}" x2="{fmt(x1)}" y2="{fmt(y1)}"'
                          f'{self._style(color, width, dash, opacity)}/>')

    def circle_px(self, x: float, y: float, r: float, *, fill: str, stroke: str | None = None) -> None:
        s = f'<circle cx="{fmt(x)}" cy="{fmt(y)}" r="{fmt(r)}" fill="{esc(fill)}"'
        if stroke:
            s += f' stroke="{esc(stroke)}" stroke-width="1"'
        self._body.append(s + "/>")

    def text(self, x: float, y: float, text: str, *, size: float | None = None, color: str = "#333333",
             anchor: Literal["start", "middle", "end"] = "start", baseline: Literal["auto", "middle", "hanging"] = "auto",
             rotate: float = 0.0, bold: bool = False) -> None:
        """Text at a user-space position (use ``X``/``Y`` for data positions); ``\\n`` starts a new line."""
        attrs = f'x="{fmt(x)}" y="{fmt(y)}" font-size="{fmt(size or self.font_size)}" fill="{esc(color)}"'
        if anchor != "start":
            attrs += f' text-anchor="{anchor}"'
        if baseline != "auto":
            attrs += f' dominant-baseline="{baseline}"'
        if bold:
            attrs += ' font-weight="bold"'
        if rotate:
            attrs += f' transform="rotate({fmt(rotate)} {fmt(x)} {fmt(y)})"'
        lines = str(text).split("\n")
        if len(lines) == 1:
            self._body.append(f"<text {attrs}>{esc(text)}</text>")
        else:
            lh = (size or self.font_size) * 1.15
            spans = "".join(f'<tspan x="{fmt(x)}" dy="{fmt(0 if i == 0 else lh)}">{esc(t)}</tspan>'
                            for i, t in enumerate(lines))
            self._body.append(f"<text {attrs}>{spans}</text>")

    def legend_entry(self, label: str, *, color: str, kind: Literal["marker", "line", "band"] = "marker",
                     marker: str = "o", fill: str = "full", dash: str | None = None, width: float = 1.5,
                     opacity: float = 1.0) -> None:
        """A legend entry without drawing anything (for entries that explain several elements)."""
        self._legend.append(_LegendItem(label, kind, color, marker=marker, fill=fill, dash=dash, width=width,
                                        opacity=opacity))

    # axes -----------------------------------------------------------------------------------

    def axes(self, *, xlabel: str | None = None, ylabel: str | None = None, xgrid: bool = False,
             ygrid: bool = False, xticks: bool = True, yticks: bool = True, frame: bool = False) -> None:
        """Tick marks and labels on the left and bottom, optional grid lines and axis titles."""
        out: list[str] = []
        fs = self.font_size * 0.9
        if xticks:
            for v, lab in self.x.ticks():
                px = self.X(v)
                if px < self.left - 0.5 or px > self.right + 0.5:
                    continue
                if xgrid:
                    out.append(f'<line x1="{fmt(px)}" y1="{fmt(self.top)}" x2="{fmt(px)}" y2="{fmt(self.bottom)}" '
                               'stroke="#000000" stroke-opacity="0.12"/>')
                out.append(f'<line x1="{fmt(px)}" y1="{fmt(self.bottom)}" x2="{fmt(px)}" '
                           f'y2="{fmt(self.bottom + 4)}" stroke="#333333"/>')
                out.append(f'<text x="{fmt(px)}" y="{fmt(self.bottom + 6 + fs)}" font-size="{fmt(fs)}" '
                           f'text-anchor="middle" fill="#333333">{esc(lab)}</text>')
            out.append(f'<line x1="{fmt(self.left)}" y1="{fmt(self.bottom)}" x2="{fmt(self.right)}" '
                       f'y2="{fmt(self.bottom)}" stroke="#333333"/>')
        if yticks:
            for v, lab in self.y.ticks():
                py = self.Y(v)
                if py < self.top - 0.5 or py > self.bottom + 0.5:
                    continue
                if ygrid:
                    out.append(f'<line x1="{fmt(self.left)}" y1="{fmt(py)}" x2="{fmt(self.right)}" y2="{fmt(py)}" '
                               'stroke="#000000" stroke-opacity="0.12"/>')
                out.append(f'<line x1="{fmt(self.left - 4)}" y1="{fmt(py)}" x2="{fmt(self.left)}" y2="{fmt(py)}" '
                           'stroke="#333333"/>')
                out.append(f'<text x="{fmt(self.left - 6)}" y="{fmt(py)}" font-size="{fmt(fs)}" text-anchor="end" '
                           f'dominant-baseline="middle" fill="#333333">{esc(lab)}</text>')
            out.append(f'<line x1="{fmt(self.left)}" y1="{fmt(self.top)}" x2="{fmt(self.left)}" '
                       f'y2="{fmt(self.bottom)}" stroke="#333333"/>')
        if frame:
            out.append(f'<rect x="{fmt(self.left)}" y="{fmt(self.top)}" width="{fmt(self.right - self.left)}" '
                       f'height="{fmt(self.bottom - self.top)}" fill="none" stroke="#333333"/>')
        if xlabel:
            out.append(f'<text x="{fmt((self.left + self.right) / 2)}" y="{fmt(self.height - 4)}" '
                       f'font-size="{fmt(self.font_size)}" text-anchor="middle" fill="#333333">{esc(xlabel)}</text>')
        if ylabel:
            cx, cy = 12.0, (self.top + self.bottom) / 2
            out.append(f'<text x="{fmt(cx)}" y="{fmt(cy)}" font-size="{fmt(self.font_size)}" text-anchor="middle" '
                       f'transform="rotate(-90 {fmt(cx)} {fmt(cy)})" fill="#333333">{esc(ylabel)}</text>')
        # axes go under the data
        self._body[:0] = out

    def legend(self, *, where: Literal["right", "inside", "below"] = "right", size: float | None = None) -> None:
        """Draw the collected legend entries: in the right margin (``right``), inside the top
        right corner of the plot area (``inside``) or under the x axis (``below``, in rows)."""
        if not self._legend:
            return
        fs = size or self.font_size * 0.85
        row = fs * 1.45
        char_w = fs * 0.56
        if where == "below":
            # entries flow left to right, wrapping at the right edge of the plot area
            x, y = self.left, self.bottom + 30 + row / 2
            for item in self._legend:
                w = len(item.label) * char_w + 40
                if x > self.left and x + w > self.right:
                    x, y = self.left, y + row
                self._body.append(self._legend_item(item, x, y, fs))
                x += w
            return
        width = max(len(i.label) for i in self._legend) * char_w + 26
        if where == "right":
            x, y = self.right + 8, self.top + row / 2
        else:
            x, y = self.right - width, self.top + row / 2 + 2
            self._body.append(f'<rect x="{fmt(x - 4)}" y="{fmt(self.top + 2)}" width="{fmt(width + 2)}" '
                              f'height="{fmt(row * len(self._legend) + 2)}" fill="#ffffff" fill-opacity="0.8"/>')
        for k, item in enumerate(self._legend):
            self._body.append(self._legend_item(item, x, y + k * row, fs))

    def _legend_item(self, item: _LegendItem, x: float, y: float, fs: float) -> str:
        if item.kind == "line":
            sym = (f'<line x1="{fmt(x)}" y1="{fmt(y)}" x2="{fmt(x + 18)}" y2="{fmt(y)}"'
                   f'{self._style(item.color, item.width, item.dash, item.opacity)}/>')
        elif item.kind == "band":
            sym = (f'<rect x="{fmt(x)}" y="{fmt(y - 4)}" width="18" height="8" fill="{esc(item.color)}" '
                   f'fill-opacity="{fmt(item.opacity)}"/>')
        else:
            sym = _marker(x + 9, y, item.marker, 6.0, item.color, item.fill, 1.3, item.opacity, None)
        return (sym + f'<text x="{fmt(x + 23)}" y="{fmt(y)}" font-size="{fmt(fs)}" dominant-baseline="middle" '
                f'fill="#333333">{esc(item.label)}</text>')

    # output -------------------------------------------------------------------------------------

    def svg(self) -> str:
        """The chart as one inline ``<svg>`` element."""
        head = (f'<svg class="plot" role="img" xmlns="http://www.w3.org/2000/svg" '
                f'viewBox="0 0 {fmt(self.width)} {fmt(self.height)}" width="{fmt(self.width)}" '
                f'height="{fmt(self.height)}" aria-label="{esc(self.title)}" '
                'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" style="max-width:100%;height:auto">'
                f"<title>{esc(self.title)}</title>")
        if self.desc:
            head += f"<desc>{esc(self.desc)}</desc>"
        return head + "".join(self._body) + "</svg>"


def _marker(x: float, y: float, marker: str, size: float, color: str, fill: str, width: float,
            opacity: float, tip: str | None) -> str:
    r = size / 2
    c = esc(color)
    face = c if fill == "full" else "#ffffff"
    op = f' opacity="{fmt(opacity)}"' if opacity < 1 else ""
    stroke = f' stroke="{c}" stroke-width="{fmt(width)}"'
    tip_s = f"<title>{esc(tip)}</title>" if tip else ""

    def close(tag: str, body: str) -> str:
        return f"<{tag} {body}{op}>{tip_s}</{tag}>" if tip_s else f"<{tag} {body}{op}/>"

    if marker == "o":
        if fill == "bottom":
            half = (f'<path d="M{fmt(x - r)} {fmt(y)} A{fmt(r)} {fmt(r)} 0 0 0 {fmt(x + r)} {fmt(y)}Z" '
                    f'fill="{c}"{op}/>')
            ring = close("circle", f'cx="{fmt(x)}" cy="{fmt(y)}" r="{fmt(r)}" fill="none"{stroke}')
            return f'<circle cx="{fmt(x)}" cy="{fmt(y)}" r="{fmt(r)}" fill="#ffffff"{op}/>' + half + ring
        return close("circle", f'cx="{fmt(x)}" cy="{fmt(y)}" r="{fmt(r)}" fill="{face}"{stroke}')
    if marker == "|":
        return close("line", f'x1="{fmt(x)}" y1="{fmt(y - r)}" x2="{fmt(x)}" y2="{fmt(y + r)}"{stroke}')
    if marker == "_":
        return close("line", f'x1="{fmt(x - r)}" y1="{fmt(y)}" x2="{fmt(x + r)}" y2="{fmt(y)}"{stroke}')
    pts: list[tuple[float, float]]
    if marker == "s":
        pts = [(-r, -r), (r, -r), (r, r), (-r, r)]
    elif marker == "v":
        pts = [(-r, -r * 0.8), (r, -r * 0.8), (0, r)]
    elif marker == "^":
        pts = [(-r, r * 0.8), (r, r * 0.8), (0, -r)]
    elif marker == ">":
        pts = [(-r * 0.8, -r), (r, 0), (-r * 0.8, r)]
    elif marker == "D":
        pts = [(0, -r), (r, 0), (0, r), (-r, 0)]
    elif marker == "X":
        a, b = r, r * 0.35
        pts = [(-a, -a + b), (-a + b, -a), (0, -b), (a - b, -a), (a, -a + b), (b, 0), (a, a - b), (a - b, a),
               (0, b), (-a + b, a), (-a, a - b), (-b, 0)]
    else:
        raise ValueError(f"marker must be one of o s v ^ > D X | _, but was {marker!r}")
    d = "M" + " L".join(f"{fmt(x + dx)} {fmt(y + dy)}" for dx, dy in pts) + "Z"
    return close("path", f'd="{d}" fill="{face}"{stroke} stroke-linejoin="round"')


def subsample(n: int, limit: int) -> range:
    """Indices of at most ``limit`` of ``n`` items, evenly strided (deterministic)."""
    step = max(1, math.ceil(n / max(limit, 1)))
    return range(0, n, step)


def padded_log_range(values: Iterable[float], *, floor: float = 1e-8, ceiling: float | None = None,
                     pad: float = 3.0) -> tuple[float, float]:
    """A log-axis range covering the positive ``values`` with a factor ``pad`` of room."""
    pos = [v for v in values if v and v > 0 and math.isfinite(v)]
    lo = max(min(pos, default=1e-6) / pad, floor)
    hi = ceiling if ceiling is not None else max(pos, default=1.0) * pad
    if hi <= lo:
        hi = lo * 10
    return lo, hi

