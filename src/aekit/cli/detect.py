"""`aekit detect fit | score`: anomaly detection with an autoencoder."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from aekit.cli import app
from aekit.cli.core import DataDirOpt, DataOpt, _ints

console = Console()
detect_app = typer.Typer(rich_markup_mode="markdown", help="Anomaly detection: fit a detector on normal data, then score data with it.",
                         no_args_is_help=True)
app.add_typer(detect_app, name="detect")


@detect_app.command("fit")
def fit(
    data: DataOpt = "digits",
    out: Annotated[Path, typer.Option("--out", help="Run folder to write (the model + detector.json).")] = Path("runs/detector"),
    model: Annotated[str, typer.Option("--model", help="Preset: ae, dae, sae, conv-ae, conv-dae.")] = "ae",
    normal_label: Annotated[Optional[str], typer.Option(help="Train only on these labels (comma-separated); the rest count as anomalies when scoring.")] = None,
    score: Annotated[str, typer.Option(help="mse, max, ssim (images), elbo or loglik (VAE).")] = "mse",
    fpr: Annotated[float, typer.Option(help="Target false-positive rate of the threshold, set on the validation split.")] = 0.01,
    contamination: Annotated[Optional[float], typer.Option(help="PyOD-style threshold instead: expected anomaly share of the training data, in (0, 0.5].")] = None,
    hidden: Annotated[Optional[str], typer.Option(help="Encoder hidden sizes (default 64,32; conv: channels).")] = None,
    latent: Annotated[Optional[int], typer.Option(help="Code size (default 8).")] = None,
    epochs: Annotated[int, typer.Option(help="Maximum epochs.")] = 100,
    batch_size: Annotated[int, typer.Option(help="Mini-batch size.")] = 128,
    lr: Annotated[float, typer.Option(help="Learning rate.")] = 1e-3,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing run folder.")] = False,
    data_dir: DataDirOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Fit a detector on (normal) training data; the threshold comes from the validation split.

    With --normal-label, only those labels are used for training and calibration. The threshold is
    the (1 − fpr) quantile of the validation split's scores, unless --contamination is given.
    """
    from aekit.detectors import AutoEncoderDetector
    from aekit.errors import RunFolderError
    from aekit.estimators import AutoEncoder
    from aekit.runs import CONFIG
    from aekit.tasks.anomaly import normal_subset, parse_labels
    from aekit.tasks.train import data_record, load_splits, model_input_for

    if (out / CONFIG).exists() and not overwrite:
        raise RunFolderError(f"{out} already holds a trained run; choose another --out, or pass --overwrite")
    normal = parse_labels(normal_label)
    train, val, _ = load_splits(data, data_dir, seed)
    train, val = normal_subset(train, normal), normal_subset(val, normal)
    params = dict(hidden=_ints(hidden) if hidden else (64, 32), latent_dim=latent if latent else 8, epochs=epochs,
                  batch_size=batch_size, lr=lr, random_state=seed, verbose=0 if quiet else 1)
    if model.startswith("conv") and hidden is None:
        params.pop("hidden")
    if model.startswith("conv") and latent is None:
        params.pop("latent_dim")
    est = AutoEncoder.from_preset(model, **params)
    det = AutoEncoderDetector(est, score=score, fpr=fpr, contamination=contamination, random_state=seed)
    det.fit(model_input_for(train), X_calib=None if contamination is not None else model_input_for(val))
    record = data_record(data, data_dir, seed, train)
    record["normal_labels"] = normal
    run = det.save(out, data=record)
    console.print(f"trained on {len(train)} samples; threshold {det.threshold_:.4g} = {det.threshold_source_}")
    console.print(f"flagged {int(det.labels_.sum())} of {len(train)} training samples; detector: [bold]{run}[/bold]")


@detect_app.command("score")
def score(
    run: Annotated[Path, typer.Argument(help="A run folder written by `aekit detect fit`.")],
    data: Annotated[Optional[str], typer.Option("--data", help="Data source to score (default: the run's).")] = None,
    split: Annotated[str, typer.Option(help="train, val, test, train+val or all.")] = "test",
    normal_label: Annotated[Optional[str], typer.Option(help="Labels that count as normal (default: the ones the detector was fitted on); the rest are anomalies for ROC-AUC and PR-AUC.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Output folder (default RUN/scores).")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Score data with a detector: scores CSV, ROC-AUC / PR-AUC, histogram, most anomalous images.

    Writes scores.csv, metrics.json, score-histogram.png (threshold marked), roc.png when labels
    say which rows are anomalies, and most-anomalous.png for image data.
    """
    from aekit.data import load
    from aekit.detectors import AutoEncoderDetector
    from aekit.runs import read_json
    from aekit.tasks.anomaly import parse_labels, score_split

    det = AutoEncoderDetector.load(run)
    rec = read_json(run / "config.json").get("data", {})
    normal = parse_labels(normal_label) if normal_label is not None else rec.get("normal_labels")
    source = data or rec.get("source") or "digits"
    ds = load(source, split=split, data_dir=data_dir if data_dir is not None else rec.get("data_dir"),
              seed=rec.get("seed", 0))
    out = out or run / "scores"
    m = score_split(det, ds, out, normal)
    t = Table(title=f"anomaly scores on {ds.name} {split} ({len(ds)} samples)")
    t.add_column("")
    t.add_column("value", justify="right")
    t.add_row("threshold", f"{m['threshold']:.4g}")
    t.add_row("flagged", f"{m['flagged']} ({m['flagged'] / max(m['n'], 1):.1%})")
    for key, label in (("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"), ("tpr_at_threshold", "TPR at threshold"),
                       ("fpr_at_threshold", "FPR at threshold")):
        if key in m:
            t.add_row(label, f"{m[key]:.4f}")
    console.print(t)
    if normal is None:
        console.print("[dim]no --normal-label: ROC-AUC needs to know which labels are normal[/dim]")
    console.print(f"scores.csv, metrics.json and figures written to [bold]{out}[/bold]")
