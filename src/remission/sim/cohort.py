"""Virtual cohorts: many patients under one strategy, in seeded chunks, locally or on Dask.

A cohort of ``n`` patients is cut into chunks of ``chunk_size``; chunk ``i`` draws everything
from ``SeedSequence(seed).spawn(n_chunks)[i]``, so the result for a seed is the same whether the
chunks run in this process or on any number of Dask workers (a ``LocalCluster`` by default, or a
scheduler address to scale out). The cohort is returned as a **cohort table**: one row per
patient with ``id, time, event, cause`` and covariates, the shape survival tools read.

Populations (inclusion criteria of the virtual trial, written down):

* ``morphological_relapse``: marrow blasts 5-95 % (log-uniform), as in CAR-T trials such as
  ELIANA that enrolled relapsed/refractory B-ALL with morphological disease;
* ``mrd_positive``: leukaemic fraction 1e-5 to 1e-2 (log-uniform), in morphological remission.

The event is the first of: no remission by day ``response_window_days`` (90, at that time), haematological relapse, death
without relapse (``death_after_hsct``: transplant-related; ``death_after_cart``: CAR-T toxicity);
otherwise censored at the horizon. Overall survival is in ``death`` (1 = died by the horizon,
from any cause, including death after relapse or refractory disease) and ``death_days`` (the day,
or the horizon when alive), the columns the cohort tables of ``remission cohort`` use. All
numbers are **model projections**; death after failure rests on the calibrated rules
``death_after_failure_median_days`` and ``salvaged_after_failure_fraction``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from remission.domain.parameters import Rule
from remission.errors import ValidationError
from remission.sim.model import VirtualPatients, simulate
from remission.sim.parameters import resolve_sim, value
from remission.sim.strategies import STRATEGIES

__all__ = ["COHORT_COLUMNS", "POPULATIONS", "cohort_digest", "run_cohort", "simulate_chunk", "summarise"]

Population = Literal["morphological_relapse", "mrd_positive"]
POPULATIONS: dict[str, tuple[float, float]] = {
    "morphological_relapse": (math.log10(0.05), math.log10(0.95)),
    "mrd_positive": (-5.0, -2.0),
}
COHORT_COLUMNS = ("id", "time", "event", "cause", "death", "death_days", "log10_burden0", "doubling_time_days", "cart_infused",
                  "hsct_done", "cart_cmax", "bca_loss_day", "arm")


def simulate_chunk(chunk: int, start: int, size: int, seed: int, n_chunks: int, strategy: str,
                   population: str, horizon_days: int,
                   overrides: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
    """One chunk of the cohort (pure; everything drawn from the chunk's own seed).

    Patients get ids ``start .. start + size - 1``.
    """
    if strategy not in STRATEGIES:
        raise ValidationError(f"strategy must be one of {', '.join(STRATEGIES)}, but was {strategy!r}")
    if population not in POPULATIONS:
        raise ValidationError(f"population must be one of {', '.join(POPULATIONS)}, but was {population!r}")
    r = resolve_sim(overrides)
    child = np.random.SeedSequence(seed).spawn(n_chunks)[chunk]
    rng_pat, rng_sched, rng_sim = (np.random.default_rng(c) for c in child.spawn(3))
    pts = VirtualPatients.sample(size, rng_pat, r, log10_burden0_range=POPULATIONS[population])
    sched = STRATEGIES[strategy].build(size, rng_sched, r)
    res = simulate(pts, sched, rng_sim, horizon_days=horizon_days, rules=r)
    rel = np.where(np.isnan(res.relapse_day), np.inf, res.relapse_day)
    death = np.where(np.isnan(res.death_day), np.inf, res.death_day)
    # no remission by day 90 is the event (at day 90) unless a death without relapse came first
    window = float(value(r, "response_window_days"))  # 90 d: ELIANA's "within 3 months"
    no_rem = ~(res.remission_day <= window) & ~(death < window)
    t_event = np.minimum(rel, death)
    time = np.where(no_rem, window, np.minimum(t_event, float(horizon_days)))
    event = no_rem | np.isfinite(t_event) & (t_event <= horizon_days)
    cause = np.full(size, "censored", dtype=object)
    is_rel = ~no_rem & (rel <= death) & np.isfinite(rel)
    cause[is_rel & res.relapse_cd19neg] = "relapse_cd19neg"
    cause[is_rel & ~res.relapse_cd19neg] = "relapse_cd19pos"
    nrm = ~no_rem & (death < rel) & np.isfinite(death)
    why = res.death_cause if res.death_cause is not None else np.full(size, "hsct_trm", dtype=object)
    cause[nrm & (why == "hsct_trm")] = "death_after_hsct"
    cause[nrm & (why == "cart_toxicity")] = "death_after_cart"
    cause[no_rem] = "no_remission"
    os_day = res.overall_death_day()
    died = os_day <= horizon_days
    return {
        "id": np.arange(start, start + size),
        "time": time,
        "event": event.astype(int),
        "cause": cause,
        "death": died.astype(int),
        "death_days": np.where(died, os_day, float(horizon_days)),
        "log10_burden0": np.log10(pts.burden0),
        "doubling_time_days": math.log(2.0) / pts.growth_per_day,
        "cart_infused": res.cart_given.astype(int),
        "hsct_done": res.hsct_given.astype(int),
        "cart_cmax": pts.stein["cmax"],
        "bca_loss_day": res.bca_loss_day,
        "arm": np.full(size, strategy, dtype=object),
    }


def _chunk_sizes(n_chunks: int, chunk_size: int, n: int) -> list[int]:
    sizes = [chunk_size] * n_chunks
    sizes[-1] = n - chunk_size * (n_chunks - 1)
    return sizes


def summarise(table: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Counts of events by cause plus the table digest (for comparing runs)."""
    causes, counts = np.unique(np.asarray(table["cause"], dtype=str), return_counts=True)
    return {"n": len(table["id"]), "events": int(np.sum(table["event"])), "deaths": int(np.sum(table["death"])),
            "causes": {str(c): int(k) for c, k in zip(causes, counts, strict=True)},
            "digest": cohort_digest(table)}


def cohort_digest(table: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over the outcome columns (time, event, cause, death, death_days), to show two runs are identical."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(table["time"], dtype=float).tobytes())
    h.update(np.ascontiguousarray(table["event"], dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(table["death"], dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(table["death_days"], dtype=float).tobytes())
    h.update("\n".join(np.asarray(table["cause"], dtype=str).tolist()).encode())
    return h.hexdigest()


def run_cohort(n: int, strategy: str, *, seed: int, population: Population = "morphological_relapse",
               horizon_days: int = 730, chunk_size: int = 100_000, scheduler: str | None = None,
               n_workers: int = 2, overrides: Mapping[str, Any] | None = None,
               summary_only: bool = False, rules: Mapping[str, Rule] | None = None) -> dict[str, Any]:
    """The cohort table (or per-chunk summaries with ``summary_only``), local or on Dask.

    ``scheduler``: None runs the chunks here, in order; ``"local"`` starts a Dask
    ``LocalCluster`` with ``n_workers`` single-threaded workers; any other value is a scheduler
    address (``tcp://host:8786``). The same seed gives the same table in every case.
    """
    if n < 1 or chunk_size < 1:
        raise ValidationError(f"n and chunk_size must be >= 1, but were {n!r}, {chunk_size!r}")
    if rules is not None and overrides is None:
        overrides = {k: v.value for k, v in rules.items() if v.tag == "user"}
    n_chunks = math.ceil(n / chunk_size)
    sizes = _chunk_sizes(n_chunks, chunk_size, n)
    args = [(i, i * chunk_size, sizes[i], seed, n_chunks, strategy, population, horizon_days, dict(overrides or {}))
            for i in range(n_chunks)]
    if scheduler is None:
        parts = [_run(a, summary_only) for a in args]
    else:
        parts = _run_dask(args, summary_only, scheduler, n_workers)
    if summary_only:
        return {"chunks": parts, "n": n, "n_chunks": n_chunks, "label": "model projection"}
    table = {k: np.concatenate([p[k] for p in parts]) for k in COHORT_COLUMNS}
    return {"table": table, "n": n, "n_chunks": n_chunks, "label": "model projection"}


def _run(a: tuple[Any, ...], summary_only: bool) -> Any:
    t = simulate_chunk(*a)
    return summarise(t) if summary_only else t


def _run_dask(args: list[tuple[Any, ...]], summary_only: bool, scheduler: str, n_workers: int) -> list[Any]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - dask is a dependency of the batch extra
        raise ValidationError("Dask is not installed: pip install 'dask[distributed]'") from exc
    if scheduler == "local":
        with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            futs = client.map(_run, args, [summary_only] * len(args), pure=False)
            return list(client.gather(futs))
    with Client(scheduler) as client:
        futs = client.map(_run, args, [summary_only] * len(args), pure=False)
        return list(client.gather(futs))
