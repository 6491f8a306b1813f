"""Core sub-commands: train, evaluate, encode, report, demo."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from aekit.cli import app
from aekit.errors import ConfigError

console = Console()

DataOpt = Annotated[str, typer.Option("--data", help="digits, mnist, fashion-mnist, or a path (.npz/.npy/.csv/IDX/image folder).")]
DataDirOpt = Annotated[Optional[Path], typer.Option("--data-dir", help="Folder holding mnist/ and fashion-mnist/ IDX files (default: $AEKIT_DATA_DIR or ~/.cache/aekit).")]


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.replace(" ", "").split(",") if t)
    except ValueError:
        raise ConfigError(f"--hidden must be comma-separated integers, like 1000,500,250 (got {text!r})") from None


def _errors_table(metrics: dict) -> Table:
    t = Table(title=f"test reconstruction error on {metrics['data']} ({metrics['n_test']} samples)")
    for col in ("", "MSE per value", "SSE per sample"):
        t.add_column(col, justify="right")
    t.add_row("autoencoder", f"{metrics['model']['mse_per_value']:.5f}", f"{metrics['model']['sse_per_sample']:.3f}")
    t.add_row(f"PCA-{metrics['pca']['n_components']}", f"{metrics['pca']['mse_per_value']:.5f}", f"{metrics['pca']['sse_per_sample']:.3f}")
    return t


def _vae_table(m: dict) -> Table:
    t = Table(title=f"VAE test likelihoods on {m['data']} (nats per sample, {m['likelihood']} decoder)")
    t.add_column("")
    t.add_column("nats", justify="right")
    t.add_row(f"ELBO ({m['n_test']} samples)", f"{m['elbo']:.3f}")
    t.add_row(f"ELBO (first {m['n_ll']})", f"{m['elbo_subset']:.3f}")
    t.add_row(f"log p(x), importance-weighted, k={m['k']} (first {m['n_ll']})",
              f"{m['log_likelihood']:.3f} ± {m['log_likelihood_sem']:.3f}")
    if m.get("note"):
        t.caption = m["note"]
    return t


@app.command()
def train(
    data: DataOpt = "digits",
    out: Annotated[Path, typer.Option("--out", help="Run folder to write (config, weights, history, report).")] = Path("runs/ae"),
    model: Annotated[str, typer.Option("--model", help="Preset: ae, dae (gaussian noise 0.5), sae (kl:0.05:3 sparsity), stacked (stacked denoising AE: greedy layer-wise pretraining, masking 25 %), dbn (stacked-RBM pretraining, Hinton & Salakhutdinov 2006), conv-ae, conv-dae (the seeds' Keras denoiser), vae, conv-vae, cvae (conditional VAE), colorizer (L → ab on colour photos: --data bundled (the default for it: photos shipped with scikit-image, scikit-learn and matplotlib), skimage, or a folder).")] = "ae",
    hidden: Annotated[Optional[str], typer.Option(help="Encoder hidden sizes (conv: channels per block); the decoder mirrors them. Default: 256,64 (conv: 32,32).")] = None,
    latent: Annotated[Optional[int], typer.Option(help="Size of the code. Default 8; conv presets default to no dense bottleneck.")] = None,
    epochs: Annotated[int, typer.Option(help="Maximum epochs (early stopping may end sooner).")] = 100,
    batch_size: Annotated[int, typer.Option(help="Mini-batch size.")] = 128,
    lr: Annotated[float, typer.Option(help="Learning rate.")] = 1e-3,
    optimizer: Annotated[str, typer.Option(help="adam, adamw, sgd, rmsprop, adadelta, adagrad.")] = "adam",
    lr_schedule: Annotated[Optional[str], typer.Option(help="cosine, step:EVERY:GAMMA, exponential:GAMMA, plateau.")] = None,
    grad_clip: Annotated[Optional[float], typer.Option(help="Clip the global gradient norm to this value.")] = None,
    weight_decay: Annotated[float, typer.Option(help="L2 weight decay.")] = 0.0,
    activation: Annotated[Optional[str], typer.Option(help="Hidden activation: relu, sigmoid, tanh, elu, gelu, ... Default relu (stacked, dbn: sigmoid).")] = None,
    loss: Annotated[str, typer.Option(help="auto (mse), mse, bce (data in [0,1]), ssim (images).")] = "auto",
    tied: Annotated[bool, typer.Option("--tied/--untied", help="Share transposed encoder weights in the decoder.")] = False,
    noise: Annotated[Optional[str], typer.Option(help="Denoising: gaussian:σ, masking:ν, salt-pepper:ν.")] = None,
    sparsity: Annotated[Optional[str], typer.Option(help="Sparse code: kl:ρ:β or l1:λ.")] = None,
    pretrain: Annotated[Optional[str], typer.Option(help="Layer-wise pretraining before fine-tuning: greedy (stacked autoencoders; with --noise masking:0.25 a stacked denoising AE) or rbm (stacked RBMs, needs --activation sigmoid), or none.")] = None,
    pretrain_epochs: Annotated[Optional[int], typer.Option(help="Pretraining epochs per layer (default 10).")] = None,
    pretrain_lr: Annotated[Optional[float], typer.Option(help="Pretraining learning rate (default: --lr for greedy, 0.1/0.001 for RBMs).")] = None,
    cd_k: Annotated[Optional[int], typer.Option(help="RBM: Gibbs steps per contrastive-divergence update (CD-k).")] = None,
    persistent_cd: Annotated[bool, typer.Option("--persistent-cd", help="RBM: persistent contrastive divergence.")] = False,
    likelihood: Annotated[Optional[str], typer.Option(help="VAE: bernoulli, gaussian or auto (bernoulli for data in [0, 1]).")] = None,
    beta: Annotated[Optional[float], typer.Option(help="VAE: weight of the KL term (1 = the ELBO).")] = None,
    warmup_epochs: Annotated[Optional[int], typer.Option(help="VAE: KL warm-up, β ramps linearly from 0 over this many epochs.")] = None,
    free_bits: Annotated[Optional[float], typer.Option(help="VAE: free bits, nats per latent dimension (Kingma et al. 2016).")] = None,
    binarize: Annotated[Optional[str], typer.Option(help="VAE: dynamic (each batch Bernoulli-sampled afresh) or static (once, seeded).")] = None,
    patience: Annotated[int, typer.Option(help="Early stopping: epochs without validation improvement.")] = 10,
    early_stopping: Annotated[bool, typer.Option("--early-stopping/--no-early-stopping")] = True,
    seed: Annotated[int, typer.Option(help="Seed for initialization, shuffling and noise.")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the run folder's last checkpoint.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing run folder.")] = False,
    data_dir: DataDirOpt = None,
    label_column: Annotated[Optional[str], typer.Option(help="CSV: name of the label column.")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda, ...")] = "cpu",
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Train a model into a run folder, evaluated beside PCA.

    Trains on the training split (the validation split drives early stopping), measures the test
    split beside PCA with the same latent size, and writes config, weights, history, metrics and
    report.html. A checkpoint is written every epoch; Ctrl-C saves one and --resume continues.
    """
    from aekit.tasks.train import train_run

    if model == "colorizer":  # L → ab colour prediction on photos: aekit.tasks.colorize
        from aekit.cli.search import train_colorizer

        train_colorizer(out, data, hidden=_ints(hidden) if hidden else None, epochs=epochs, batch_size=batch_size,
                        lr=lr, patience=patience, early_stopping=early_stopping, seed=seed, device=device,
                        quiet=quiet, resume=resume, overwrite=overwrite)
        return
    params = dict(
        epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
        lr_schedule=lr_schedule, grad_clip=grad_clip, weight_decay=weight_decay, loss=loss,
        tied=tied, patience=patience, early_stopping=early_stopping, random_state=seed, device=device,
        verbose=0 if quiet else 1,
    )
    if hidden is not None:
        params["hidden"] = _ints(hidden)
    if latent is not None:
        params["latent_dim"] = latent
    if noise is not None:
        params["noise"] = noise
    if activation is not None:
        params["activation"] = activation
    pre_opts = {"pretrain": pretrain, "pretrain_epochs": pretrain_epochs, "pretrain_lr": pretrain_lr, "cd_k": cd_k,
                "persistent_cd": persistent_cd or None}
    for name, value in pre_opts.items():
        if value is not None:
            if model in ("vae", "conv-vae", "cvae"):
                raise ConfigError(f"--{name.replace('_', '-')} is for deterministic MLP autoencoders, not --model {model}")
            if name == "pretrain":
                value = None if value.lower() == "none" else value.lower()
            params[name] = value
    if sparsity is not None:
        params["sparsity"] = sparsity
    vae_opts = {"likelihood": likelihood, "beta": beta, "warmup_epochs": warmup_epochs, "free_bits": free_bits,
                "binarize": binarize}
    from aekit.estimators import VAE_PRESETS

    for name, value in vae_opts.items():
        if value is not None:
            if model not in VAE_PRESETS:
                raise ConfigError(f"--{name.replace('_', '-')} is a VAE option: use --model {', '.join(VAE_PRESETS)}")
            params[name] = value
    est, metrics, run = train_run(
        out, data, preset=model, data_dir=data_dir, label_column=label_column, resume=resume, overwrite=overwrite, **params
    )
    console.print(_errors_table(metrics))
    if "elbo" in metrics:
        console.print(_vae_table(metrics))
    console.print(f"trained {est.n_epochs_} epochs in {metrics['train_seconds']:.1f} s; run folder: [bold]{run}[/bold]; "
                  f"report: [bold]{run / 'report.html'}[/bold]")


def _load_estimator(run: Path):
    from aekit.estimators import load_estimator

    return load_estimator(run)


def _data_for(run: Path, data: Optional[str], data_dir: Optional[Path], label_column: Optional[str] = None):
    from aekit.runs import read_json

    rec = read_json(run / "config.json").get("data", {})
    source = data or rec.get("source") or "digits"
    ddir = data_dir if data_dir is not None else rec.get("data_dir")
    from aekit.tasks.train import load_splits

    same = data is None or data == rec.get("source")
    if label_column is None:
        label_column = rec.get("label_column") if same else None
    return load_splits(source, ddir, rec.get("seed", 0) if same else 0, label_column)


@app.command()
def evaluate(
    run: Annotated[Path, typer.Argument(help="A run folder written by `aekit train` or AutoEncoder.save.")],
    data: Annotated[Optional[str], typer.Option("--data", help="Data source (default: the one the run was trained on).")] = None,
    data_dir: DataDirOpt = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the numbers to this JSON file.")] = None,
    k: Annotated[int, typer.Option("--k", help="VAE: importance samples per image for log p(x).")] = 1000,
    limit: Annotated[Optional[int], typer.Option("--limit", help="VAE: estimate log p(x) on the first N test samples only.")] = None,
    seed: Annotated[int, typer.Option(help="VAE: seed of the Monte-Carlo estimates (and of binarization).")] = 0,
) -> None:
    """Test-split reconstruction error of a run, beside PCA (a VAE: also its ELBO and log p(x)).

    Prints the mean squared error per value and the squared error summed per sample, for the
    model and for PCA with the same latent size (fitted on the training split). For a VAE, also
    the test ELBO and the k-sample importance-weighted log-likelihood, in nats per sample.
    """
    from aekit.runs import write_json
    from aekit.tasks.evaluate import evaluate_reconstruction
    from aekit.estimators import load_estimator
    from aekit.tasks.generate import evaluate_vae

    est = load_estimator(run)
    train_ds, _, test_ds = _data_for(run, data, data_dir)
    if getattr(est, "_kind", None) == "vae":
        metrics = evaluate_vae(est, train_ds, test_ds, k=k, n_ll=limit, seed=seed)
    else:
        metrics = evaluate_reconstruction(est, train_ds, test_ds)
    console.print(_errors_table(metrics))
    if "elbo" in metrics:
        console.print(_vae_table(metrics))
    if json_out:
        write_json(json_out, metrics)


@app.command()
def encode(
    run: Annotated[Path, typer.Argument(help="A run folder.")],
    data: Annotated[Optional[str], typer.Option("--data", help="Data source (default: the run's).")] = None,
    split: Annotated[str, typer.Option(help="train, val, test, train+val or all.")] = "test",
    out: Annotated[Path, typer.Option("--out", help="Where to write the codes (.npy, N × latent).")] = Path("codes.npy"),
    data_dir: DataDirOpt = None,
) -> None:
    """Write the encoder's codes of a data split to a .npy file."""
    from aekit.data import load
    from aekit.runs import atomic_write_bytes, read_json
    from aekit.tasks.evaluate import model_input

    est = _load_estimator(run)
    rec = read_json(run / "config.json").get("data", {})
    source = data or rec.get("source") or "digits"
    ds = load(source, split=split, data_dir=data_dir if data_dir is not None else rec.get("data_dir"),
              seed=rec.get("seed", 0))
    codes = est.transform(model_input(est, ds))
    import io

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
    """(Re)write a run's report.html.

    Loss curves, reconstructions beside PCA's, the latent scatter beside PCA's, and the error table.
    """
    from aekit.report.run_report import ReportEntry, build_report

    est = _load_estimator(run)
    train_ds, _, test_ds = _data_for(run, data, data_dir)
    path = build_report(run / "report.html", [ReportEntry(run.name, est)], train_ds, test_ds, title=f"aekit run {run.name}")
    console.print(f"report: [bold]{path}[/bold]")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the demo's run folders and report.")] = Path("runs/demo"),
    epochs: Annotated[int, typer.Option(help="Epochs per model.")] = 150,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
) -> None:
    """Train the autoencoder family on the digits; one report beside PCA.

    About two minutes on 2 CPU cores; prints where the report is.
    """
    from aekit.tasks.demo import run_demo

    path, summary = run_demo(out, epochs=epochs, seed=seed, progress=not quiet, log=console.print)
    t = Table(title="demo: test reconstruction error (MSE per value) beside PCA")
    for col in ("model", "latent", "model", "PCA", "model ÷ PCA"):
        t.add_column(col, justify="right")
    for name, m in summary.items():
        t.add_row(name, str(m["latent_dim"]), f"{m['model']['mse_per_value']:.4f}", f"{m['pca']['mse_per_value']:.4f}",
                  f"{m['model_vs_pca']:.2f}")
    console.print(t)
    console.print(f"report: [bold]{path.resolve()}[/bold]")
