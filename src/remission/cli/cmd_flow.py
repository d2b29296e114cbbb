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
    from remission.steps.flow import analyze_file

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowSensitivityWarning)  # carried in the result's warnings
        res = analyze_file(path, **kw)
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
            if r.get("illustrative"):
                console.print(f"{r['file']}: ILLUSTRATIVE - {r['reference']}", markup=False)
            if r.get("reason"):
                console.print(f"{r['file']}: not evaluable: {r['reason']}", markup=False)
            if r.get("strategy"):
                console.print(f"{r['file']}: strategy {r['strategy']}", markup=False)
            for g in r.get("gates", []):
                console.print(f"{r['file']}: gate {g}", markup=False)
            for w in r["warnings"]:
                console.print(f"{r['file']}: {w}", style="yellow", markup=False)
        console.print(f"{notice_line()}", style="dim", markup=False)

    return show


def _flow_group() -> Any:
    from typer.core import TyperGroup

    class FlowGroup(TyperGroup):
        """``mrd flow FILES...`` analyses (the ``analyze`` command is the default);
        ``mrd flow reference build ...`` builds a normal reference model."""

        def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
            if not args or args[0] not in self.commands:
                args = ["analyze", *args]
            return super().parse_args(ctx, args)

    return FlowGroup


def register(root: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    flow_app = typer.Typer(cls=_flow_group(), add_completion=False, pretty_exceptions_enable=False,
                           rich_markup_mode=None,
                           help="Flow-cytometric MRD: analyze FCS tubes (default) or build a normal reference.")
    reference_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
                                no_args_is_help=True,
                                help="Normal reference models for automated (--auto) flow MRD.")
    flow_app.add_typer(reference_app, name="reference")
    groups["mrd"].add_typer(flow_app, name="flow")

    @flow_app.command("analyze")
    def flow(
        files: list[Path] = typer.Argument(..., help="FCS files or folders of FCS files."),
        gates: Path | None = typer.Option(None, "--gates", help="Gating-ML 2.0 file with the gates."),
        leukemic: str | None = typer.Option(None, "--leukemic", help="Gate id of the leukemic population."),
        denominator: str | None = typer.Option(None, "--denominator",
                                               help="Gate id of the evaluable nucleated cells."),
        auto: bool = typer.Option(False, "--auto", help="Automated different-from-normal detection "
                                                        "(needs --reference or --demo-reference)."),
        reference: Path | None = typer.Option(None, "--reference",
                                              help="Normal reference model for --auto (JSON from "
                                                   "'remission mrd flow reference build')."),
        demo_reference: bool = typer.Option(False, "--demo-reference",
                                            help="Use the synthetic demo reference for --auto: the result "
                                                 "says it is illustrative, not for clinical use."),
        validation: bool = typer.Option(False, "--validation",
                                        help="Validation mode: read the synthetic TRUTH channel and report "
                                             "F1/precision/recall (never for patient tubes)."),
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
        (--auto with a normal --reference model built by 'remission mrd flow reference build';
        --demo-reference gives an illustrative result only). Many files run in parallel (Dask).
        """
        from remission.errors import ValidationError

        if strategy not in ("auto", "cd19", "cd19_independent"):
            raise typer.BadParameter(f"must be auto, cd19 or cd19_independent, but was {strategy!r}",
                                     param_hint="--strategy")
        if reference is not None and demo_reference:
            raise typer.BadParameter("give --reference or --demo-reference, not both", param_hint="--demo-reference")
        paths = _files(files)
        if gates is None and not auto:
            raise ValidationError("--gates (with --leukemic and --denominator) or --auto must be given, "
                                  "but neither was")
        if auto and reference is None and not demo_reference:
            raise ValidationError("--auto needs a normal reference model: --reference ref.json (built with "
                                  "'remission mrd flow reference build NORMAL.fcs... -o ref.json'), or "
                                  "--demo-reference for an illustrative result")
        ref: Any = None
        if reference is not None:
            from remission.steps.flow import load_reference

            load_reference(reference)  # refuse a bad reference file before any work
            ref = str(reference)
        elif demo_reference:
            from remission.synth.flow import demo_reference as make_demo

            ref = make_demo
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
                  auto=auto, reference=ref, strategy=strategy, rules=rules, validation=validation,
                  read_options=read_options)
        if len(paths) == 1 and scheduler is None:
            rows = [_one(str(paths[0]), kw)]
        else:
            rows = _batch([str(p) for p in paths], kw, scheduler, workers)
        result: Any = rows[0] if len(rows) == 1 else {"files": rows}
        params = {"gates": str(gates) if gates else None, "leukemic": leukemic, "denominator": denominator,
                  "auto": auto, "strategy": strategy, "demo_reference": demo_reference, "validation": validation,
                  **rules}
        emit("flow_mrd", result, json_out=json_out, output=output,
             inputs=[*paths, *([gates] if gates else []), *([reference] if reference else [])],
             parameters=params, human=_human(rows))

    @reference_app.command("build")
    def build(
        files: list[Path] = typer.Argument(..., help="Normal/regenerating marrow FCS tubes (or folders)."),
        out: Path = typer.Option(..., "-o", "--output", help="Reference model file to write (JSON)."),
        json_out: bool = JSON_OPTION,
    ) -> None:
        """Build a versioned normal reference model (panel, instrument, transform, checksums) from
        normal or regenerating marrow tubes of one panel and instrument. Every tube is read and
        checked before anything is written: one corrupt tube fails the whole build."""
        import numpy as np

        from remission.io.checksums import sha256_file
        from remission.io.fcs import read_fcs
        from remission.io.flowref import write_flow_reference
        from remission.mrd.flow import build_reference

        paths = _files(files)
        tubes = [read_fcs(p, dtype=np.float32) for p in paths]
        model = build_reference(tubes, sources=[{"file": p.name, "sha256": sha256_file(p)} for p in paths])
        write_flow_reference(out, model.to_dict())
        summary = {"reference": str(out), "panel": list(model.panel), "instrument": model.instrument,
                   "tubes": [dict(t) for t in model.tubes], "n_events": model.n_events,
                   "strategies": {k: {"features": list(m.features), "events": m.events}
                                  for k, m in model.models.items()}}

        def show(console: Any) -> None:
            from remission.cli.common import notice_line

            console.print(f"wrote {out}: {len(model.tubes)} tube(s), {model.n_events:,} events, panel "
                          f"{', '.join(model.panel)}, instrument {model.instrument or 'unknown'}", markup=False)
            for k, m in model.models.items():
                console.print(f"  {k}: {m.events:,} normal B-lineage events, features {', '.join(m.features)}",
                              markup=False)
            console.print(notice_line(), markup=False)

        emit("flow_reference", summary, json_out=json_out, inputs=paths,
             parameters={"output": str(out)}, human=show)


def _batch(paths: list[str], kw: dict[str, Any], scheduler: str | None, workers: int | None) -> list[dict[str, Any]]:
    """Files in parallel on Dask (a local process cluster or ``scheduler``), with a progress bar."""
    from remission.app import run_batch
    from remission.cli.common import progress

    with progress("flow MRD") as bar:
        task = bar.add_task("flow MRD", total=len(paths))
        return run_batch(_one, [(p, kw) for p in paths], scheduler=scheduler, workers=workers,
                         progress=lambda: bar.update(task, advance=1))
