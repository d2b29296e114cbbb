"""Run one function over many inputs on Dask: the one batch runner of ``remission``.

Local by default (a process cluster sized to the work, or threads / synchronous for small jobs and
tests), a running cluster by scheduler address (``tcp://host:8786``). Results come back in input
order; ``progress`` is called once per finished task.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["LOCAL_SCHEDULERS", "run_batch"]

T = TypeVar("T")

#: scheduler names that run in this process (no cluster)
LOCAL_SCHEDULERS = ("threads", "synchronous")


def run_batch(
    fn: Callable[..., T],
    tasks: Sequence[tuple[Any, ...]],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Callable[[], None] | None = None,
) -> list[T]:
    """``[fn(*t) for t in tasks]``, computed on Dask.

    ``scheduler``: ``None`` (a local process cluster with ``workers`` processes, default one per
    core up to the number of tasks), ``"threads"`` or ``"synchronous"`` (in this process), or the
    address of a running ``distributed`` scheduler.
    """
    if not tasks:
        return []
    if scheduler in LOCAL_SCHEDULERS:
        import dask
        from dask.callbacks import Callback

        delayed = [dask.delayed(fn, pure=False)(*t) for t in tasks]
        keys = {d.key for d in delayed}

        class _Tick(Callback):
            def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, id: Any) -> None:
                if progress and key in keys:
                    progress()

        with _Tick():
            return list(dask.compute(*delayed, scheduler=scheduler))

    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        n = workers or min(len(tasks), os.cpu_count() or 1)
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        futures = [client.submit(fn, *t, pure=False) for t in tasks]
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(futures)
        for fut in as_completed(futures):
            results[index[fut.key]] = fut.result()
            if progress:
                progress()
        return results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
