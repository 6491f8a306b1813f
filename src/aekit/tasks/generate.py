"""Generation with a trained VAE: samples, latent maps, latent scatters, and the VAE's run folder.

    sample_grid      64 decoder means of z ~ N(0, I) (of one class for a conditional VAE)
    latent_map       for a 2-D latent: the decoder's output over a grid of the prior's quantiles
                     Φ⁻¹(linspace(0.05, 0.95, n)) in each axis, as one big image (the seeds'
                     figure 5.71, after Kingma & Welling 2014)
    latent_scatter   the test set's posterior means coloured by label, beside PCA's
    evaluate_vae     reconstruction beside PCA, plus the ELBO and the importance-weighted log p(x)
    train_vae_run    what `aekit train --model vae|conv-vae|cvae` does
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np

from aekit.data import Dataset
from aekit.errors import AekitWarning, ConfigError, DataError, RunFolderError
from aekit.estimators import load_estimator
from aekit.metrics import reconstruction_errors
from aekit.models.pca import fit_pca, pca_reconstruct
from aekit.report import figures
from aekit.report.grid import save_image_grid
from aekit.report.html import Section, Table

LATENT_MAP_QUANTILES = (0.05, 0.95)
AE_ONLY_DEFAULTS = {"loss": "auto", "tied": False, "noise": None, "sparsity": None}


def require_vae(est, what: str = "this"):
    if getattr(est, "_kind", None) != "vae":
        raise ConfigError(f"{what} needs a variational autoencoder (train one with --model vae, conv-vae or cvae)")
    return est


def is_conditional(est) -> bool:
    return bool(est.model_config_.extra.get("n_classes"))


def as_images(est, arr: np.ndarray) -> np.ndarray:
    """Model outputs as N×C×H×W images (flat rows of square size are taken as grey images)."""
    arr = np.asarray(arr)
    shape = est.model_config_.image_shape
    if shape is not None:
        return arr.reshape(len(arr), *shape)
    d = arr.reshape(len(arr), -1).shape[1]
    side = int(round(np.sqrt(d)))
    if side * side != d:
        raise DataError(f"the model's samples ({d} values each) are not images; no picture can be drawn")
    return arr.reshape(len(arr), 1, side, side)


def _value_range(est) -> tuple[float, float]:
    return tuple(est.model_config_.value_range)  # type: ignore[return-value]


def check_label(est, label):
    """A label for sampling: only for a conditional VAE, and one of its classes."""
    if label is None:
        return None
    if not is_conditional(est):
        raise ConfigError("a label was given, but this VAE is not conditional: train one with --model cvae "
                          "(conditional=True) to draw samples of a chosen class")
    classes = np.asarray(est.classes_)
    match = classes[classes.astype(str) == str(label)]
    if not len(match):
        raise DataError(f"label {label!r} is not one of the classes the model was trained on: {classes.tolist()}")
    return match[0]


def sample_grid(est, path, n: int = 64, label=None, random_state=0, ncols: int | None = None) -> Path:
    """n samples (decoder means of z ~ N(0, I)) as one PNG grid."""
    require_vae(est, "sampling")
    label = check_label(est, label)
    imgs = as_images(est, est.sample(n, y=label, random_state=random_state))
    return save_image_grid(imgs, path, ncols=ncols, value_range=_value_range(est))


def latent_map_images(est, n: int = 15, label=None) -> np.ndarray:
    """Decoder means over an n×n grid of the prior's quantiles (2-D latent); row 0 is the top
    (largest z₂), column 0 the left (smallest z₁). n²×C×H×W."""
    from scipy.stats import norm

    require_vae(est, "a latent map")
    if est.model_config_.code_size != 2:
        raise ConfigError(f"a latent map needs a 2-D latent space; this model has latent_dim={est.model_config_.code_size}")
    if int(n) < 2:
        raise ConfigError(f"a latent map needs at least 2 points per axis, got {n}")
    q = norm.ppf(np.linspace(*LATENT_MAP_QUANTILES, int(n)))
    z1, z2 = np.meshgrid(q, q[::-1])
    Z = np.column_stack([z1.ravel(), z2.ravel()]).astype(np.float32)
    y = None
    if is_conditional(est):
        label = check_label(est, label) if label is not None else np.asarray(est.classes_)[0]
        y = np.full(len(Z), label)
    elif label is not None:
        check_label(est, label)
    return as_images(est, est.inverse_transform(Z, y))


def latent_map(est, path, n: int = 15, label=None) -> Path:
    """The latent map as one big image (n×n tiles, no gaps, like figure 5.71)."""
    imgs = latent_map_images(est, n, label)
    return save_image_grid(imgs, path, ncols=int(n), value_range=_value_range(est))


def latent_scatter(est, test: Dataset, path, train: Dataset | None = None) -> Path:
    """Posterior means of the test set coloured by label (beside PCA when `train` is given)."""
    codes = est.transform(_input(est, test), test.y if is_conditional(est) else None)
    panels = {"VAE posterior mean μ": codes}
    if train is not None:
        panels["PCA (2 components)"] = fit_pca(train.flat(), 2).transform(test.flat())
    return figures.latent_scatter(panels, test.y, path, classes=test.classes)


def _input(est, ds: Dataset) -> np.ndarray:
    return ds.X if getattr(est, "input_ndim_", 2) == 4 and ds.X.ndim == 4 else ds.flat()


def _labels(est, ds: Dataset):
    if not is_conditional(est):
        return None
    if ds.y is None:
        raise DataError(f"{ds.name}: a conditional VAE needs labelled data")
    return ds.y


def evaluate_vae(est, train: Dataset, test: Dataset, *, k: int = 1000, n_ll: int | None = None,
                 seed: int = 0) -> dict:
    """Test-split reconstruction beside PCA (same keys as evaluate_reconstruction) plus the
    ELBO (10 Monte-Carlo samples of the reconstruction term) and the k-sample importance-weighted
    log-likelihood on the first `n_ll` test samples (all by default), in nats per sample."""
    require_vae(est, "this evaluation")
    if int(k) < 1:
        raise ConfigError(f"k (importance samples per image) must be ≥ 1, got {k}")
    y = _labels(est, test)
    X = _input(est, test)
    recon = est.reconstruct(X, y)
    width = int(est.model_config_.code_size)
    pca = fit_pca(train.flat(), width)
    model_err = reconstruction_errors(test.flat(), recon)
    pca_err = reconstruction_errors(test.flat(), pca_reconstruct(pca, test.flat()))
    n = len(test) if n_ll is None else max(1, min(int(n_ll), len(test)))
    opts = est.model_config_.extra
    binary = bool(np.all((test.flat() == 0) | (test.flat() == 1)))
    true_ll = opts["likelihood"] == "gaussian" or binary or opts.get("binarize") is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AekitWarning)  # said once below, in "note"
        elbo = est.elbo(X, y, n_samples=10, random_state=seed, binarize_seed=seed)
        t0 = time.perf_counter()
        ll = est.log_likelihood(X[:n], None if y is None else y[:n], k=int(k), random_state=seed + 1,
                                binarize_seed=seed)
        ll_s = time.perf_counter() - t0
    note = ""
    if not true_ll:
        note = ("grey-level data under the Bernoulli likelihood: the ELBO and log-likelihood are not those of a "
                "true probability model (train with binarize='dynamic')")
    elif opts.get("binarize") is not None and not binary:
        note = "evaluated on a seeded Bernoulli binarization of the test images, as the model was trained"
    return {
        "data": test.name, "split": test.split, "n_test": len(test), "latent_dim": width,
        "model": model_err, "pca": {**pca_err, "n_components": int(pca.n_components_)},
        "model_vs_pca": model_err["mse_per_value"] / max(pca_err["mse_per_value"], 1e-300),
        "likelihood": opts["likelihood"], "binarize": opts.get("binarize"),
        "elbo": float(elbo.mean()), "elbo_subset": float(elbo[:n].mean()),
        "log_likelihood": float(ll.mean()), "log_likelihood_sem": float(ll.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0,
        "k": int(k), "n_ll": n, "ll_seconds": ll_s, "true_likelihood": true_ll, "note": note,
    }


def likelihood_table(m: dict) -> Table:
    rows = [[f"ELBO ({m['n_test']} test samples)", m["elbo"]],
            [f"ELBO (the {m['n_ll']} samples below)", m["elbo_subset"]],
            [f"log p(x), importance-weighted, k = {m['k']} ({m['n_ll']} samples)", m["log_likelihood"]]]
    return Table(["nats per sample", "value"], rows,
                 caption=("ELBO ≤ log p(x); the k-sample estimate tightens with k. " + (m.get("note") or "")).strip())


def vae_section(name: str, est, train: Dataset, test: Dataset, fig_dir: Path, slug: str, metrics: dict | None = None,
                text: str = "") -> Section:
    """A report section for a VAE: likelihoods, loss curves, samples, latent map (2-D) and scatter."""
    fig_dir = Path(fig_dir)
    m = metrics or evaluate_vae(est, train, test, k=200)
    sec = Section(name, text=[text] if text else [])
    sec.tables.append(likelihood_table(m))
    if getattr(est, "history_", None):
        sec.figures.append((figures.loss_curves(est.history_, fig_dir / f"{slug}-loss.png", name),
                            "Negative ELBO per sample in nats (solid: training objective, dashed: validation)."))
    try:
        label = np.asarray(est.classes_)[0] if is_conditional(est) else None
        grid = sample_grid(est, fig_dir / f"{slug}-samples.png", 64, label=label, random_state=0, ncols=8)
        sec.figures.append((grid, "64 samples: decoder means (pixel probabilities) of z ~ N(0, I)"
                            + (f", label {label}." if label is not None else ".")))
        if est.model_config_.code_size == 2:
            sec.figures.append((latent_map(est, fig_dir / f"{slug}-latent-map.png", 20, label=label),
                                "Latent map: the decoder's output over a 20×20 grid of the prior's quantiles "
                                "(Φ⁻¹ of 0.05 … 0.95 on each axis; z₁ left to right, z₂ bottom to top)."))
    except DataError:
        pass  # not image data: no pictures of samples
    if test.y is not None:
        sec.figures.append((latent_scatter(est, test, fig_dir / f"{slug}-latent.png", train),
                            "Test set: posterior means μ beside PCA's first two components, coloured by label."))
    return sec


def train_vae_run(out, source: str = "digits", *, preset: str = "vae", data_dir=None, data_seed: int = 0,
                  label_column=None, resume: bool = False, overwrite: bool = False, report: bool = True,
                  k: int = 1000, **params):
    """`aekit train --model vae|conv-vae|cvae`: train, evaluate (ELBO, log p(x), reconstruction
    beside PCA) and write the run folder with a report."""
    from aekit.estimators import VariationalAutoEncoder
    from aekit.report.html import write_report
    from aekit.runs import CONFIG
    from aekit.tasks.train import data_record, load_splits

    out = Path(out)
    if (out / CONFIG).exists() and not (resume or overwrite):
        raise RunFolderError(f"{out} already holds a trained run; choose another --out, or pass --overwrite")
    for key, default in AE_ONLY_DEFAULTS.items():
        if key in params:
            if params[key] != default:
                raise ConfigError(f"{key}={params[key]!r} is an option of the deterministic autoencoders, not of a VAE")
            del params[key]
    train, val, test = load_splits(source, data_dir, data_seed, label_column)
    est = VariationalAutoEncoder.from_preset(preset, **params)
    y = y_val = None
    if est.conditional:
        if train.y is None:
            raise DataError(f"{train.name}: a conditional VAE needs labels (for CSV files, --label-column)")
        y, y_val = train.y, val.y
    t0 = time.perf_counter()
    est.fit(_input_fit(train), y, X_val=_input_fit(val) if len(val) else None,
            y_val=y_val if len(val) else None, run_dir=out, resume=resume)
    seconds = time.perf_counter() - t0
    metrics = evaluate_vae(est, train, test, k=k)
    metrics["train_seconds"] = seconds
    est.save(out, data=data_record(source, data_dir, data_seed, train, label_column), metrics=metrics)
    if report:
        sec = vae_section(preset, est, train, test, out, "vae", metrics)
        write_report(out / "report.html", f"aekit run {out.name}", [sec])
    return est, metrics, out


def _input_fit(ds: Dataset) -> np.ndarray:
    return ds.X


def generate(run, *, n: int = 64, out=None, label=None, seed: int = 0, data: str | None = None,
             data_dir=None, scatter: bool = True) -> dict[str, Path]:
    """What `aekit generate` does: a sample grid; for a 2-D latent also the latent map and the
    test set's latent scatter. Returns the written paths by name."""
    est = require_vae(load_estimator(run), "aekit generate")
    run = Path(run)
    if int(n) < 1:
        raise ConfigError(f"-n must be ≥ 1, got {n}")
    out = Path(out) if out is not None else run / "samples.png"
    if out.suffix.lower() != ".png":
        raise ConfigError(f"--out must be a .png file, got {out}")
    written = {"samples": sample_grid(est, out, int(n), label=label, random_state=seed)}
    if est.model_config_.code_size == 2:
        written["latent_map"] = latent_map(est, out.with_name(out.stem + "-latent-map.png"), 20, label=label)
        if scatter:
            from aekit.runs import read_json
            from aekit.tasks.train import load_splits

            rec = read_json(run / "config.json").get("data", {})
            source = data or rec.get("source")
            if source:
                same = data is None or data == rec.get("source")
                train, _, test = load_splits(source, data_dir if data_dir is not None else rec.get("data_dir"),
                                             rec.get("seed", 0) if same else 0,
                                             rec.get("label_column") if same else None)
                if test.y is not None:
                    written["latent_scatter"] = latent_scatter(est, test, out.with_name(out.stem + "-latent.png"),
                                                               train)
    return written


__all__ = ["evaluate_vae", "generate", "latent_map", "latent_map_images", "latent_scatter", "load_estimator",
           "sample_grid", "train_vae_run", "vae_section"]
