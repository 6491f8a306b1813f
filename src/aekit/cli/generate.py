"""`aekit generate`: new samples from a trained VAE (and, for a 2-D latent, its latent map)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from aekit.cli import app, console



@app.command()
def generate(
    run: Annotated[Path, typer.Argument(help="A VAE run folder (aekit train --model vae, conv-vae or cvae).")],
    n: Annotated[int, typer.Option("-n", "--n", help="Number of samples.")] = 64,
    out: Annotated[Optional[Path], typer.Option("--out", help="PNG file for the sample grid (default: RUN/samples.png).")] = None,
    label: Annotated[Optional[str], typer.Option("--label", help="Conditional VAE only: draw samples of this class.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of z ~ N(0, I).")] = 0,
    data: Annotated[Optional[str], typer.Option("--data", help="Data for the latent scatter (default: the run's).")] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Folder holding mnist/ and fashion-mnist/.")] = None,
    scatter: Annotated[bool, typer.Option("--scatter/--no-scatter", help="2-D latent: also draw the test set's latent scatter.", metavar="")] = True,
) -> None:
    """Draw samples from a trained VAE into a PNG grid.

    Samples are the decoder's means (pixel probabilities) of z ~ N(0, I). With a 2-D latent
    space, also writes the latent map (the decoder over a grid of the prior's quantiles) and the
    test set's posterior means coloured by label, next to the grid.
    """
    from aekit.tasks.generate import generate as run_generate

    written = run_generate(run, n=n, out=out, label=label, seed=seed, data=data, data_dir=data_dir, scatter=scatter)
    for name, path in written.items():
        console.print(f"{name.replace('_', ' ')}: [bold]{path}[/bold]")
