"""`aekit detect fit | score`: anomaly detection with an autoencoder."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from aekit.cli import app, console
from aekit.cli.core import ESTIMATOR_OPTIONS, DataDirOpt, DataOpt, print_tables
from aekit.cli.options import given_params, with_estimator_options
from aekit.errors import ConfigError
from aekit.estimators.presets import PRESETS
from aekit.specs import non_negative_int

detect_app = typer.Typer(rich_markup_mode="markdown", help="Anomaly detection: fit a detector on normal data, then score data with it.",
                         no_args_is_help=True)
app.add_typer(detect_app, name="detect")


@detect_app.command("fit")
@with_estimator_options(ESTIMATOR_OPTIONS)
def fit(
    data: DataOpt = "digits",
    out: Annotated[Path, typer.Option("--out", help="Run folder to write (the model + detector.json).")] = Path("runs/detector"),
    model: Annotated[str, typer.Option("--model", help="Preset of the model inside: an autoencoder or a VAE preset (ae: a 64-32 network with an 8-value code unless --hidden/--latent say otherwise).")] = "ae",
    normal_label: Annotated[Optional[str], typer.Option(help="Train only on these labels (comma-separated); the rest count as anomalies when scoring.")] = None,
    score: Annotated[str, typer.Option(help="mse, max, ssim (images), elbo or loglik (VAE).")] = "mse",
    fpr: Annotated[float, typer.Option(help="Target false-positive rate of the threshold, set on the validation split.")] = 0.01,
    contamination: Annotated[Optional[float], typer.Option(help="PyOD-style threshold instead: expected anomaly share of the training data, in (0, 0.5].")] = None,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing run folder.", metavar="")] = False,
    data_dir: DataDirOpt = None,
    train_size: Annotated[Optional[int], typer.Option("--train-size", help="Train on this many training samples (a seeded draw, before --normal-label), for a quick run.", metavar="N")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.", metavar="")] = False,
    **options,
) -> None:
    """Fit a detector on (normal) training data; the threshold comes from the validation split.

    With --normal-label, only those labels are used for training and calibration. The threshold is
    the (1 − fpr) quantile of the validation split's scores, unless --contamination is given.
    Options not given keep the preset's settings.
    """
    from aekit.estimators import AutoEncoderDetector, detector_model
    from aekit.kinds import load_splits
    from aekit.runs import DataRecord, RunRecord
    from aekit.tasks.anomaly import normal_subset, parse_labels

    if model not in PRESETS:
        raise ConfigError(f"unknown --model {model!r}; choose one of {', '.join(PRESETS)}")
    params = given_params(ESTIMATOR_OPTIONS, options, model)
    non_negative_int(seed, "--seed")
    est = detector_model(model, random_state=seed, verbose=0 if quiet else 1, **params)
    est.check_params()
    record = RunRecord(out)
    record.check_writable(overwrite=overwrite)
    normal = parse_labels(normal_label)
    train, val, _ = load_splits(data, data_dir, seed, train_size=train_size)
    train, val = normal_subset(train, normal), normal_subset(val, normal)
    det = AutoEncoderDetector(est, score=score, fpr=fpr, contamination=contamination, random_state=seed)
    with record.lock():
        if overwrite:
            record.clear()
        det.fit(train.X, X_calib=None if contamination is not None else val.X)
        run = det.save(out, data=DataRecord.of(data, data_dir, seed, train, normal_labels=normal).to_dict())
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
    from aekit.estimators import AutoEncoderDetector
    from aekit.kinds import recorded_split
    from aekit.report.detector import detector_tables
    from aekit.runs import RunRecord
    from aekit.tasks.anomaly import parse_labels, score_split

    det = AutoEncoderDetector.load(run)
    rec = RunRecord(run).data_record()
    normal = parse_labels(normal_label) if normal_label is not None else rec.extra.get("normal_labels")
    ds = recorded_split(run, split, data, data_dir)
    out = out or run / "scores"
    m = score_split(det, ds, out, normal)
    print_tables(detector_tables(m))
    if normal is None:
        console.print("[dim]no --normal-label: ROC-AUC needs to know which labels are normal[/dim]")
    console.print(f"scores.csv, metrics.json and figures written to [bold]{out}[/bold]")
