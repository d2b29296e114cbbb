"""``analyze``, ``demo``, ``report`` and ``schema``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from remission.cli.common import DB_OPTION, JSON_OPTION, OUTPUT_OPTION, db_url, emit


def _parse_params(items: list[str] | None) -> dict[str, Any]:
    """``--param STEP.NAME=VALUE`` → ``{"STEP": {"NAME": value}}``; an unknown step or a malformed
    item is a usage error (exit 2). Parameter names are checked by each step's rules (an unknown
    name is refused there, never ignored)."""
    from remission.cli.common import parse_step_overrides

    if not items:
        return {}
    from remission.pipeline import registered_steps

    return parse_step_overrides(items, {st.name: None for st in registered_steps()})


def _summary(console: Any, analysis: Any, report: Path | None, saved: Any) -> None:
    """The human summary of one analysis. User text (ids, file names, messages) is printed as
    plain text: never interpreted as rich markup."""
    from rich.table import Table
    from rich.text import Text

    from remission.domain import NOT_A_MEDICAL_DEVICE
    from remission.report.sections.state import summary_lines

    head = Text(analysis.case_id, style="bold")
    head.append("  sections: " + ", ".join(s.title + (" (error)" if s.error else "")
                                         for s in analysis.sections), style="")
    console.print(head)
    if analysis.partial:
        console.print(Text("PARTIAL ANALYSIS: at least one engine failed on its data (see warnings)",
                           style="bold red"))
    for line in summary_lines(analysis):
        console.print(line, markup=False, highlight=False)
    if analysis.mrd:
        t = Table("date", "method", "sample", "MRD", "LoD", "LoQ", title="MRD")
        for m in analysis.mrd:
            t.add_row(*(Text(x) for x in (str(m.date), m.method, m.sample_id or m.source, m.display(),
                                          f"{m.lod:.1e}" if m.lod else "-",
                                          f"{m.loq:.1e}" if m.loq else "-")))
        console.print(t)
    for w in analysis.warnings:
        console.print(Text("warning: ", style="yellow") + Text(w.splitlines()[0][:300]))
    if report:
        console.print(Text(f"report: {report}"))
    if saved is not None:
        console.print(Text(f"store: analysis {saved.analysis_id} "
                           f"({'new' if saved.created else 'already stored'})"))
    console.print(Text(NOT_A_MEDICAL_DEVICE, style="dim"))


def analyze_one(case: Path, out_dir: Path | None, db: str | None, store: bool,
                params: dict[str, Any], *, show_progress: bool = True,
                allow_partial: bool = False) -> Any:
    """Analyse one case file with a progress bar (shared by ``analyze`` and ``demo``)."""
    from remission.cli.common import single_threaded_blas

    single_threaded_blas()
    from remission.app import run_case
    from remission.cli.common import progress
    from remission.pipeline import registered_steps

    n = len(registered_steps())
    with progress(f"analysing {case.name}") as bar:
        task = bar.add_task(f"analysing {case}", total=n)

        def tick(title: str) -> None:
            bar.update(task, advance=1, description=title)

        return run_case(case, parameters=params, report_dir=out_dir,
                        db_url=db_url(db) if store else None, allow_partial=allow_partial,
                        progress=tick if show_progress else None)


def register(root: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    @root.command("analyze")
    def analyze_cmd(
        case: Path = typer.Argument(..., help="Case file (YAML or JSON)."),
        db: str | None = DB_OPTION,
        output: Path | None = typer.Option(None, "-o", "--output", help="Folder for report.html (default out/<case id>)."),
        json_out: bool = JSON_OPTION,
        no_store: bool = typer.Option(False, "--no-store", help="Do not save the analysis in the store."),
        param: list[str] | None = typer.Option(None, "--param", help="Override a parameter: STEP.NAME=VALUE (repeatable)."),
        allow_partial: bool = typer.Option(
            False, "--allow-partial",
            help="Keep (report and store) an analysis in which an engine failed on its data; "
                 "it is marked partial everywhere it is shown. Without it such a run exits 1 "
                 "and saves nothing."),
    ) -> None:
        """Analyse one case: every engine that has data; report + store."""
        from remission.app import safe_name
        from remission.io.casefile import load_case

        params = _parse_params(param)
        c = load_case(case)  # fail fast with a one-line error before any work
        if not no_store:
            from remission.cli.common import check_db_url

            check_db_url(db)  # a bad --db is found before any work
        out_dir = output or Path("out") / safe_name(c.id)
        run = analyze_one(case, out_dir, db, not no_store, params, allow_partial=allow_partial)
        analysis, report, saved = run.analysis, run.report, run.saved
        if json_out:
            result = analysis.model_dump(mode="json", by_alias=True)
            if report:
                result["report"] = str(report)
            if saved is not None:
                result["store"] = {"analysis_id": saved.analysis_id, "created": saved.created}
            _emit_analysis(analysis, result, params)
        else:
            from rich.console import Console

            _summary(Console(highlight=False), analysis, report, saved)

    @root.command("demo")
    def demo_cmd(
        output: Path = typer.Option(Path("out/demo"), "-o", "--output", help="Folder for the reports and the store."),
        examples: Path = typer.Option(Path("examples"), "--examples", help="Where the example cases are written."),
        json_out: bool = JSON_OPTION,
    ) -> None:
        """Write the bundled synthetic example cases, analyse each, write reports and a SQLite store."""
        from rich.console import Console

        from remission.synth.examples import write_examples

        console = Console(stderr=True, markup=False, highlight=False)
        cases = write_examples(examples)
        db = f"sqlite:///{(output / 'remission.db').as_posix()}"
        output.mkdir(parents=True, exist_ok=True)
        results = []
        for case_path in cases:
            run = analyze_one(case_path, output / case_path.parent.name, db, True, {})
            analysis, report, saved = run.analysis, run.report, run.saved
            console.print(f"{case_path.parent.name}: {report}", markup=False, highlight=False)
            results.append({"case": str(case_path), "case_id": analysis.case_id, "report": str(report),
                            "sections": [s.name for s in analysis.sections],
                            "errors": [s.name for s in analysis.sections if s.error],
                            "analysis_id": saved.analysis_id if saved else None})
        emit("demo", {"cases": results, "store": db}, json_out=json_out,
             human=lambda con: con.print(f"{len(results)} example cases analysed; store {db}"))

    @root.command("report")
    def report_cmd(
        analysis_id: str = typer.Argument(..., help="Analysis id in the store (see `remission store list`)."),
        output: Path = typer.Option(Path("report.html"), "-o", "--output", help="HTML file to write."),
        db: str | None = DB_OPTION,
        json_out: bool = JSON_OPTION,
    ) -> None:
        """Render a stored analysis as a self-contained HTML report."""
        from remission.report import write_report
        from remission.store import Store

        with Store(db_url(db)) as st:
            analysis = st.get_analysis(analysis_id)
        path = write_report(analysis, output)
        if json_out:
            emit("report", {"analysis_id": analysis_id, "case_id": analysis.case_id, "report": str(path)},
                 json_out=True, parameters={"db": db_url(db)})
        else:
            typer.echo(str(path))

    @root.command("schema")
    def schema_cmd(
        kind: str = typer.Argument("case", help="case | analysis | state | options"),
        output: Path | None = OUTPUT_OPTION,
    ) -> None:
        """Print the JSON Schema of the case file (or of a case analysis, the disease state or
        the therapy options)."""
        import json

        from pydantic import BaseModel

        from remission.domain import Case, CaseAnalysis
        from remission.domain.results import OptionsResult
        from remission.domain.state import DiseaseState

        models: dict[str, type[BaseModel]] = {"case": Case, "analysis": CaseAnalysis,
                                              "state": DiseaseState, "options": OptionsResult}
        if kind not in models:  # a wrong argument is a usage error (exit 2), not a data error
            raise typer.BadParameter(f"kind must be one of {', '.join(models)}, but was {kind!r}",
                                     param_hint="KIND")
        text = json.dumps(models[kind].model_json_schema(by_alias=True), indent=2) + "\n"
        if output:
            output.write_text(text, encoding="utf-8")
        else:
            typer.echo(text, nl=False)


def _emit_analysis(analysis: Any, result: dict[str, Any], params: dict[str, Any]) -> None:
    """The envelope of ``analyze --json``: inputs are the case's files with their checksums."""
    import sys

    from remission.cli.common import to_json
    from remission.domain.envelope import envelope

    env = envelope("case_analysis", result, inputs=analysis.provenance.inputs, parameters=params,
                   knowledge_base_version=analysis.provenance.knowledge_base_version)
    sys.stdout.write(to_json(env) + "\n")
