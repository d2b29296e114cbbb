"""The whole flow in Debian's headless Chromium driven by Playwright for Python: log in, find a
patient, upload a result with an error then a good one, sign it off as a second user, record and
sign a board decision, log out. Every htmx request that changes state carries the CSRF header.

No browser download: Playwright launches ``/usr/bin/chromium`` (``executable_path``). Skipped,
with the reason, when Chromium is missing, unless ``REMISSION_REQUIRE_TIERS=1`` (CI). Screenshots
of the patient page and the board view go to ``out/`` (not committed) for a reviewer.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

OUT = Path(__file__).resolve().parents[2] / "out"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
GOOD = "day,value,unit\n0,120,cells_per_ul\n7,4,cells_per_ul\n"
BAD = "day,value,unit\n0,120,cells_per_ul\n7,lots,cells_per_ul\n"


def _need_chromium() -> None:
    if os.access(CHROMIUM, os.X_OK):
        return
    reason = "headless Chromium not installed (/usr/bin/chromium); run scripts/test-tiers.sh as root"
    if os.environ.get("REMISSION_REQUIRE_TIERS") == "1":
        pytest.fail(f"REMISSION_REQUIRE_TIERS=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a thread."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                        access_log=False, lifespan="off"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    t.join(timeout=10)


def test_full_flow_in_chromium(server: str, tmp_path: Path, password: str) -> None:
    _need_chromium()
    from playwright.sync_api import expect, sync_playwright

    bad, good = tmp_path / "bcells-bad.csv", tmp_path / "bcells.csv"
    bad.write_text(BAD)
    good.write_text(GOOD)
    OUT.mkdir(exist_ok=True)
    posts: list[tuple[str, str | None, bool]] = []

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.on("request", lambda r: posts.append((r.url, r.headers.get("x-csrf-token"), "hx-request" in r.headers))
                if r.method == "POST" else None)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        def login(name: str) -> None:
            page.goto(server + "/login")
            page.fill("input[name=username]", name)
            page.fill("input[name=password]", password)
            page.click("#login")
            expect(page.locator("h1"), page.content()[-600:]).to_have_text("Patients")

        def logout() -> None:
            page.click("#logout")
            expect(page.locator("h1")).to_have_text("Log in")

        # lab: find the patient, upload a bad then a good file
        login("lab")
        page.fill("#search", "PAT-B")
        expect(page.locator("#patient-rows tbody tr")).to_have_count(1)
        page.click("text=PAT-B")
        expect(page.locator("#patient-title")).to_have_text("Patient PAT-B")
        expect(page.locator("#summary")).to_be_visible()
        page.screenshot(path=str(OUT / "web-patient.png"), full_page=True)
        page.click("text=Laboratory results")
        form = page.locator("#upload-file")
        form.locator("select[name=kind]").select_option("b_cells")
        form.locator("input[name=sample_date]").fill("2023-05-01")
        form.locator("input[name=file]").set_input_files(str(bad))
        form.locator("button[type=submit]").click()
        expect(page.locator("#upload-error")).to_contain_text("line 3")
        expect(page.locator("#results tbody tr")).to_have_count(1)  # "No result uploaded." row
        expect(page.locator("#results")).to_contain_text("No result uploaded")
        form = page.locator("#upload-file")
        form.locator("select[name=kind]").select_option("b_cells")
        form.locator("input[name=sample_date]").fill("2023-05-01")
        form.locator("input[name=file]").set_input_files(str(good))
        form.locator("button[type=submit]").click()
        expect(page.locator("#upload-ok")).to_be_visible()
        expect(page.locator("#results .status")).to_have_text(["draft"])
        expect(page.locator("button.signoff")).to_have_count(0)  # not for the uploader
        logout()

        # second lab user signs it off (four eyes); the patient is re-analysed
        login("lab2")
        page.goto(server + "/patients/PAT-B/results")
        page.click("button.signoff")
        expect(page.locator("#results .status")).to_have_text(["signed"])
        logout()

        # clinician: meeting, patient, decision, signature
        login("clin")
        page.click("text=Tumour board")
        page.fill("#new-meeting input[name=date]", "2030-01-15")
        page.fill("#new-meeting input[name=title]", "Relapse board")
        page.fill("#new-meeting textarea[name=attendees]", "Dr A\nDr B")
        page.click("#new-meeting button[type=submit]")
        expect(page.locator("#meeting-title")).to_contain_text("Relapse board")
        page.fill("#add-patient input[name=case_id]", "PAT-B")
        page.click("#add-patient button[type=submit]")
        page.fill(".decision-form textarea[name=free_text]", "Blinatumomab, then HSCT")
        page.fill(".decision-form textarea[name=rationale]", "rising flow MRD")
        page.click(".decision-form button.record")
        expect(page.locator(".decision .status")).to_have_text(["draft"])
        page.click("button.sign")
        expect(page.locator(".decision .status")).to_have_text(["signed"])
        page.screenshot(path=str(OUT / "web-board.png"), full_page=True)
        logout()
        # the back button after logout shows no patient data (no-store + server-side session end)
        page.goto(server + "/patients/PAT-B")
        expect(page.locator("h1")).to_have_text("Log in")

        # viewer: enrol a second factor on the Account page (QR code and text), confirm with a code
        from remission.app.auth import totp_now

        login("viewer")
        page.click("text=Account")
        page.click("text=manage the second factor")
        page.click("#totp-start button")
        expect(page.locator("#totp-qr svg")).to_be_visible()
        secret = page.locator("#totp-secret").inner_text().replace(" ", "")
        page.fill("#totp-code", totp_now(secret))
        page.click("#totp-confirm button")
        expect(page.locator("#totp-ok")).to_contain_text("Second factor on")
        page.screenshot(path=str(OUT / "web-totp.png"), full_page=True)
        logout()
        browser.close()

    assert not [e for e in errors if "Content Security Policy" in e], errors
    state_changing = [(u, tok, hx) for u, tok, hx in posts if not u.endswith("/login")]
    assert len(state_changing) >= 10
    # every state-changing POST went through htmx (hx-boost) and carried the CSRF header
    assert all(hx and tok for _, tok, hx in state_changing), state_changing
    assert (OUT / "web-patient.png").stat().st_size > 10_000
    assert (OUT / "web-board.png").stat().st_size > 10_000


def test_fastq_job_progress_polls_and_reloads_in_chromium(server: str, tmp_path: Path, password: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A FASTQ upload is checked in the background: the page shows the job's progress, updated by
    htmx polling (no inline script under the CSP), and reloads the results page with the new draft
    when the job is done. The job is held at 30 % until the test has seen that on the page."""
    _need_chromium()
    from playwright.sync_api import expect, sync_playwright

    from remission.app import results as svc

    gate = threading.Event()
    orig = svc._check_fastq

    def held(ctx: Any, *args: Any, **kw: Any) -> Any:
        ctx.progress(0.3, "held by the test")
        assert gate.wait(60), "the test never released the job"
        return orig(ctx, *args, **kw)

    monkeypatch.setattr(svc, "_check_fastq", held)
    fastq = tmp_path / "fu.fastq"
    fastq.write_bytes(b"@r1\nACGTACGT\n+\nIIIIIIII\n@r2\nTTTTACGT\n+\nIIIIIIII\n")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(server + "/login")
        page.fill("input[name=username]", "lab")
        page.fill("input[name=password]", password)
        page.click("#login")
        expect(page.locator("h1")).to_have_text("Patients")
        page.goto(server + "/patients/PAT-A/results")
        form = page.locator("#upload-file")
        form.locator("select[name=kind]").select_option("fastq")
        form.locator("input[name=sample_date]").fill("2023-06-01")
        form.locator("input[name=file]").set_input_files(str(fastq))
        form.locator("button[type=submit]").click()
        expect(page.locator("#upload-ok")).to_contain_text("background")
        expect(page.locator(".job .job-progress")).to_have_text("30 %")  # a poll brought the update
        expect(page.locator(".job .job-state")).to_have_text("running")
        gate.set()
        # the finished job answers HX-Redirect: the results page is loaded again, with the draft
        expect(page.locator("#results .status")).to_have_text(["draft"], timeout=30_000)
        expect(page.locator(".job .job-state")).to_have_text("done")
        assert page.url == server + "/patients/PAT-A/results"
        browser.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors
