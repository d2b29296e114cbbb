"""The hand-written SVG plotting module (``remission.report.svg``) and the figures drawn with it."""

from __future__ import annotations

import datetime as dt
import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from remission.report.svg import (
    Chart,
    DateScale,
    LinearScale,
    LogScale,
    SymlogScale,
    esc,
    fmt,
    log_ticks,
    nice_ticks,
    padded_log_range,
    subsample,
)

NS = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _log_chart() -> Chart:
    c = Chart(width=400.0, height=300.0, title="t", margin_left=50.0, margin_right=10.0, margin_top=10.0,
              margin_bottom=40.0)
    c.x = LinearScale(0.0, 10.0)
    c.y = LogScale(1e-6, 1.0)
    return c


def test_output_is_well_formed_xml_with_title_desc_and_viewbox() -> None:
    c = _log_chart()
    c.desc = "a description"
    c.axes(xlabel="x", ylabel="y", xgrid=True, ygrid=True, frame=True)
    c.line([0, 5, 10], [1e-5, 1e-3, 1e-1], color="#123456", label="line", dash="2 2")
    c.line([0, 5, 10], [1e-5, 1e-3, 1e-1], color="#123456", step=True)
    c.band([0, 10], [1e-6, 1e-5], [1e-4, 1e-3], color="#cccccc", label="band")
    for m in ("o", "s", "v", "^", ">", "D", "X", "|", "_"):
        c.markers([1.0], [1e-3], color="#000000", marker=m, fill="none", label=f"marker {m}", titles=["tip"])
    c.markers([2.0], [1e-3], color="#000000", fill="bottom")
    c.dots([1, 2, 3], [1e-3, 1e-2, 1e-1], color="#ff0000", label="dots")
    c.vline(5.0, color="#000000", dash="4 3")
    c.hline(1e-2, color="#000000", label="threshold")
    c.vspan(1.0, 2.0, color="#ff7f0e")
    c.hspan(1e-4, 1e-3, color="#eeeeee")
    c.rect(3.0, 1e-5, 4.0, 1e-4, fill="#00ff00", title="a rect")
    c.text(c.X(5.0), c.top, "two\nlines", rotate=-90, anchor="end")
    c.legend(where="right")
    root = _parse(c.svg())
    assert root.tag == f"{NS}svg"
    assert root.get("viewBox") == "0 0 400 300"
    assert root.get("role") == "img" and root.get("class") == "plot"
    children = list(root)
    assert children[0].tag == f"{NS}title" and children[0].text == "t"
    assert children[1].tag == f"{NS}desc" and children[1].text == "a description"


def test_log_axis_ticks_are_decades_at_positions_computed_by_hand() -> None:
    c = _log_chart()
    # 1e-6 .. 1: seven decades, 10^-6 .. 10^0
    assert c.y.ticks() == [(1e-06, "10⁻⁶"), (1e-05, "10⁻⁵"), (0.0001, "10⁻⁴"), (0.001, "10⁻³"),
                           (0.01, "10⁻²"), (0.1, "10⁻¹"), (1.0, "1")]
    # plot area from y = 10 (top) to y = 300 - 40 = 260 (bottom): 250 units for 6 decades, so
    # 10^-k sits at 260 - (6 - k) * 250 / 6, e.g. 10^-3 at 260 - 125 = 135, 10^-5 at 260 - 41.67
    assert c.Y(1e-6) == pytest.approx(260.0)
    assert c.Y(1.0) == pytest.approx(10.0)
    assert c.Y(1e-3) == pytest.approx(135.0)
    assert c.Y(1e-5) == pytest.approx(260.0 - 250.0 / 6)
    c.axes()
    root = _parse(c.svg())
    labels = {t.text: float(t.get("y", "nan")) for t in root.iter(f"{NS}text")}
    assert labels["10⁻³"] == pytest.approx(135.0)
    assert labels["10⁻⁵"] == pytest.approx(218.33, abs=0.01)  # fmt() keeps two decimals
    assert labels["1"] == pytest.approx(10.0)


def test_log_ticks_thin_out_and_fill_in() -> None:
    # 10^-12 .. 10^1 is 14 decades: with at most 9 ticks every 2nd decade (ceil(14 / 9) = 2)
    assert log_ticks(1e-12, 10.0, max_ticks=9) == [1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1.0]
    # less than two decades inside: 1-2-5 steps (2e-5, 5e-5, 1e-4, 2e-4, 5e-4 lie in [2e-5, 5e-4])
    assert log_ticks(2e-5, 5e-4) == [2e-5, 5e-5, 1e-4, 2e-4, 5e-4]
    assert LogScale(2e-5, 5e-4).ticks()[1] == (5e-5, "5×10⁻⁵")
    with pytest.raises(ValueError, match="log scale needs 0 < lo < hi, but was lo=0"):
        LogScale(0.0, 1.0)


def test_nice_linear_ticks() -> None:
    # (10 - 0) / 6 = 1.67 -> next 1-2-2.5-5 step is 2
    assert nice_ticks(0.0, 10.0) == [0, 2, 4, 6, 8, 10]
    # (0.73 - 0.12) / 6 = 0.10 -> step 0.2 (0.1 is below 0.1017): 0.2, 0.4, 0.6
    assert nice_ticks(0.12, 0.73) == [0.2, 0.4, 0.6]
    # 6 / 3 = 2 -> step 2, from ceil(-3 / 2) * 2 = -2
    assert nice_ticks(-3.0, 3.0, target=3) == [-2, 0, 2]


def test_date_axis_ticks_on_month_starts_with_year_on_first_and_january() -> None:
    s = DateScale.between(dt.date(2020, 11, 15), dt.date(2021, 4, 20), max_ticks=10)
    ticks = s.ticks()
    assert [lab for _, lab in ticks] == ["Dec 2020", "Jan 2021", "Feb", "Mar", "Apr"]
    assert ticks[0][0] == dt.date(2020, 12, 1).toordinal()
    # six years: yearly ticks (72 months / 12 = 6 <= 10)
    s = DateScale.between(dt.date(2015, 1, 1), dt.date(2021, 6, 1), max_ticks=10)
    assert [lab for _, lab in s.ticks()] == ["2015", "2016", "2017", "2018", "2019", "2020", "2021"]


def test_symlog_scale_is_linear_then_logarithmic() -> None:
    s = SymlogScale(0.0, 280.0, linthresh=28.0, linscale=2.0)
    # transformed: 0 -> 0, 28 -> 2, 280 -> 2 + log10(10) = 3; so day 28 at 2/3 of the axis
    assert s.fraction(28.0) == pytest.approx(2 / 3)
    assert s.fraction(14.0) == pytest.approx(1 / 3)
    assert s.fraction(280.0) == pytest.approx(1.0)


def test_text_is_escaped_everywhere() -> None:
    evil = '<script>alert("x")</script> & more'
    c = Chart(width=200.0, height=100.0, title=evil, desc=evil)
    c.x, c.y = LinearScale(0, 1), LinearScale(0, 1)
    c.markers([0.5], [0.5], color="#000000", label=evil, titles=[evil])
    c.text(10, 10, evil)
    c.legend(where="inside")
    out = c.svg()
    assert "<script" not in out
    assert "&lt;script&gt;" in out
    root = _parse(out)
    assert not list(root.iter(f"{NS}script")) and not list(root.iter("script"))
    assert root.get("aria-label") == evil  # the parser undoes the escaping: the text survives intact
    assert [t.text for t in root.iter(f"{NS}title")].count(evil) == 2
    assert esc('a"b') == "a&quot;b"


def test_open_markers_are_white_inside_and_output_is_deterministic() -> None:
    def draw() -> str:
        c = _log_chart()
        c.markers([1.0], [1e-4], color="#1f77b4", marker="v", fill="none")
        c.markers([2.0], [1e-3], color="#1f77b4", marker="o", fill="full")
        return c.svg()

    a = draw()
    assert a == draw()
    root = _parse(a)
    tri = next(root.iter(f"{NS}path"))
    circle = next(root.iter(f"{NS}circle"))
    assert tri.get("fill") == "#ffffff" and tri.get("stroke") == "#1f77b4"
    assert circle.get("fill") == "#1f77b4"


def test_helpers() -> None:
    assert fmt(1.005) in ("1", "1.01", "1.0")  # two decimals at most
    assert fmt(-0.001) == "0" and fmt(12.5) == "12.5" and fmt(3.0) == "3"
    # 10,000 items, at most 2,500: every 4th, starting with the first (deterministic)
    idx = subsample(10_000, 2_500)
    assert len(idx) == 2_500 and list(idx[:3]) == [0, 4, 8]
    assert len(subsample(10, 2_500)) == 10
    lo, hi = padded_log_range([1e-4, 1e-2], pad=10.0)
    assert lo == pytest.approx(1e-5) and hi == pytest.approx(1e-1)
    assert math.isclose(padded_log_range([], floor=1e-8)[0], 1e-6 / 3)


# -- the figures of the report, on the example cases ---------------------------------------------


def test_every_report_figure_is_wellformed_svg_with_a_title(example_analyses: dict) -> None:
    import re

    from remission.report import render_html

    for slug, analysis in example_analyses.items():
        html = render_html(analysis)
        svgs = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
        assert len(svgs) >= 6, slug
        for s in svgs:
            root = _parse(s)
            title = root.find(f"{NS}title")
            assert title is not None and title.text, slug
            assert root.get("viewBox"), slug
        assert "matplotlib" not in html.lower()


def test_mrd_course_draws_negatives_open_at_the_lod(example_analyses: dict) -> None:
    from remission.report.sections.mrd_course import course_svg

    a = example_analyses["late-bm-bcp"]
    res = next(s for s in a.sections if s.name == "mrd_course").data()
    negatives = [p for p in res["points"] if p["status"] == "negative" and p.get("lod")]
    assert negatives, "the example has a negative result"
    root = _parse(course_svg(res))
    tips = [t.text for t in root.iter(f"{NS}title")]
    for p in negatives:
        tip = f"{p['method'].upper()} {p['date']}: {p.get('display', '')}"
        assert tip in tips
    # an open (white) down-triangle per negative result, plus the legend's
    open_tri = [e for e in root.iter(f"{NS}path") if e.get("fill") == "#ffffff"]
    assert len(open_tri) >= len(negatives) + 1


def test_analyze_without_store_never_imports_matplotlib_sqlalchemy_or_scipy_stats(
        example_cases: dict[str, Path], tmp_path: Path) -> None:
    # start-up cost of `remission analyze` (issue 15): the figures are hand-written SVG, the
    # store is not opened with --no-store, and the fits take their quantiles from scipy.special
    case = example_cases["ph-like-very-early"]  # every engine with a fit: NGS, flow, course, CAR-T
    code = ("import sys; from remission.cli import main; "
            f"rc = main(['analyze', {str(case)!r}, '--no-store', '-o', {str(tmp_path / 'out')!r}]); "
            "heavy = [m for m in ('matplotlib', 'sqlalchemy', 'alembic', 'scipy.stats') if m in sys.modules]; "
            "print('RC=%s HEAVY=%s' % (rc, ','.join(heavy)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "RC=0 HEAVY="
    assert (tmp_path / "out" / "report.html").is_file()
