"""`aekit export`: a run folder's forward path as an ONNX or TorchScript file."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from aekit.cli import app, console

PART_HELP = (
    "What to export. encoder: x → code (a VAE: posterior mean and log-variance); decoder: code → data "
    "(a VAE: generation from z); autoencoder: x → reconstruction; detector: x → anomaly score and 0/1 label "
    "(threshold inside); colorizer: scaled L → scaled ab. Default: detector for a detector run, colorizer for a "
    "colorizer, else encoder."
)


@app.command("export")
def export_command(
    run: Annotated[Path, typer.Argument(help="A run folder (aekit train, aekit detect fit, an estimator's save).")],
    out: Annotated[Path, typer.Option("--out", help="The file to write (.onnx, .pt); its metadata goes to FILE.json.")],
    format: Annotated[str, typer.Option("--format", help="onnx or torchscript.")] = "onnx",
    part: Annotated[Optional[str], typer.Option("--part", help=PART_HELP)] = None,
    opset: Annotated[Optional[int], typer.Option("--opset", help="ONNX opset (default 18; up to what your onnxruntime runs).")] = None,
) -> None:
    """Export a run's model to ONNX or TorchScript, with the preprocessing inside the graph.

    The file takes raw inputs and gives the numbers `aekit encode` and `aekit detect score` give
    (standardization, reshaping and the detector's threshold are in the graph); a dynamic batch
    axis; convolutional models for their trained image size. Before it is written, onnxruntime
    (or torch.jit.load) runs the file and must match aekit within 1e-4. FILE.json beside it
    documents the inputs and outputs (names, shapes, dtypes), the threshold, the kind, the aekit
    version, the weights' sha256 and the run's MODEL_CARD.md.
    """
    from aekit.estimators.export import metadata_path
    from aekit.tasks.export import export_run

    meta = export_run(run, out, format=format, part=part, opset=opset)
    console.print(f"wrote the {meta['kind']}'s {meta['part']} ({meta['file_format']}) to [bold]{out}[/bold]")
    console.print(f"  inputs: {shapes(meta['inputs'])}")
    console.print(f"  outputs: {shapes(meta['outputs'])}")
    if "threshold" in meta:
        console.print(f"  threshold: {meta['threshold']:.6g} ({meta['score']} score)")
    console.print(f"  metadata: [bold]{metadata_path(out)}[/bold]")


def shapes(specs: list[dict]) -> str:
    """Tensors as "name (float32, batch×784)"."""
    return ", ".join(f"{t['name']} ({t['dtype']}, {'×'.join(map(str, t['shape']))})" for t in specs)
