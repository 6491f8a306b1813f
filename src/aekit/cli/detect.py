"""`aekit detect fit | score`: anomaly detection with an autoencoder."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from aekit.cli import app, console
from aekit.cli.core import ESTIMATOR_OPTIONS, DataDirOpt, DataOpt, MemoryBudgetOpt, print_tables
from aekit.cli.options import given_params, with_estimator_options
from aekit.errors import ConfigError
from aekit.estimators.presets import PRESETS
from aekit.specs import non_negative_int, positive_int

detect_app = typer.Typer(rich_markup_mode="markdown", help="Anomaly detection: fit a detector on normal data, then score data with it.",
                         no_args_is_help=True)
app.add_typer(detect_app, name="detect")


@detect_app.command("fit")
@with_estimator_options(ESTIMATOR_OPTIONS)
def fit(
    data: DataOpt = "digits",
    out: Annotated[Path, typer.Option("--out", help="Run folder to write (the model + detector.json).")] = Path("runs/detector"),
    model: Annotated[str, typer.Option("--model", help="Preset of the model inside: an autoencoder or a VAE preset (ae: for images a 64-32 network with an 8-value code; for a table file the robust table default: 64-32, a code of ⌈√D⌉, winsorized training rows, 1,000 updates; with --window a 128-64 network on the flattened windows, a code of ⌈√(channels·window)⌉ (≤ 16), 2,000 updates; --hidden/--latent etc. override).")] = "ae",
    normal_label: Annotated[Optional[str], typer.Option(help="Train only on these labels (comma-separated); the rest count as anomalies when scoring.")] = None,
    score: Annotated[str, typer.Option(help="auto (the default: mse+code for the table default model, --model ae on a table file; mse for images, time series and other models), mse, max, mse+code (tables: the error plus the row's distance along the learned manifold), ssim (images), elbo or loglik (VAE).")] = "auto",
    fpr: Annotated[float, typer.Option(help="Target false-positive rate of the threshold, set on the validation split.")] = 0.01,
    contamination: Annotated[Optional[float], typer.Option(help="PyOD-style threshold instead: expected anomaly share of the training data, in (0, 0.5].")] = None,
    n_estimators: Annotated[str, typer.Option("--n-estimators", help="Networks in the detector: auto (5 for the table default model, cross-fitted: each trains on 4/5 of the rows and the threshold comes from every row's score by the network that did not see it; 1 otherwise) or a number (1: one network and a held-out calibration part).", metavar="auto|K")] = "auto",
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing run folder.", metavar="")] = False,
    data_dir: DataDirOpt = None,
    train_size: Annotated[Optional[int], typer.Option("--train-size", help="Train on this many training samples (a seeded draw, before --normal-label), for a quick run.", metavar="N")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.", metavar="")] = False,
    label_column: Annotated[Optional[str], typer.Option(help="Tables and time series: the label (or id) column, left out of the model; 0 = normal when scoring.")] = None,
    ignore_columns: Annotated[Optional[str], typer.Option(help="Tables: more columns to leave out (comma-separated names).")] = None,
    datetime: Annotated[str, typer.Option(help="Tables: date/time columns are refused (refuse) or expanded into numbers (expand).")] = "refuse",
    errors: Annotated[str, typer.Option(help="Tables: a cell that does not parse (text in a numeric column) is an error naming its row and column (raise), or missing (coerce).")] = "raise",
    window: Annotated[Optional[int], typer.Option(help="Time series: the file is one series in time order (a column per channel); the model's samples are windows of this many steps, and every step gets a score.", metavar="W")] = None,
    hop: Annotated[Optional[int], typer.Option(help="Time series: steps between windows (default a quarter window).", metavar="H")] = None,
    time_column: Annotated[Optional[str], typer.Option(help="Time series: the time column (numbers or ISO 8601 date-times; must increase).")] = None,
    gaps: Annotated[str, typer.Option(help="Time series: a gap in the time column is an error (error), filled with masked steps (mask) or ignored (ignore).")] = "error",
    test_fraction: Annotated[float, typer.Option(help="Time series: the last share of the rows kept out of training, for the report's metrics.")] = 0.2,
    memory_budget: MemoryBudgetOpt = None,
    **options,
) -> None:
    """Fit a detector on (normal) training data; the threshold comes from the validation split.

    With --normal-label, only those labels are used for training and calibration. The threshold is
    the (1 − fpr) quantile of the validation split's scores, unless --contamination is given.
    Options not given keep the preset's settings.

    A .csv or .parquet file is read as a table with pandas: numeric columns standardized,
    categorical and boolean ones one-hot, missing cells imputed and left out of the loss; the
    column encoding is stored in the run folder as table_encoder.json. 80 % of the rows train
    (a seeded split; the detector holds out its calibration rows from them), 20 % are the test part.

    With --window, the file is one time series in time order (a column per channel, --time-column
    checked for order and gaps, --label-column a 0/1 column left out): windows of W steps are the
    model's samples and every step gets a score. The first 1 − --test-fraction of the rows train
    (the detector holds out their last 20 % to set the threshold); the rest is the test part.

    Data over --memory-budget stays on disk and is read a block of rows at a time (the same
    network, threshold and scores as in memory, up to float rounding where the model standardizes
    its inputs or the budget is too small for blocks of 2,048 rows), except with --score mse+code, which needs the
    training rows in memory: then one line says the sizes (--train-size takes a part of a file).
    """
    from aekit.data.limits import memory_budget_scope
    from aekit.estimators import AutoEncoderDetector, detector_model
    from aekit.kinds import load_splits
    from aekit.runs import DataRecord, RunRecord
    from aekit.tasks.anomaly import normal_subset, parse_labels
    from aekit.train.tracking import resolve_loggers, tracking_run

    from aekit.train.distributed import rank_and_world

    if rank_and_world()[1] > 1:  # every rank would write the folder: refused rather than racing for its lock
        raise ConfigError("aekit detect fit does not run under torchrun yet: run it as one process "
                          "(torchrun works for aekit train, encode and detect score)")
    if model not in PRESETS:
        raise ConfigError(f"unknown --model {model!r}; choose one of {', '.join(PRESETS)}")
    params = given_params(ESTIMATOR_OPTIONS, options, model)
    loggers = resolve_loggers(params.pop("logger", None))  # one session: the model's epochs, then the threshold
    if loggers:
        params["logger"] = loggers
    non_negative_int(seed, "--seed")
    members = n_estimators
    if members != "auto":
        try:
            members = positive_int(members, "--n-estimators")
        except ConfigError:
            raise ConfigError(f"--n-estimators must be 'auto' or a positive integer, got {n_estimators!r}") from None
    from aekit.tasks.table_anomaly import fit_table_detector, is_table_file, table_encoder_options

    table = is_table_file(data)
    if window is not None:
        if not table:
            raise ConfigError(f"--window reads a time series from a .csv or .parquet file, not {data!r}")
        if normal_label is not None or ignore_columns is not None:
            raise ConfigError("--normal-label and --ignore-columns are not for time series: give --label-column "
                              "for a 0/1 label column (kept out of the channels and of training)")
        from aekit.tasks.series_anomaly import fit_series_detector

        est = detector_model(model, series=True, random_state=seed, verbose=0 if quiet else 1, **params)
        det = AutoEncoderDetector(est, score=score, fpr=fpr, contamination=contamination, random_state=seed,
                                  window=window, hop=hop, time_column=time_column, label_column=label_column,
                                  gaps=gaps, n_estimators=members)
        det, run, n = fit_series_detector(det, data, out, seed=seed, test_fraction=test_fraction, overwrite=overwrite)
        layout = det.series_
        console.print(f"trained on the first {n} rows: {len(layout.channels)} channels, windows of {layout.window} "
                      f"steps every {layout.hop}; threshold {det.threshold_:.4g} = {det.threshold_source_}")
        console.print(f"detector: [bold]{run}[/bold]")
        return
    if hop is not None or time_column is not None:
        raise ConfigError("--hop and --time-column are for time series: give --window too")
    est = detector_model(model, table=table, random_state=seed, verbose=0 if quiet else 1, **params)
    est.check_params()
    if table:
        encoder = table_encoder_options(label_column, ignore_columns, datetime, errors)
        det = AutoEncoderDetector(est, score=score, fpr=fpr, contamination=contamination, random_state=seed,
                                  n_estimators=members)
        det, run, n = fit_table_detector(det, data, out, encoder=encoder, seed=seed, normal=parse_labels(normal_label),
                                         overwrite=overwrite)
        console.print(f"trained on {n} rows × {len(det.table_encoder_.encoded_columns_)} columns "
                      f"({det.table_encoder_.n_features_out_} encoded values); threshold {det.threshold_:.4g} = "
                      f"{det.threshold_source_}")
        console.print(f"detector: [bold]{run}[/bold] (column encoding in table_encoder.json)")
        return
    if label_column is not None or ignore_columns is not None:
        raise ConfigError("--label-column and --ignore-columns are for table files (.csv, .parquet)")
    record = RunRecord(out)
    record.check_writable(overwrite=overwrite)
    normal = parse_labels(normal_label)
    det = AutoEncoderDetector(est, score=score, fpr=fpr, contamination=contamination, random_state=seed,
                              n_estimators=members)
    # data over the budget stays on disk and is read a block at a time; what the detector cannot read
    # so (its "mse+code" score) is refused with the sizes before the run folder is touched
    with memory_budget_scope(memory_budget):
        train, val, _ = load_splits(data, data_dir, seed, train_size=train_size)
        train, val = normal_subset(train, normal), normal_subset(val, normal)
        det.check_fit_data(train.X)
        with record.lock(), record.replacing(overwrite):  # a fit that fails puts the earlier run back
            with tracking_run(loggers, record.path) as tracking:
                det.fit(train.X, X_calib=None if contamination is not None else val.X)  # a contamination: no calibration
                run = det.save(out, data=DataRecord.of(data, data_dir, seed, train, normal_labels=normal).to_dict())
                tracking.log_summary({"threshold": det.threshold_, "train_flagged_fraction": float(det.labels_.mean())})
    console.print(f"trained on {len(train)} samples; threshold {det.threshold_:.4g} = {det.threshold_source_}")
    console.print(f"flagged {int(det.labels_.sum())} of {len(train)} training samples; detector: [bold]{run}[/bold]")


@detect_app.command("score")
def score(
    run: Annotated[Path, typer.Argument(help="A run folder written by `aekit detect fit`.")],
    data: Annotated[Optional[str], typer.Option("--data", help="Data source to score (default: the run's).")] = None,
    split: Annotated[str, typer.Option(help="train, val, test, train+val or all.")] = "test",
    normal_label: Annotated[Optional[str], typer.Option(help="Labels that count as normal (default: the ones the detector was fitted on); the rest are anomalies for ROC-AUC and PR-AUC.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Output folder (default RUN/scores); for a table detector a .csv or .parquet file (default RUN/scores.parquet); for a time-series detector a .csv or .parquet file of per-step scores (default RUN/scores.csv).")] = None,
    data_dir: DataDirOpt = None,
    top: Annotated[int, typer.Option(help="Tables: columns named per row (the largest shares of its score).")] = 3,
    chunk_rows: Annotated[int, typer.Option(help="Tables: rows read and scored at a time (memory does not grow with the file).")] = 50_000,
    errors: Annotated[Optional[str], typer.Option(help="Tables: a cell that does not parse is an error (raise) or missing (coerce); default: as fitted.")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Images: score at most N samples of the split (a seeded draw), for a quick run.", metavar="N")] = None,
    device: Annotated[str, typer.Option(help="Torch device: auto, cpu, cuda, cuda:N, mps.")] = "cpu",
    memory_budget: MemoryBudgetOpt = None,
) -> None:
    """Score data with a detector: scores CSV, ROC-AUC / PR-AUC, histogram, most anomalous images.

    Writes scores.csv, metrics.json, score-histogram.png (threshold marked), roc.png when labels
    say which rows are anomalies, and most-anomalous.png for image data.

    A detector fitted on a table streams a .csv or .parquet file (--data; default the training
    file) in chunks and writes, per row, its score, the 0/1 label and its top columns to --out.
    Other data over --memory-budget stays on disk and is scored a block of rows at a time (the
    scores, metrics and figures are those of the data in memory); the baselines beside it are fitted
    on the training rows when those fit the budget (otherwise a warning says so).
    """
    from aekit.data.limits import memory_budget_scope
    from aekit.estimators import AutoEncoderDetector
    from aekit.kinds import baseline_training_split, limit_rows, recorded_split
    from aekit.report.detector import detector_tables
    from aekit.runs import RunRecord
    from aekit.tasks.anomaly import parse_labels, score_split
    from aekit.tasks.table_anomaly import score_table_file
    from aekit.train.distributed import is_writer

    if not is_writer():  # under torchrun, rank 0 scores and writes the one output
        return
    det = AutoEncoderDetector.load(run, device=device)
    if getattr(det, "series_", None) is not None:  # a time series: a score per step
        from aekit.tasks.series_anomaly import score_series_file

        source = data if data is not None else RunRecord(run).data_record().resolved_source()
        m = score_series_file(det, source, out or run / "scores.csv")
        console.print(f"scored {m['steps']} steps; flagged {m['flagged']} ({m['flagged'] / max(m['steps'], 1):.1%}) "
                      f"in {m['flagged_ranges']} span(s) above {det.threshold_:.4g}")
        if "roc_auc" in m:
            console.print(f"per-step ROC-AUC {m['roc_auc']:.4f}; range precision {m['range_precision']:.4f}, "
                          f"range recall {m['range_recall']:.4f} (α = {m['range_alpha']:g})")
        console.print(f"scores written to [bold]{m['out']}[/bold]")
        return
    if det.table_encoder_ is not None:
        rec = RunRecord(run).data_record()
        source = data if data is not None else rec.resolved_source()
        normal = parse_labels(normal_label) if normal_label is not None else rec.extra.get("normal_labels")
        m = score_table_file(det, source, out or run / "scores.parquet", top=top, chunksize=chunk_rows, errors=errors,
                             normal=normal)
        for notice in m["notices"]:
            typer.secho(f"note: {notice}", err=True, fg="yellow")
        console.print(f"scored {m['rows']} rows in {m['chunks']} chunk(s), {m['rows_per_second']:.0f} rows/s; "
                      f"flagged {m['flagged']} ({m['flagged'] / max(m['rows'], 1):.1%}) above {det.threshold_:.4g}")
        if "roc_auc" in m.get("metrics", {}):
            console.print(f"ROC-AUC {m['metrics']['roc_auc']:.4f}, PR-AUC {m['metrics']['pr_auc']:.4f} "
                          f"(label column {det.table_encoder_.label_column!r}: anomalies are the labels not normal)")
        console.print(f"scores written to [bold]{m['out']}[/bold]")
        return
    rec = RunRecord(run).data_record()
    normal = parse_labels(normal_label) if normal_label is not None else rec.extra.get("normal_labels")
    out = out or run / "scores"
    with memory_budget_scope(memory_budget):  # a split over the budget is scored a block at a time
        ds = limit_rows(recorded_split(run, split, data, data_dir), limit,
                        notice=lambda s: console.print(f"[yellow]note:[/yellow] {s}"))
        train = baseline_training_split(run, data_dir) if split != "train" and normal is not None else None
        m = score_split(det, ds, out, normal, train=train)
    RunRecord(run).record_task("detect score", out)
    print_tables(detector_tables(m))
    if normal is None:
        console.print("[dim]no --normal-label: ROC-AUC needs to know which labels are normal[/dim]")
    console.print(f"scores.csv, metrics.json and figures written to [bold]{out}[/bold]")


@detect_app.command("explain")
def explain(
    run: Annotated[Path, typer.Argument(help="A run folder written by `aekit detect fit` on a table.")],
    data: Annotated[str, typer.Option("--data", help="A .csv or .parquet file with the training columns (matched by name).")],
    out: Annotated[Path, typer.Option("--out", help="A .csv or .parquet file to write.")] = Path("explain.csv"),
    top: Annotated[int, typer.Option(help="Columns per row, the largest shares first.")] = 5,
    chunk_rows: Annotated[int, typer.Option(help="Rows read at a time.")] = 50_000,
) -> None:
    """Explain each row's anomaly score: the columns that made it, with their shares.

    Writes one line per row and rank: row, rank, column, share (of the row's score; a row's
    shares over all its columns sum to 1) and unseen (a category never seen in training).
    """
    from aekit.estimators import AutoEncoderDetector
    from aekit.tasks.table_anomaly import explain_table_file

    det = AutoEncoderDetector.load(run)
    m = explain_table_file(det, data, out, top=top, chunksize=chunk_rows)
    for notice in m["notices"]:
        typer.secho(f"note: {notice}", err=True, fg="yellow")
    console.print(f"explained {m['rows']} rows ({m['lines']} lines) → [bold]{m['out']}[/bold]")
