"""The `aekit` command line: one thin subcommand per task; each only parses and calls."""
from __future__ import annotations

import sys

import typer

from aekit.errors import AekitError

app = typer.Typer(
    name="aekit",
    help="Autoencoders that work, always measured against PCA. Start with `aekit demo`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    # Sub-command modules register themselves on `app` when imported.
    from aekit.cli import data as _data  # noqa: F401
    from aekit.cli import core as _core  # noqa: F401


def main(argv: list[str] | None = None) -> None:
    """Console entry point: aekit errors are printed as one line, without a traceback."""
    _register()
    try:
        app(args=argv, standalone_mode=False)
    except AekitError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        sys.exit(2)
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True, fg="yellow")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise
