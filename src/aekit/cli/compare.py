"""`aekit compare`: several run folders side by side."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from aekit.cli import app, console
from aekit.cli.core import print_tables


@app.command()
def compare(
    runs: Annotated[list[Path], typer.Argument(help="Two or more run folders.")],
    out: Annotated[Optional[Path], typer.Option("--out", help="Also write the comparison as one HTML page (e.g. compare.html).")] = None,
    allow_different_data: Annotated[bool, typer.Option("--allow-different-data", help="Compare runs trained on different data (they are marked †).", metavar="")] = False,
) -> None:
    """Show run folders side by side: kind, model, data, code size, parameters, epochs, time,
    test error beside PCA and the results of tasks run on them.

    Runs must share their data (source, file hash, split seed, training-size draw) unless
    --allow-different-data. With --out, also one HTML page with the table and every run's loss
    curves on one plot.
    """
    from aekit.report.compare import compare_table
    from aekit.runs import check_output_file
    from aekit.tasks.compare import compare as compare_runs

    if out is not None:
        check_output_file(out)
    entries, page = compare_runs(runs, out, allow_different_data)
    print_tables([compare_table(entries)])
    if page is not None:
        console.print(f"page: [bold]{page}[/bold]")
