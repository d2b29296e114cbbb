"""``remission mrd flow``: flow-cytometric MRD of one or many FCS files (Dask for batches)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from remission.cli.common import JSON_OPTION, OUTPUT_OPTION, choice, emit, positive_numbers

#: B-lineage gating strategies of ``--auto`` (remission.mrd.flow.Strategy)
STRATEGIES = ("auto", "cd19", "cd19_independent")


def _files(items: list[Path]) -> list[Path]:
    from remission.errors import FcsFormatError

    out: list[Path] = []
    for p in items:
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() == ".fcs")
            if not found:
                raise FcsFormatError("folder holds no .fcs files", path=p)
            out.extend(found)
        elif not p.exists():
            raise FcsFormatError("does not exist", path=p)
        else:
            out.append(p)
    return out


def _one(path: str, kw: dict[str, Any]) -> dict[str, Any]:
    import warnings

    from remission.errors import LowSensitivityWarning
    from remission.steps.flow import analyse_file

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowSensitivityWarning)  # carried in the result's warnings
        res = analyse_file(path, **kw)
    d = res["result"].as_dict()
    d["file"] = Path(path).name
    if res["auto"] is not None:
        d["auto"] = res["auto"].as_dict()
    return d


def _human(rows: list[dict[str, Any]]) -> Any:
    def show(console: Any) -> None:
        from rich.table import Table

        from remission.cli.common import notice_line
        from remission.domain.mrd import format_mrd

        t = Table("file", "method", "MRD", "LoD", "LoQ", "leukemic / denominator", "F1", title="Flow MRD")
        for r in rows:
            t.add_row(r["file"], r["method"], format_mrd(r["status"], r["mrd"], r["lod"], r["loq"]),
                      f"{r['lod']:.1e}" if r["lod"] else "-", f"{r['loq']:.1e}" if r["loq"] else "-",
                      f"{r['events_leukemic']:,} / {r['events_denominator']:,} ({r['denominator']})",
                      f"{r['f1']:.3f}" if r.get("f1") is not None else "-")
        console.print(t)
        for r in rows:
            if r.get("strategy"):
                console.print(f"{r['file']}: strategy {r['strategy']}")
            for w in r["warnings"]:
                console.print(f"{r['file']}: {w}", style="yellow")
        console.print(f"{notice_line()}", style="dim")

    return show


def register(root: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    @groups["mrd"].command("flow")
    def flow(
        files: list[Path] = typer.Argument(..., help="FCS files or folders of FCS files."),
        gates: Path | None = typer.Option(None, "--gates", help="Gating-ML 2.0 file with the gates."),
        leukemic: str | None = typer.Option(None, "--leukemic", help="Gate id of the leukemic population."),
        denominator: str | None = typer.Option(None, "--denominator",
                                               help="Gate id of the evaluable nucleated cells."),
        auto: bool = typer.Option(False, "--auto", help="Automated different-from-normal detection."),
        reference: list[Path] = typer.Option([], "--reference",
                                             help="Normal reference FCS tube(s) for --auto (repeatable)."),
        strategy: str = typer.Option("auto", "--strategy", callback=lambda v: choice(v, STRATEGIES, "--strategy"),
                                     help="B-lineage gate for --auto: auto, cd19 or cd19_independent."),
        lod_events: int = typer.Option(20, "--lod-events", min=1, help="Events for the LoD (rule lod_events)."),
        loq_events: int = typer.Option(50, "--loq-events", min=1, help="Events for the LoQ (rule loq_events)."),
        sensitivity: float = typer.Option(1e-4, "--sensitivity", min=0.0, max=1.0, callback=positive_numbers,
                                          help="Sensitivity asked for (rule target_sensitivity)."),
        ignore_offset_error: bool = typer.Option(False, "--ignore-offset-error",
                                                 help="Read files whose DATA offset is off by one byte."),
        dataset: int | None = typer.Option(None, "--dataset", min=0, help="Data set index of multi-data-set files."),
        scheduler: str | None = typer.Option(None, "--scheduler",
                                             help="Dask scheduler address (default: local processes)."),
        workers: int | None = typer.Option(None, "--workers", min=1, help="Local worker processes."),
        json_out: bool = JSON_OPTION,
        output: Path | None = OUTPUT_OPTION,
    ) -> None:
        """Flow MRD = leukemic events / evaluable nucleated events, with LoD/LoQ and status.

        Either gate by Gating-ML (--gates --leukemic --denominator) or detect automatically
        (--auto, optionally with normal --reference tubes). Many files run in parallel (Dask).
        """
        from remission.errors import ValidationError

        paths = _files(files)
        if gates is None and not auto:
            raise ValidationError("--gates (with --leukemic and --denominator) or --auto must be given, "
                                  "but neither was")
        rules: dict[str, Any] = {}
        if lod_events != 20:
            rules["lod_events"] = lod_events
        if loq_events != 50:
            rules["loq_events"] = loq_events
        if sensitivity != 1e-4:
            rules["target_sensitivity"] = sensitivity
        read_options: dict[str, Any] = {"ignore_offset_error": ignore_offset_error}
        if dataset is not None:
            read_options["dataset"] = dataset
        kw = dict(gates=str(gates) if gates else None, leukemic_gate=leukemic, denominator_gate=denominator,
                  auto=auto, references=[str(r) for r in reference], strategy=strategy, rules=rules,
                  read_options=read_options)
        if len(paths) == 1 and scheduler is None:
            rows = [_one(str(paths[0]), kw)]
        else:
            rows = _batch([str(p) for p in paths], kw, scheduler, workers)
        result: Any = rows[0] if len(rows) == 1 else {"files": rows}
        params = {"gates": str(gates) if gates else None, "leukemic": leukemic, "denominator": denominator,
                  "auto": auto, "strategy": strategy, **rules}
        emit("flow_mrd", result, json_out=json_out, output=output,
             inputs=[*paths, *([gates] if gates else []), *reference], parameters=params, human=_human(rows))


def _batch(paths: list[str], kw: dict[str, Any], scheduler: str | None, workers: int | None) -> list[dict[str, Any]]:
    """Files in parallel on Dask (a local process cluster or ``scheduler``), with a progress bar."""
    from remission.app import run_batch
    from remission.cli.common import progress

    with progress("flow MRD") as bar:
        task = bar.add_task("flow MRD", total=len(paths))
        return run_batch(_one, [(p, kw) for p in paths], scheduler=scheduler, workers=workers,
                         progress=lambda: bar.update(task, advance=1))
