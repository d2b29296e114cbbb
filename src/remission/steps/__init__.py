"""Pipeline steps: adapters that read a case's assay files and call one engine each.

Discovery is explicit: :data:`MODULES` lists the step modules, in the order used to break ties
between steps whose declared inputs allow either order. A new engine adds its module here.
"""

from __future__ import annotations

import importlib

from remission.steps._base import MRD, Step, StepContext, registry, step

__all__ = ["MODULES", "MRD", "Step", "StepContext", "all_steps", "step"]

#: the step modules (``remission.steps.<name>``)
MODULES: tuple[str, ...] = ("ngs", "flow", "pcr", "course", "cart", "clonal", "risk", "immune",
                            "state", "options", "sim_timeline")


def all_steps() -> list[Step]:
    """Every step, imported once, in :data:`MODULES` order (not yet resolved into a run order)."""
    for mod in MODULES:
        importlib.import_module(f"remission.steps.{mod}")
    rank = {f"remission.steps.{m}": i for i, m in enumerate(MODULES)}
    # module order, whatever order the modules happened to be imported in (steps defined
    # elsewhere, e.g. in tests, keep their registration order after them)
    return sorted(registry.values(), key=lambda st: rank.get(st.run.__module__, len(rank)))
