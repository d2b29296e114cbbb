"""Load benchmark of the web application (loopback only; bounded in requests and time).

    python benchmarks/bench_web.py [--patients 1000] [--users 50] [--requests 2000]
                                   [--max-seconds 120] [--db URL]

Builds a store with ``--patients`` synthetic patients (three small analysed template cases,
copied under new patient ids: the list and page code paths are the same as for real analyses),
starts ``uvicorn`` on 127.0.0.1 in a child process, logs ``--users`` clients in (argon2's
cheapest profile for these benchmark accounts: logging in is not what is measured), and lets
them browse at once: each step is one list page (random filter/offset) and one patient page
(random patient), until ``--requests`` requests or ``--max-seconds``. Prints p50/p95/p99 latency
per kind and the error count as Markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVER = """
import sys
from argon2 import profiles
import uvicorn
from remission.app.auth import AuthPolicy
from remission.web import WebSettings, create_app
app = create_app(WebSettings(db_url=sys.argv[1], policy=AuthPolicy(argon2_parameters=profiles.CHEAPEST)))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
"""


def build_store(url: str, n: int, users: int, tmp: Path) -> list[str]:
    from argon2 import profiles

    from remission.app.access import ALL_PATIENTS, grant
    from remission.app.auth import AuthPolicy, create_user
    from remission.domain import Case
    from remission.pipeline import analyze_case
    from remission.store import Store

    templates = []
    for i, mrd in enumerate([[("2023-03-01", "pcr", 2e-3), ("2023-04-15", "pcr", None)],
                             [("2023-03-01", "flow", 1e-3), ("2023-04-01", "flow", 5e-3)], []]):
        case = Case.model_validate({
            "patient": {"id": f"T{i}", "sex": "female", "date_of_birth": "2014-03-01"},
            "diagnosis": {"date": "2019-05-10", "lineage": "B"}, "frontline": {"end_date": "2021-08-01"},
            "relapses": [{"number": 1, "date": "2023-02-01", "site": "isolated_bm", "marrow_blasts_percent": 60}],
            "mrd_reports": [{"date": d, "method": m, "value": v, "lod": 5e-5, "loq": 1e-4} for d, m, v in mrd]})
        templates.append(analyze_case(case, tmp))
    ids = [f"BENCH-{i:05d}" for i in range(n)]
    policy = AuthPolicy(argon2_parameters=profiles.CHEAPEST)
    with Store(url) as st:
        for i, pid in enumerate(ids):
            t = templates[i % len(templates)]
            case = t.case.model_copy(update={"patient": t.case.patient.model_copy(update={"id": pid})})
            st.save_analysis(t.model_copy(update={"case_id": pid, "case": case, "case_sha256": f"{i:064x}"}))
        for u in range(users):
            create_user(st, f"user{u}", "viewer", "benchmark password", policy=policy)
            grant(st, f"user{u}", ALL_PATIENTS, actor="bench", address="local")  # sees every patient
        from remission.app.patients import refresh_index

        refresh_index(st)
    return ids


async def browse(base: str, user: str, ids: list[str], budget: list[int], deadline: float,
                 lat: dict[str, list[float]], errors: list[str], rng: random.Random, seen: set[str]) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=60) as c:
        r = await c.post("/login", data={"username": user, "password": "benchmark password"})
        if r.status_code != 303:
            errors.append(f"login {r.status_code}")
            return
        c.cookies.set("__Host-remission_session", r.cookies["__Host-remission_session"])
        while budget[0] > 0 and time.monotonic() < deadline:
            budget[0] -= 2
            pid = rng.choice(ids)
            # a patient page is "cold" the first time its analysis is shown (the plots are drawn),
            # "warm" afterwards (the stored rendering is used)
            pkind = "patient (warm)" if pid in seen else "patient (cold)"
            seen.add(pid)
            for kind, path in (("list", f"/patients?offset={rng.randrange(0, len(ids), 50)}"
                                        + rng.choice(["", "&state=mrd_negative", "&q=BENCH-00"])),
                               (pkind, f"/patients/{pid}")):
                t0 = time.perf_counter()
                try:
                    resp = await c.get(path)
                    ok = resp.status_code == 200
                except Exception as exc:  # counted, not raised: the benchmark reports errors
                    ok, resp = False, exc  # type: ignore[assignment]
                lat[kind].append((time.perf_counter() - t0) * 1000)
                if not ok:
                    errors.append(f"{kind} {getattr(resp, 'status_code', resp)!r}")


def pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1] if len(xs) > 1 else (xs[0] if xs else float("nan"))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=1000)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--max-seconds", type=float, default=120)
    ap.add_argument("--db", default=None, help="store URL (default: a new SQLite file)")
    ap.add_argument("--prerender", action="store_true",
                    help="draw the browsed patients' pages before measuring (as a sign-off does), "
                         "and report the drawing time per page")
    ap.add_argument("--working-set", type=int, default=0,
                    help="patients browsed (the first N; default all): repeat views show warm pages")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        url = args.db or f"sqlite:///{(tmp / 'bench.db').as_posix()}"
        t0 = time.perf_counter()
        ids = build_store(url, args.patients, args.users, tmp)
        browsed = ids[: args.working_set] if args.working_set else ids
        draw_ms: list[float] = []
        if args.prerender:
            from remission.app.patients import latest_with_id, rendered_page
            from remission.store import Store

            with Store(url) as st:
                for pid in browsed:
                    aid, analysis = latest_with_id(st, pid)
                    t = time.perf_counter()
                    rendered_page(st, aid, analysis)
                    draw_ms.append((time.perf_counter() - t) * 1000)
        setup_s = time.perf_counter() - t0
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        proc = subprocess.Popen([sys.executable, "-c", SERVER, url, str(port)], env=env)
        try:
            import httpx

            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    httpx.get(base + "/login", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            lat: dict[str, list[float]] = {"list": [], "patient (cold)": [], "patient (warm)": []}
            seen: set[str] = set(browsed) if args.prerender else set()
            errors: list[str] = []
            budget = [args.requests]
            rng = random.Random(20261202)
            t1 = time.perf_counter()
            deadline = time.monotonic() + args.max_seconds

            async def run() -> None:
                await asyncio.gather(*(browse(base, f"user{u}", browsed, budget, deadline, lat, errors,
                                              random.Random(rng.random()), seen) for u in range(args.users)))

            asyncio.run(run())
            wall = time.perf_counter() - t1
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    backend = url.split(":", 1)[0]
    print(f"store {backend}: {args.patients} patients ({len(browsed)} browsed), {args.users} concurrent users, "
          f"set-up {setup_s:.0f} s, "
          f"{sum(map(len, lat.values()))} requests in {wall:.1f} s, errors {len(errors)}")
    print("\n| page | requests | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|")
    for kind, xs in lat.items():
        if not xs:
            continue
        print(f"| {kind} | {len(xs)} | {pct(xs, 50):.0f} | {pct(xs, 95):.0f} | {pct(xs, 99):.0f} |")
    if draw_ms:
        print(f"\ndrawing one patient page (timeline + plots, done once per analysis): median "
              f"{statistics.median(draw_ms):.0f} ms over {len(draw_ms)} pages")
    if errors:
        print("errors (first 5):", errors[:5])
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
