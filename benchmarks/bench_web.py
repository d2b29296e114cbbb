"""Load benchmark of the web application (loopback only; bounded in requests and time).

    python benchmarks/bench_web.py [--patients 1000] [--users 50] [--think 1-3] [--think 0]
                                   [--requests 1000] [--max-seconds 120] [--workers 1]
                                   [--db URL] [--prerender] [--working-set N]

Builds a store with ``--patients`` synthetic patients (three small analysed template cases,
copied under new patient ids: the list and page code paths are the same as for real analyses)
and ``--users`` viewer accounts, opens one session per user in-process (argon2's cheapest profile
for these benchmark accounts: logging in is not what is measured), starts ``remission serve
--workers N`` on 127.0.0.1 in a child process, and runs one measured phase per ``--think``:

- each user is one HTTP/1.1 keep-alive connection (``httpx.AsyncClient``) that views a page,
  waits a *think time* drawn uniformly from ``--think MIN-MAX`` seconds, views the next page, and
  so on (the user model of Locust's ``wait_time = between(MIN, MAX)``); users start staggered over
  the first think interval, as a Locust ramp would. Pages alternate: a list page (random
  offset/filter), then a patient page (random patient);
- ``--think 0`` is the stress model: no pause (closed loop), so the server is saturated and the
  latency is about users / throughput; report it as requests/s.

Each phase stops after ``--requests`` requests or ``--max-seconds``. Printed as Markdown: p50,
p95 and p99 latency per page kind, requests/s, errors, the CPU seconds per request of the server
(all worker processes) and of this client, and the 1-minute load average before and after the
phase (client and server share the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SERVE = "import sys; from remission.cli import main; sys.exit(main(sys.argv[1:]))"
COOKIE = "__Host-remission_session"


def build_store(url: str, n: int, users: int, tmp: Path) -> tuple[list[str], list[str]]:
    """(patient ids, one session token per user)."""
    from argon2 import profiles

    from remission.app.access import ALL_PATIENTS, grant
    from remission.app.auth import AuthPolicy, authenticate, create_user
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
    tokens = []
    with Store(url) as st:
        for i, pid in enumerate(ids):
            t = templates[i % len(templates)]
            case = t.case.model_copy(update={"patient": t.case.patient.model_copy(update={"id": pid})})
            st.save_analysis(t.model_copy(update={"case_id": pid, "case": case, "case_sha256": f"{i:064x}"}))
        for u in range(users):
            create_user(st, f"user{u}", "viewer", "benchmark password", policy=policy)
            grant(st, f"user{u}", ALL_PATIENTS, actor="bench", address="local")  # sees every patient
            tokens.append(authenticate(st, f"user{u}", "benchmark password", address="127.0.0.1", policy=policy)[0])
        from remission.app.patients import refresh_index

        refresh_index(st)
    return ids, tokens


def parse_think(spec: str) -> tuple[float, float]:
    lo, _, hi = spec.partition("-")
    a, b = float(lo), float(hi or lo)
    if not 0 <= a <= b:
        raise argparse.ArgumentTypeError(f"--think must be MIN-MAX seconds with 0 <= MIN <= MAX, but was {spec!r}")
    return a, b


@dataclass
class Phase:
    think: tuple[float, float]
    lat: dict[str, list[float]] = field(default_factory=lambda: {"list": [], "patient (cold)": [], "patient (warm)": []})
    errors: list[str] = field(default_factory=list)


async def browse(c: Any, ids: list[str], listed: int, budget: list[int], deadline: float, ph: Phase,
                 rng: random.Random, seen: set[str]) -> None:
    lo, hi = ph.think
    await asyncio.sleep(rng.uniform(0, hi))  # staggered start
    step = 0
    while budget[0] > 0 and time.monotonic() < deadline:
        budget[0] -= 1
        if step % 2 == 0:
            kind = "list"
            path = (f"/patients?offset={rng.randrange(0, listed, 50)}"
                    + rng.choice(["", "&state=mrd_negative", "&q=BENCH-00"]))
        else:
            pid = rng.choice(ids)
            # "cold" the first time the analysis is shown in this run (drawn unless it was
            # rendered before), "warm" afterwards (the stored rendering is used)
            kind = "patient (warm)" if pid in seen else "patient (cold)"
            seen.add(pid)
            path = f"/patients/{pid}"
        step += 1
        t0 = time.perf_counter()
        try:
            resp = await c.get(path)
            ok, what = resp.status_code == 200, resp.status_code
        except Exception as exc:  # counted, not raised: the benchmark reports errors
            ok, what = False, type(exc).__name__
        ph.lat[kind].append((time.perf_counter() - t0) * 1000)
        if not ok:
            ph.errors.append(f"{kind} {what}")
        if hi > 0:
            await asyncio.sleep(rng.uniform(lo, hi))


def pct(xs: list[float], q: int) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1] if len(xs) > 1 else (xs[0] if xs else float("nan"))


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) of the server process and its worker processes."""
    import psutil

    p = psutil.Process(pid)
    total = 0.0
    for q in [p, *p.children(recursive=True)]:
        try:
            t = q.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=1000)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--think", type=parse_think, action="append",
                    help="think time between a user's page views, MIN-MAX seconds (uniform) or 0; "
                         "repeat for one phase each (default: 1-3, then 0)")
    ap.add_argument("--requests", type=int, default=1000, help="requests per phase")
    ap.add_argument("--max-seconds", type=float, default=120, help="time limit per phase")
    ap.add_argument("--workers", type=int, default=1, help="server worker processes (remission serve --workers)")
    ap.add_argument("--db", default=None, help="store URL (default: a new SQLite file); an empty database")
    ap.add_argument("--prerender", action="store_true",
                    help="draw the browsed patients' pages before measuring (as a sign-off's re-analysis does), "
                         "and report the drawing time per page")
    ap.add_argument("--working-set", type=int, default=0,
                    help="patients browsed (the first N; default all): repeat views show warm pages")
    args = ap.parse_args(argv)
    thinks = args.think or [(1.0, 3.0), (0.0, 0.0)]
    with tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        url = args.db or f"sqlite:///{(tmp / 'bench.db').as_posix()}"
        t0 = time.perf_counter()
        ids, tokens = build_store(url, args.patients, args.users, tmp)
        browsed = ids[: args.working_set] if args.working_set else ids
        draw_ms: list[float] = []
        if args.prerender:
            from remission.app.patients import latest_with_id, prerender
            from remission.store import Store
            from remission.web.routes.patients import register

            register()  # the web page's body renderer, as in the server
            with Store(url) as st:
                for pid in browsed:
                    aid, analysis = latest_with_id(st, pid)
                    t = time.perf_counter()
                    prerender(st, aid, analysis)  # what a sign-off's re-analysis does
                    draw_ms.append((time.perf_counter() - t) * 1000)
        setup_s = time.perf_counter() - t0
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        proc = subprocess.Popen([sys.executable, "-c", SERVE, "serve", "--db", url, "--port", str(port),
                                 "--workers", str(args.workers), "--files", str(tmp / "files")],
                                env=env, stderr=None if os.environ.get("BENCH_SERVER_LOG") else subprocess.DEVNULL)
        phases: list[tuple[Phase, float, int, float, float, tuple[float, float]]] = []
        try:
            import httpx

            base = f"http://127.0.0.1:{port}"
            for _ in range(600):
                try:
                    # every worker answers once it is up; a few probes warm them all
                    if all(httpx.get(base + "/login", timeout=2).status_code == 200 for _ in range(2 * args.workers)):
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            seen: set[str] = set(browsed) if args.prerender else set()
            rng = random.Random(20261202)
            loop = asyncio.new_event_loop()
            for think in thinks:
                # one keep-alive client per user, made before the phase starts (making an httpx
                # client builds an SSL context, ~40 ms of CPU that would stall the other users);
                # new ones each phase, since the server closes connections idle for 5 s
                clients = [httpx.AsyncClient(base_url=base, timeout=60, cookies={COOKIE: t}) for t in tokens]
                ph = Phase(think)
                budget = [args.requests]
                load0 = os.getloadavg()[0]
                cpu_s0, cpu_c0 = server_cpu(proc.pid), own_cpu()
                t1 = time.perf_counter()
                deadline = time.monotonic() + args.max_seconds

                async def run(ph: Phase = ph, budget: list[int] = budget, deadline: float = deadline,
                              clients: list[Any] = clients) -> None:
                    await asyncio.gather(*(browse(c, browsed, len(ids), budget, deadline, ph, random.Random(rng.random()), seen)
                                           for c in clients))

                loop.run_until_complete(run())
                wall = time.perf_counter() - t1
                n = sum(map(len, ph.lat.values()))
                phases.append((ph, wall, n, (server_cpu(proc.pid) - cpu_s0) / max(n, 1),
                               (own_cpu() - cpu_c0) / max(n, 1), (load0, os.getloadavg()[0])))
                for c in clients:
                    loop.run_until_complete(c.aclose())
            loop.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    backend = url.split(":", 1)[0].split("+")[0]
    print(f"store {backend}: {args.patients} patients ({len(browsed)} browsed), {args.users} users, "
          f"{args.workers} server worker(s), {os.cpu_count()} CPUs, set-up {setup_s:.0f} s")
    failed = False
    for ph, wall, n, srv, cli, (la0, la1) in phases:
        model = "no think time (stress)" if ph.think[1] == 0 else f"think {ph.think[0]:g}-{ph.think[1]:g} s"
        print(f"\n{model}: {n} requests in {wall:.1f} s = {n / wall:.1f} req/s, errors {len(ph.errors)}; "
              f"CPU per request: server {srv * 1000:.1f} ms, client {cli * 1000:.1f} ms; "
              f"load average {la0:.1f} -> {la1:.1f}")
        print("\n| page | requests | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|")
        everything = [x for xs in ph.lat.values() for x in xs]
        for kind, xs in [*ph.lat.items(), ("all", everything)]:
            if xs:
                print(f"| {kind} | {len(xs)} | {pct(xs, 50):.0f} | {pct(xs, 95):.0f} | {pct(xs, 99):.0f} |")
        if ph.errors:
            failed = True
            print("errors (first 5):", ph.errors[:5])
    if draw_ms:
        print(f"\nrendering one patient page (plots and body, once per analysis): median "
              f"{statistics.median(draw_ms):.0f} ms over {len(draw_ms)} pages")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
