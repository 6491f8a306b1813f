"""The `aekit` command line: one thin subcommand per task; each only parses and calls."""
from __future__ import annotations

import signal
import sys
import warnings

import typer
import typer.core

from rich.console import Console

from aekit.errors import AekitError, AekitWarning

# Typer shows every flag's type; for the --help flag that is a bare "<bool>", which says nothing:
# show no type for it (the other flags set their own metavar).
_display_type_rich = typer.core.TyperOption.display_type_rich


def _help_without_type(self, ctx):
    return None if self.is_flag and self.name == "help" else _display_type_rich(self, ctx)


typer.core.TyperOption.display_type_rich = _help_without_type

# One console for every command: soft wrap, so that long paths are not broken at 80 columns when
# the output is not a terminal (a pipe, a log file).
console = Console(soft_wrap=True)

app = typer.Typer(
    rich_markup_mode="markdown",  # docstring paragraphs reflow instead of keeping hard line breaks
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
    from aekit.cli import tasks as _tasks  # noqa: F401
    from aekit.cli import detect as _detect  # noqa: F401
    from aekit.cli import search as _search  # noqa: F401
    from aekit.cli import generate as _generate  # noqa: F401
    from aekit.cli import classify as _classify  # noqa: F401
    from aekit.cli import export as _export  # noqa: F401
    from aekit.cli import compare as _compare  # noqa: F401
    from aekit.cli import serve as _serve  # noqa: F401


_TERMINATED: list[int] = []  # SIGTERM received (main reports it, with exit status 143)


def _interrupt(signum, frame) -> None:
    _TERMINATED.append(signum)
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """Console entry point: aekit errors are printed as one line, without a traceback."""
    from aekit.train.distributed import distributed_session

    _register()
    if argv is None:  # the process's own entry point (not a call from Python, whose host owns its signals):
        # SIGTERM (kill, timeout, docker stop) stops a command as Ctrl-C does: a training saves its
        # checkpoint, an --overwrite puts the earlier run back, temporary files are removed
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        with distributed_session(), warnings.catch_warnings():  # under torchrun: join its process group
            default_show = warnings.showwarning
            warnings.showwarning = lambda message, category, *rest, **kw: (  # aekit's own: one line, no source
                typer.secho(f"warning: {message}", err=True, fg="yellow") if issubclass(category, AekitWarning)
                else default_show(message, category, *rest, **kw))
            app(args=argv)
    except AekitError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        sys.exit(2)
    except (KeyboardInterrupt, SystemExit) as exc:  # Typer turns Ctrl-C into exit status 130, silently
        if isinstance(exc, SystemExit) and exc.code != 130:
            raise
        # outside training (which says where its checkpoint is, as an AekitError above)
        typer.secho(f"error: stopped by {'SIGTERM' if _TERMINATED else 'Ctrl-C'}", err=True, fg="red")
        sys.exit(143 if _TERMINATED else 130)
