"""Core sub-commands: train, evaluate, encode, report, demo; each dispatches on the run's kind (aekit.kinds)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.table import Table

from aekit.cli import app, console
from aekit.cli.options import estimator_options, given_params, with_estimator_options
from aekit.errors import ConfigError
from aekit.estimators.presets import PRESETS
from aekit.specs import non_negative_int, positive_int


DataOpt = Annotated[str, typer.Option("--data", help="digits, mnist, fashion-mnist, or a path (.npz/.npy/.csv/IDX/image folder).")]
DataDirOpt = Annotated[Optional[Path], typer.Option("--data-dir", help="Folder holding mnist/ and fashion-mnist/ IDX files (default: $AEKIT_DATA_DIR or ~/.cache/aekit).")]
MemoryBudgetOpt = Annotated[Optional[str], typer.Option("--memory-budget", help="Data whose float32 values are larger than this (bytes, or e.g. 2GiB) stays on disk and is read a batch at a time (.npy, shard folders, image folders); default: half the available memory, or $AEKIT_MEMORY_BUDGET.", metavar="SIZE")]
LimitOpt = Annotated[Optional[int], typer.Option("--limit", help="Use at most N samples (a seeded draw), for a quick run.", metavar="N")]


def print_tables(tables) -> None:
    """Report tables (aekit.report.html.Table) on the console."""
    for t in tables:
        rt = Table(title=t.title or None, caption=t.caption or None)
        for i, h in enumerate(t.headers):
            rt.add_column(h, justify="left" if i == 0 else "right")
        for row in t.rows:
            rt.add_row(*[f"{v:.5g}" if isinstance(v, float) else str(v) for v in row])
        console.print(rt)


ESTIMATOR_OPTIONS = estimator_options()
PRESET_HELP = "; ".join(f"{name} ({p.help})" for name, p in PRESETS.items())


@app.command()
@with_estimator_options(ESTIMATOR_OPTIONS)
def train(
    data: DataOpt = "digits",
    out: Annotated[Path, typer.Option("--out", help="Run folder to write (config, weights, history, report).")] = Path("runs/ae"),
    model: Annotated[str, typer.Option("--model", help=f"Preset: {PRESET_HELP}.")] = "ae",
    seed: Annotated[int, typer.Option(help="Seed for the data split, initialization, shuffling and noise.")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the run folder's last checkpoint.", metavar="")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing run folder.", metavar="")] = False,
    data_dir: DataDirOpt = None,
    label_column: Annotated[Optional[str], typer.Option(help="CSV: name of the label column.")] = None,
    train_size: Annotated[Optional[int], typer.Option("--train-size", help="Train on this many training samples (a seeded draw), for a quick run.", metavar="N")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.", metavar="")] = False,
    memory_budget: MemoryBudgetOpt = None,
    image_size: Annotated[Optional[int], typer.Option("--image-size", help="Image folders: decode lazily, the shorter side scaled to S pixels.", metavar="S", min=1)] = None,
    image_crop: Annotated[Optional[str], typer.Option("--image-crop", help="Image folders: 'center' cuts the central S×S square (with --image-size), for images of any aspect.", metavar="center")] = None,
    grey: Annotated[bool, typer.Option("--grey", help="Image folders: decode lazily, colour images turned grey.", metavar="")] = False,
    image_workers: Annotated[int, typer.Option("--image-workers", help="Image folders: processes that decode batches while the model trains (0: the training process).", metavar="N", min=0)] = 0,
    **options,
) -> None:
    """Train a model into a run folder, evaluated beside its baselines.

    Trains on the training split (the validation split drives early stopping), measures the test
    split beside PCA with the same code size (a VAE: also its likelihoods; a colorizer: PSNR
    beside the grey input), and writes config, weights, history, metrics and report.html. A
    checkpoint is written every epoch; Ctrl-C saves one and --resume continues. Options not given
    keep the preset's settings. A colorizer trains on colour photos (bundled, a folder), on
    cifar10 / cifar100, or on a folder of many images of one size (or any sizes with --image-size
    S --image-crop center), read lazily.
    """
    from aekit.data.limits import memory_budget_scope
    from aekit.kinds import kind_of_preset
    from aekit.tasks.train import train_run
    from aekit.train.distributed import is_writer

    if model not in PRESETS:
        raise ConfigError(f"unknown --model {model!r}; choose one of {', '.join(PRESETS)}")
    params = given_params(ESTIMATOR_OPTIONS, options, model)
    non_negative_int(seed, "--seed")
    kind = kind_of_preset(model)
    if kind.name == "colorizer" and data == "digits":  # the command's default data is grey
        console.print("[yellow]note:[/yellow] the digits are grey: training the colorizer on the colour photos "
                      "bundled with scikit-image, scikit-learn and matplotlib (--data bundled)")
        data = "bundled"
    if image_crop not in (None, "center"):
        raise ConfigError(f"--image-crop must be 'center', got {image_crop!r}")
    images = {k: v for k, v in (("size", image_size), ("crop", image_crop), ("grey", grey),
                                ("num_workers", image_workers)) if v}
    with memory_budget_scope(memory_budget):  # data over it is read from disk batch by batch
        est, metrics, run = train_run(out, data, preset=model, data_dir=data_dir, data_seed=seed,
                                      label_column=label_column, resume=resume, overwrite=overwrite,
                                      train_size=train_size, image_options=images or None, random_state=seed,
                                      verbose=0 if quiet else 1,
                                      progress=None if quiet else (lambda s: console.print(f"[dim]{s}[/dim]")),
                                      **params)
    if not is_writer():  # under torchrun, rank 0 reports
        return
    print_tables(kind.tables(metrics))
    console.print(f"trained {est.n_epochs_} epochs (best {est.best_epoch_}) in {metrics['train_seconds']:.1f} s; "
                  f"run folder: [bold]{run}[/bold]; report: [bold]{run / 'report.html'}[/bold]")




@app.command()
def evaluate(
    run: Annotated[Path, typer.Argument(help="A run folder (`aekit train`, `aekit detect fit`, or an estimator's save).")],
    data: Annotated[Optional[str], typer.Option("--data", help="Data source (default: the one the run was trained on).")] = None,
    data_dir: DataDirOpt = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the numbers to this JSON file.")] = None,
    k: Annotated[int, typer.Option("--k", help="VAE: importance samples per image for log p(x).")] = 1000,
    limit: Annotated[Optional[int], typer.Option("--limit", help="VAE: estimate log p(x) on the first N test samples only.")] = None,
    seed: Annotated[int, typer.Option(help="VAE: seed of the Monte-Carlo estimates (and of binarization).")] = 0,
) -> None:
    """Evaluate a run on its test data, beside the baselines of its kind.

    An autoencoder: test-split reconstruction error (MSE per value, SSE per sample) beside PCA
    with the same code size. A VAE: also the test ELBO and the k-sample importance-weighted
    log-likelihood, in nats per sample. A colorizer: PSNR of the colorized and the grey held-out
    photos. A detector: ROC-AUC, PR-AUC and the rates at its threshold.
    """
    from aekit.kinds import kind_of
    from aekit.runs import write_json

    kind = kind_of(run)
    with console.status(f"evaluating {run} on its test split beside its baselines…"):
        ev = kind.evaluate(kind.load(run), run, data, data_dir, k=k, limit=limit, seed=seed)
    print_tables(kind.tables(ev.metrics))
    if json_out:
        write_json(json_out, ev.metrics)


@app.command()
def encode(
    run: Annotated[Path, typer.Argument(help="A run folder with an encoder (an autoencoder or a VAE).")],
    data: Annotated[Optional[str], typer.Option("--data", help="Data source (default: the run's).")] = None,
    split: Annotated[str, typer.Option(help="train, val, test, train+val or all.")] = "test",
    out: Annotated[Path, typer.Option("--out", help="Where to write the codes (.npy, N × latent).")] = Path("codes.npy"),
    data_dir: DataDirOpt = None,
    device: Annotated[str, typer.Option(help="Torch device: auto, cpu, cuda, cuda:N, mps.")] = "cpu",
    memory_budget: MemoryBudgetOpt = None,
) -> None:
    """Write the encoder's codes of a data split to a .npy file (under torchrun: rank 0 does it);
    data over the memory budget is encoded in chunks from disk."""
    import io

    from aekit.data.limits import memory_budget_scope
    from aekit.kinds import labels_for, load_estimator, model_input, recorded_split, require_encoder
    from aekit.runs import atomic_write_bytes, check_output_file
    from aekit.train.distributed import is_writer

    if not is_writer():  # under torchrun, rank 0 encodes and writes the one output
        return
    check_output_file(out)
    est = require_encoder(load_estimator(run, device=device), "aekit encode")
    with memory_budget_scope(memory_budget):
        ds = recorded_split(run, split, data, data_dir)
        y = labels_for(est, ds)
        codes = est.transform(model_input(est, ds), *([] if y is None else [y]))
    buf = io.BytesIO()
    np.save(buf, codes)
    atomic_write_bytes(out, buf.getvalue())
    console.print(f"wrote {codes.shape[0]} codes of size {codes.shape[1]} to [bold]{out}[/bold]")


@app.command()
def report(
    run: Annotated[Path, typer.Argument(help="A run folder.")],
    data: Annotated[Optional[str], typer.Option("--data", help="Data source (default: the run's).")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """(Re)write a run's report.html: what fits its kind, beside its baselines.

    An autoencoder: loss curves, reconstructions beside PCA's, the latent scatter beside PCA's and
    the error table; a VAE: likelihoods, samples and latent maps; a colorizer: PSNR beside the grey
    input and the colorized photos; a detector: ROC, score histogram and threshold. Then the
    results of every task run on the folder (denoise, detect score, classify, index query).
    """
    from aekit.tasks.train import report_run

    with console.status(f"evaluating {run} beside its baselines, then writing the report…"):
        path, card = report_run(run, data, data_dir)
    console.print(f"report: [bold]{path}[/bold]; model card: [bold]{card}[/bold]")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the demo's run folders and report.")] = Path("runs/demo"),
    epochs: Annotated[str, typer.Option(help="Epochs per model: auto (the estimators' data-size rule) or a number.", metavar="INT|auto")] = "auto",
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    jobs: Annotated[Optional[int], typer.Option("--jobs", help="Processes that train models side by side, one thread each (default: one per CPU core).", min=1)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.", metavar="")] = False,
) -> None:
    """Train the autoencoder family on the digits; one report beside PCA.

    About two minutes on 2 CPU cores (the models train with the data-size defaults, one process per
    core), a short speech denoiser included; prints where the report is.
    """
    from aekit.tasks.demo import run_demo

    if epochs != "auto":
        epochs = positive_int(epochs, "--epochs")
    path, summary = run_demo(out, epochs=epochs, seed=seed, jobs=jobs, progress=not quiet, log=console.print)
    t = Table(title="demo: test reconstruction error (MSE per value) beside PCA")
    for col in ("model", "latent", "model", "PCA", "model ÷ PCA"):
        t.add_column(col, justify="right")
    for name, m in summary.items():
        t.add_row(name, str(m["latent_dim"]), f"{m['model']['mse_per_value']:.4f}", f"{m['pca']['mse_per_value']:.4f}",
                  "n/a" if m["model_vs_pca"] is None else f"{m['model_vs_pca']:.2f}")
    console.print(t)
    console.print(f"report: [bold]{path.resolve()}[/bold]")
