"""Assemble the typer application from the ``cmd_*`` modules of this package."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import typer

ROOT_HELP = (
    "remission: MRD, clonal architecture, CAR-T monitoring and evidence-linked options for "
    "relapsed childhood ALL. Decision support for professionals; not a medical device."
)

#: command groups that several modules add to: name -> help
GROUPS = {
    "mrd": "Minimal residual disease: NGS, flow, RQ-PCR, course across methods, method comparison.",
    "cart": "CAR-T and immunotherapy monitoring: toxicity grading, cellular kinetics.",
    "store": "The analysis store (SQLite by default, PostgreSQL by URL).",
    "cohort": "Cohort survival analytics: Kaplan-Meier, competing risks, Cox, Fine-Gray, landmarks.",
    "sim": "Virtual patients (model projections): fit, strategy comparison, timeline, cohorts.",
}


def build_app() -> Any:
    """Return the click command for the whole CLI."""
    import remission.cli as pkg

    root = typer.Typer(
        help=ROOT_HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    groups: dict[str, typer.Typer] = {}
    for name, help_text in GROUPS.items():
        g = typer.Typer(help=help_text, no_args_is_help=True, add_completion=False,
                        pretty_exceptions_enable=False, rich_markup_mode=None)
        groups[name] = g

    @root.callback()
    def _root(
        debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    ) -> None:
        """remission command line."""

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("cmd_"):
            mod = importlib.import_module(f"remission.cli.{info.name}")
            mod.register(root, groups)
    for name, g in groups.items():
        root.add_typer(g, name=name)
    return typer.main.get_command(root)
