"""``store list | show ID | export ID``."""

from __future__ import annotations

from pathlib import Path

import typer

from remission.cli.common import DB_OPTION, JSON_OPTION, OUTPUT_OPTION, db_url, emit


def register(root: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    store = groups["store"]

    @store.command("list")
    def list_cmd(db: str | None = DB_OPTION, json_out: bool = JSON_OPTION,
                 output: Path | None = OUTPUT_OPTION) -> None:
        """List stored analyses (and say which store was read)."""
        import os

        import sqlalchemy as sa
        from rich.table import Table

        from remission.store import Store

        url = db_url(db)
        shown = sa.make_url(url).render_as_string(hide_password=True)
        with Store(url) as st:
            rows = [{**r.model_dump(mode="json"), "partial": r.partial} for r in st.list_analyses()]
        demo = Path("out/demo/remission.db")
        hint = None
        if not rows and db is None and not os.environ.get("REMISSION_DB") and demo.is_file():
            hint = (f"this store is empty; the demo store written by `make demo` is {demo}: "
                    f"remission store list --db sqlite:///{demo}")

        def human(con: object) -> None:
            from rich.table import Column

            # ids and dates are what users copy into `store show ID`: never truncate them
            from rich.text import Text

            t = Table(Column("id", no_wrap=True, min_width=16), Column("case", no_wrap=True),
                      Column("analysed at", no_wrap=True), "version", "sections")
            for r in rows:
                secs = ", ".join(n + (" (failed)" if n in r["failed_sections"] else "")
                                 for n in r["sections"])
                t.add_row(*(Text(x) for x in (str(r["analysis_id"]), r["case_id"], r["analysed_at"],
                                              r["remission_version"],
                                              ("PARTIAL: " if r["partial"] else "") + secs)))
            con.print(Text(f"store: {shown}"))  # type: ignore[attr-defined]
            con.print(t)  # type: ignore[attr-defined]
            if hint:
                con.print(Text(hint, style="yellow"))  # type: ignore[attr-defined]

        emit("store_list", {"store": shown, "analyses": rows, **({"hint": hint} if hint else {})},
             json_out=json_out, output=output, parameters={"db": shown}, human=human)

    @store.command("show")
    def show_cmd(analysis_id: str, db: str | None = DB_OPTION, json_out: bool = JSON_OPTION,
                 output: Path | None = OUTPUT_OPTION) -> None:
        """Show one stored analysis (summary, or the whole analysis with --json)."""
        from remission.store import Store

        with Store(db_url(db)) as st:
            a = st.get_analysis(analysis_id)
        from remission.cli.cmd_core import _summary

        emit("case_analysis", a.model_dump(mode="json", by_alias=True), json_out=json_out, output=output,
             parameters={"db": db_url(db)}, human=lambda con: _summary(con, a, None, None))

    @store.command("export")
    def export_cmd(analysis_id: str, db: str | None = DB_OPTION, output: Path | None = OUTPUT_OPTION) -> None:
        """Export one stored analysis as the JSON envelope (the audit trail)."""
        from remission.store import Store

        with Store(db_url(db)) as st:
            a = st.get_analysis(analysis_id)
        from remission.cli.cmd_core import _emit_analysis

        if output:
            import contextlib
            import io

            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                _emit_analysis(a, a.model_dump(mode="json", by_alias=True), dict(a.provenance.parameters))
            output.write_text(buf.getvalue(), encoding="utf-8")
        else:
            _emit_analysis(a, a.model_dump(mode="json", by_alias=True), dict(a.provenance.parameters))
