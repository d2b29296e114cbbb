"""``remission mrd ngs index`` and ``remission mrd ngs track``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from remission.cli.common import (
    JSON_OPTION,
    OUTPUT_OPTION,
    emit,
    parse_rule_overrides,
    positive_numbers,
    styled,
)
from remission.errors import excerpt


def _parse_params(items: list[str] | None) -> dict[str, Any]:
    from remission.mrd.ngs import NGS_RULES

    return parse_rule_overrides(items, known=NGS_RULES)


def _spikes(spec: str | None) -> list[Any]:
    """``--spike-in``: a TSV/CSV file with columns name, copies, junction; or inline
    ``COPIES:JUNCTION[,COPIES:JUNCTION...]``."""
    import math
    import re

    from remission.io.spikes import read_spike_ins
    from remission.mrd.ngs import SpikeIn

    if not spec:
        return []
    p = Path(spec)
    if p.exists():
        return [SpikeIn(name=r.name, copies=r.copies, junction=r.junction)
                for r in read_spike_ins(p)]
    out = []
    for i, part in enumerate(spec.split(",")):
        copies, sep, seq = part.partition(":")
        seq = seq.strip().upper()
        try:
            n = float(copies)
        except ValueError:
            n = math.nan
        if not sep or not re.fullmatch(r"[ACGTN]+", seq) or not (math.isfinite(n) and n > 0):
            raise typer.BadParameter(
                f"must be an existing file or COPIES:JUNCTION[,...] with copies > 0 and a "
                f"nucleotide junction, but was {excerpt(spec)}", param_hint="--spike-in")
        out.append(SpikeIn(name=f"spike{i + 1}", copies=n, junction=seq))
    return out


def _check_fastq_paths(paths: list[Path], option: str) -> None:
    """FASTQ options name FASTQ files: a folder is a data error, another suffix a usage error
    (the sample would otherwise be read by the suffix's format, e.g. as an AIRR table)."""
    from remission.errors import FastqFormatError
    from remission.steps.ngs import is_fastq

    for p in paths:
        if p.is_dir():
            raise FastqFormatError("is a directory; expected a FASTQ file (plain or gzip)", path=p)
        if not is_fastq(p):
            raise typer.BadParameter(f"must name a .fastq/.fq file (optionally .gz), but was "
                                     f"{excerpt(str(p))}", param_hint=option)


def _human_index(res: dict[str, Any]) -> Any:
    def show(console: Any) -> None:
        from rich.table import Table

        if not res["markers"]:
            console.print(styled(("no marker", "yellow"), ": no clonotype passes the index criteria"))
            return
        t = Table("marker", "target", "V", "J", "junction", "reads", "fraction", title="Index clonotypes")
        for m in res["markers"]:
            t.add_row(m["marker"], m["target"], m["v_call"] or "-", m["j_call"], m["junction"],
                      str(m["reads"]), f"{m['diagnosis_fraction'] * 100:.1f} %")
        console.print(t)
    return show


def _human_track(results: list[dict[str, Any]]) -> Any:
    def show(console: Any) -> None:
        from rich.table import Table

        from remission.domain import NOT_A_MEDICAL_DEVICE
        from remission.domain.mrd import format_mrd

        for r in results:
            title = r.get("follow_up", "")
            if r["status"] == "no_marker":
                console.print(styled(f"{title}: ", ("no marker", "yellow"), " (the diagnosis has no index clonotype)"))
                continue
            if r.get("quantity") == "read_fraction":
                console.print(styled((title, "bold"), f"  read fraction {r['read_fraction']:.2e} of the target's "
                                     f"reads ({r['total_reads']} reads): no DNA input or spike-in, ",
                                     ("not an MRD value", "yellow")))
            else:
                console.print(styled((title, "bold"), f"  NGS-MRD: {format_mrd(r['status'], r['mrd'], r['lod'], r['loq'])}"
                                     f"  (LoD {r['lod']:.1e}, LoQ {r['loq']:.1e}, {r['cell_equivalents']:.3g} cells, "
                                     f"{r['total_reads']} reads, {r['quantification']}, "
                                     f"{r.get('reads_per_cell_model')})"))
            for e in r.get("emerging_clones", [])[:10]:
                console.print(styled((e["alert"], "yellow")))
            t = Table("marker", "locus", "junction", "reads", "exact", "relatives", "MRD")
            for m in r["markers"]:
                shown = (f"{m['status'].replace('_', ' ')} ({(m['read_fraction'] or 0):.2e} of reads)"
                         if m["mrd"] is None and m["status"] in ("detected", "not_detected")
                         else format_mrd(m["status"], m["mrd"], m["lod"], m["loq"]))
                t.add_row(m["marker"], m["locus"], m["junction"], str(m["reads"]), str(m["reads_exact"]),
                          str(m["relatives_reads"]), shown)
            console.print(t)
        console.print(f"{NOT_A_MEDICAL_DEVICE}", style="dim")
    return show


def _track_task(index: Any, paths: list[str], dna_ng: float | None, cells: float | None,
                spikes: list[Any], params: dict[str, Any]) -> dict[str, Any]:
    from remission.steps.ngs import track_sample

    res = track_sample(index, [Path(p) for p in paths], dna_ng=dna_ng, cell_equivalents=cells,
                       spikes=spikes, parameters=params)
    return {"follow_up": paths[0], **res.as_dict()}


def _per_sample(values: list[float] | None, n: int, name: str) -> list[float | None]:
    from remission.errors import ValidationError

    if not values:
        return [None] * n
    if len(values) == 1:
        return [values[0]] * n
    if len(values) != n:
        raise ValidationError(f"{name} must be given once or once per follow-up sample ({n}), "
                              f"but was given {len(values)} times")
    return [float(v) for v in values]


def _run_many(tasks: list[tuple[Any, ...]], scheduler: str | None) -> list[dict[str, Any]]:
    """Tracking tasks on Dask (local threads by default; a cluster by address)."""
    from remission.app import run_batch
    from remission.cli.common import progress

    with progress("tracking follow-up samples") as bar:
        task = bar.add_task("tracking follow-up samples", total=len(tasks))
        return run_batch(_track_task, tasks, scheduler=scheduler or "threads",
                         progress=lambda: bar.update(task, advance=1))


def register(root: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    ngs = typer.Typer(help="NGS-MRD (IG/TR rearrangement sequencing): index clonotypes, track, quantify.",
                      no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                      rich_markup_mode=None)
    groups["mrd"].add_typer(ngs, name="ngs")

    @ngs.command("index")
    def index_cmd(
        diagnosis: Path = typer.Argument(..., help="Diagnosis AIRR Rearrangement TSV (MiXCR, IgBLAST/Change-O, Vidjil export)."),
        param: list[str] | None = typer.Option(None, "--param", help="Override a rule: NAME=VALUE (e.g. index_min_fraction=0.03)."),
        json_out: bool = JSON_OPTION,
        output: Path | None = OUTPUT_OPTION,
    ) -> None:
        """Index clonotypes at diagnosis (>= 5 % of their locus/target by default)."""
        from remission.domain.parameters import rests_on, rule_values
        from remission.io.airr import iter_airr_chunks
        from remission.mrd.ngs import index_clonotypes

        params = _parse_params(param)
        idx = index_clonotypes(iter_airr_chunks(diagnosis), params)
        res = {**idx.as_dict(), "rests_on": rests_on(idx.rules.values())}
        emit("ngs_index", res, json_out=json_out, output=output, inputs=[diagnosis],
             parameters=rule_values(idx.rules), human=_human_index(res))

    @ngs.command("track")
    def track_cmd(
        diagnosis: Path = typer.Option(..., "--diagnosis", help="Diagnosis AIRR TSV (index clonotypes)."),
        follow_up: list[Path] | None = typer.Option(None, "--follow-up", help="Follow-up AIRR TSV (repeatable)."),
        follow_up_fastq: list[Path] | None = typer.Option(None, "--follow-up-fastq", help="Follow-up FASTQ, plain or gzip (repeatable)."),
        mate2: list[Path] | None = typer.Option(None, "--mate2", help="R2 FASTQ of each --follow-up-fastq (repeatable, same order)."),
        dna_ng: list[float] | None = typer.Option(None, "--dna-ng", callback=positive_numbers, help="DNA input in ng (cells = ng x 1000 / 6.5 pg); once for all follow-ups or once each (order: --follow-up files, then --follow-up-fastq)."),
        cell_equivalents: list[float] | None = typer.Option(None, "--cell-equivalents", callback=positive_numbers, help="Cells analysed; once for all follow-ups or once each (same order as --dna-ng)."),
        spike_in: str | None = typer.Option(None, "--spike-in", help="Spike-in calibrators: TSV/CSV file (name, copies, junction) or COPIES:JUNCTION,..."),
        scheduler: str | None = typer.Option(None, "--scheduler", help="Dask scheduler address (default: local threads)."),
        param: list[str] | None = typer.Option(None, "--param", help="Override a rule: NAME=VALUE."),
        json_out: bool = JSON_OPTION,
        output: Path | None = OUTPUT_OPTION,
    ) -> None:
        """Track the index clonotypes in follow-up samples and quantify MRD (LoD, LoQ, status)."""
        from remission.domain.parameters import rests_on, rule_values
        from remission.errors import ValidationError
        from remission.io.airr import iter_airr_chunks
        from remission.mrd.ngs import index_clonotypes

        fus = [[str(p)] for p in follow_up or []]
        fq = list(follow_up_fastq or [])
        m2 = list(mate2 or [])
        _check_fastq_paths(fq, "--follow-up-fastq")
        _check_fastq_paths(m2, "--mate2")
        if m2 and len(m2) != len(fq):
            raise ValidationError(f"--mate2 must be given once per --follow-up-fastq ({len(fq)}), "
                                  f"but was given {len(m2)} times")
        fus += [[str(p)] + ([str(m2[i])] if m2 else []) for i, p in enumerate(fq)]
        if not fus:
            raise ValidationError("a follow-up sample must be given (--follow-up or --follow-up-fastq), but none was")
        spikes = _spikes(spike_in)
        if dna_ng and cell_equivalents:
            raise ValidationError("give either --dna-ng or --cell-equivalents, not both")
        params = _parse_params(param)
        inputs = [diagnosis] + [Path(p) for paths in fus for p in paths]
        from remission.io.checksums import Checksums

        sums = Checksums()
        if json_out:  # provenance checksums of big FASTQ files: computed while the scan runs
            sums.prefetch(inputs)
        idx = index_clonotypes(iter_airr_chunks(diagnosis), params)
        dnas = _per_sample(dna_ng, len(fus), "--dna-ng")
        cells = _per_sample(cell_equivalents, len(fus), "--cell-equivalents")
        tasks = [(idx, paths, dnas[i], cells[i], spikes, params) for i, paths in enumerate(fus)]
        if len(tasks) == 1 and not scheduler:
            results = [_track_task(*tasks[0])]
        else:
            results = _run_many(tasks, scheduler)
        rules = idx.rules
        for r in results:
            r.pop("rests_on", None)
        result: dict[str, Any] = dict(results[0]) if len(results) == 1 else {"samples": results}
        result["index"] = idx.as_dict()["markers"]
        result["rests_on"] = rests_on(rules.values())
        with sums:
            collected = sums.collect(inputs) if json_out else inputs
        emit("ngs_track", result, json_out=json_out, output=output, inputs=collected,
             parameters={**rule_values(rules), "dna_ng": dna_ng, "cell_equivalents": cell_equivalents,
                         "spike_in": spike_in}, human=_human_track(results))
