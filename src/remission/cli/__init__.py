"""Command line: ``remission <noun> <verb>``.

``main(argv)`` does the work and returns the exit code (0 ok, 1 data error, 2 usage error,
130 interrupted), so the CLI is testable in-process. Subcommands live in ``cmd_*.py`` modules
of this package, each with ``register(root, groups)``; they import heavy libraries inside the
command functions so that ``remission --help`` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main", "run"]


def main(argv: Sequence[str] | None = None) -> int:
    import typer

    # typer >= 0.29 vendors click as ``typer._click``; older typer uses click itself
    try:
        from typer._click import exceptions as cx
    except ImportError:  # pragma: no cover - typer < 0.29
        import click.exceptions as cx  # type: ignore[no-redef]

    from remission.cli._app import build_app
    from remission.errors import RemissionError

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
    command = build_app()
    try:
        rv = command.main(args=args, prog_name="remission", standalone_mode=False)
    except typer.Exit as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except cx.UsageError as exc:
        if debug:
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":
            print(exc.format_message(), file=sys.stderr)
            return 2
        hint = f"\nTry 'remission {exc.ctx.command_path.partition(' ')[2]} --help'.".replace("  ", " ") if exc.ctx else ""
        print(f"usage error: {exc.format_message()}{hint}", file=sys.stderr)
        return 2
    except typer.Abort:
        print("interrupted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except RemissionError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except cx.ClickException as exc:
        if debug:
            raise
        print(f"error: {exc.format_message()}", file=sys.stderr)
        return 2
    return int(rv) if isinstance(rv, int) else 0


def run() -> None:  # console-script entry point
    sys.exit(main())
