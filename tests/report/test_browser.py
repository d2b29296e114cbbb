"""Open the HTML report in headless Chromium (Debian's ``chromium``): key elements, a screenshot.

Skipped, with the reason shown, when Chromium is not installed, unless
``REMISSION_REQUIRE_TIERS=1`` (CI), where a missing browser fails the test instead.
Screenshots are kept in ``tests/_artifacts/`` (gitignored) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from remission.domain import NOT_A_MEDICAL_DEVICE, CaseAnalysis
from remission.report import write_report

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "_artifacts"
WIDTH, HEIGHT = 1280, 2400
#: the relapse colour of the timeline (remission.report.plots.COLORS["relapse"] = #d62728)
RELAPSE_RGB = (0xD6, 0x27, 0x28)


def _chromium() -> str:
    found = "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else shutil.which("chromium")
    if found:
        return found
    reason = "headless Chromium not installed (/usr/bin/chromium); `apt-get install chromium` or run scripts/test-tiers.sh as root"
    if os.environ.get("REMISSION_REQUIRE_TIERS") == "1":
        pytest.fail(f"REMISSION_REQUIRE_TIERS=1 but {reason}")
    pytest.skip(reason)


def _run_chromium(binary: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={tmp / 'profile'}", *args]
    env = {**os.environ, "HOME": str(tmp)}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}"
    return proc


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str | None]] = []
        self.ids: dict[str, str] = {}
        self.svg_in: set[str] = set()  # ids of elements that contain an <svg>
        self.tables: set[str] = set()
        self.title = ""
        self._in_title = False
        self.text: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids[a["id"]] = tag  # type: ignore[index]
        if tag == "svg":
            self.svg_in.update(i for _, i in self.stack if i)
        if tag == "table" and a.get("id"):
            self.tables.add(a["id"])  # type: ignore[arg-type]
        self._in_title = tag == "title" and not any(t == "svg" for t, _ in self.stack)
        if tag not in ("meta", "br", "img", "input", "link", "hr", "path", "use", "rect", "circle", "line", "polyline", "polygon", "ellipse", "stop"):
            self.stack.append((tag, a.get("id")))

    def handle_endtag(self, tag: str) -> None:
        for k in range(len(self.stack) - 1, -1, -1):
            if self.stack[k][0] == tag:
                del self.stack[k:]
                break
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        for _, i in self.stack:
            if i:
                self.text.setdefault(i, []).append(data)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.fixture(scope="module")
def chromium() -> str:
    return _chromium()


@pytest.mark.parametrize("slug", ["late-bm-bcp", "ph-like-very-early", "t-all-early-combined"])
def test_report_in_headless_chromium(slug: str, chromium: str, example_analyses: dict[str, CaseAnalysis],
                                     tmp_path: Path) -> None:
    analysis = example_analyses[slug]
    report = write_report(analysis, tmp_path / "report" / "report.html")
    url = report.resolve().as_uri()

    # 1. the DOM as the browser parsed it
    dom_text = _run_chromium(chromium, tmp_path, "--dump-dom", url).stdout
    dom = _Dom()
    dom.feed(dom_text)
    assert dom.title.strip() == f"remission report: {analysis.case_id}"
    for element in ("title", "notice", "timeline", "mrd-table", "provenance", "patient-summary", "inputs"):
        assert element in dom.ids, f"#{element} missing from the rendered DOM"
    assert "timeline" in dom.svg_in, "#timeline has no <svg>"
    notice = " ".join("".join(dom.text["notice"]).split())
    assert "Not a medical device." in notice and NOT_A_MEDICAL_DEVICE in notice
    provenance = "".join(dom.text["provenance"])
    for item in analysis.provenance.inputs:
        assert item.sha256 in provenance
    if analysis.mrd:
        assert "mrd" in dom.tables, "the MRD table is missing"
        mrd_text = "".join(dom.text["mrd"])
        for m in analysis.mrd:
            assert m.display() in mrd_text
    else:
        assert "No MRD results in this case." in "".join(dom.text["mrd-table"])

    # 2. a screenshot, kept for people to look at
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = ARTIFACTS / f"report-{slug}.png"
    png.unlink(missing_ok=True)
    _run_chromium(chromium, tmp_path, f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}", url)
    data = png.read_bytes()
    assert _png_size(data) == (WIDTH, HEIGHT)
    assert len(data) > 30_000, "screenshot is suspiciously small (blank page?)"

    import numpy as np
    from PIL import Image  # Pillow comes with matplotlib

    with Image.open(png) as im:
        px = np.asarray(im.convert("RGB"), dtype=np.int16)
    non_white = float((px.sum(axis=2) < 720).mean())
    assert non_white > 0.03, f"only {non_white:.1%} of the page is drawn"
    colours = np.unique(px[::4, ::4].reshape(-1, 3), axis=0)
    assert len(colours) > 100, "too few colours for a rendered report"
    # the timeline SVG really drew: the relapse marker/line colour is on the page
    red = int((np.abs(px - np.array(RELAPSE_RGB)).max(axis=2) <= 12).sum())
    assert red >= 40, f"timeline relapse colour found in only {red} pixels"
