"""Evaluating a trained estimator on data splits, each kind beside its baselines.

    evaluate_reconstruction  test-split reconstruction error beside PCA with the code's size
    evaluate_vae             the same plus the ELBO and the importance-weighted log p(x)
    evaluate_colorizer       PSNR of the colorized and of the grey held-out photos
    evaluate_detector        scores of the test split: ROC-AUC / PR-AUC and the rates at the threshold

The numbers come from `aekit.metrics`; this module only decides what is compared with what.
"""
from __future__ import annotations

import time
import warnings

import numpy as np

from aekit.data import Dataset
from aekit.errors import AekitWarning, ConfigError, DataError
from aekit.estimators.vae import is_binary
from aekit.metrics import detection_metrics, reconstruction_errors
from aekit.models.pca import fit_pca, pca_reconstruct


def model_input(est, data: Dataset) -> np.ndarray:
    """The data in the layout the estimator was fitted on (images as N×C×H×W, else rows)."""
    return data.X if getattr(est, "input_ndim_", 2) == 4 and data.X.ndim == 4 else data.flat()


def labels_for(est, ds: Dataset):
    """The labels a conditional model needs (None for every other model)."""
    if not getattr(est.model_config_, "n_classes", 0):
        return None
    if ds.y is None:
        raise DataError(f"{ds.name}: a conditional VAE needs labelled data")
    return ds.y


def _beside_pca(est, train: Dataset, test: Dataset, recon: np.ndarray) -> dict:
    k = int(est.model_config_.code_size)  # PCA gets as many dimensions as the code (capped at D)
    pca = fit_pca(train.flat(), k)
    model_err = reconstruction_errors(test.flat(), recon)
    pca_err = reconstruction_errors(test.flat(), pca_reconstruct(pca, test.flat()))
    mean = train.flat().mean(0, keepdims=True)
    mean_err = reconstruction_errors(test.flat(), np.broadcast_to(mean, test.flat().shape))
    pca_exact = int(pca.n_components_) >= min(test.n_features, len(train))  # every dimension kept: no compression
    out = {
        "data": test.name, "split": test.split, "n_test": len(test), "latent_dim": k,
        "model": model_err, "pca": {**pca_err, "n_components": int(pca.n_components_)},
        "mean": mean_err,
        # PCA keeping every dimension reconstructs exactly: a ratio to it says nothing
        "model_vs_pca": None if pca_exact else model_err["mse_per_value"] / max(pca_err["mse_per_value"], 1e-300),
        "output_std": float(np.asarray(recon, np.float64).reshape(len(recon), -1).std(0).mean()),
        "input_std": float(test.flat().astype(np.float64).std(0).mean()),
    }
    out["warnings"] = reconstruction_warnings(out, getattr(est.model_config_, "noise", None))
    return out


CONSTANT_OUTPUT = 0.05  # outputs vary across samples by under 5 % of how much the inputs do


def reconstruction_warnings(m: dict, noise=None) -> list[str]:
    """Plain sentences for a model that does worse than a trivial baseline or than PCA, or that
    outputs (nearly) the same thing for every input."""
    out = []
    model, mean = m["model"]["mse_per_value"], m["mean"]["mse_per_value"]
    if m["input_std"] > 0 and m["output_std"] < CONSTANT_OUTPUT * m["input_std"]:
        out.append("the model outputs nearly the same reconstruction for every input: it has not learned the data. "
                   "Likely causes: too few epochs or updates for the data size, a learning rate too low or too high, "
                   "or a loss that stalls with a sigmoid output (mse on data in [0, 1]: try the bce loss)")
    if model >= mean:
        out.append(f"the model reconstructs worse than predicting the training mean for every sample "
                   f"(MSE {model:.4g} vs {mean:.4g})")
    if m["model_vs_pca"] is None:
        out.append(f"the code ({m['latent_dim']} values) is not smaller than the input, so PCA keeps every dimension "
                   "and reconstructs exactly: the comparison with PCA is not meaningful"
                   + ("; this denoising model's test is denoising (aekit denoise)" if noise else ""))
    elif m["model_vs_pca"] > 1.0:
        why = (" (a denoising model is trained to remove noise, not to copy clean inputs: compare it on "
               "denoising with aekit denoise)" if noise else "")
        out.append(f"the model reconstructs worse than PCA with the same code size ({m['model_vs_pca']:.2f}× its "
                   f"error){why}")
    return out


def evaluate_reconstruction(est, train: Dataset, test: Dataset) -> dict:
    """Errors on `test` for the model and for PCA fitted on `train` with the model's latent size."""
    return _beside_pca(est, train, test, est.reconstruct(model_input(est, test)))


def evaluate_vae(est, train: Dataset, test: Dataset, *, k: int = 1000, n_ll: int | None = None,
                 seed: int = 0) -> dict:
    """Reconstruction beside PCA (as `evaluate_reconstruction`) plus the ELBO (10 Monte-Carlo
    samples of the reconstruction term) and the k-sample importance-weighted log-likelihood on the
    first `n_ll` test samples (all by default), in nats per sample."""
    if getattr(est, "_kind", None) != "vae":
        raise ConfigError("this evaluation needs a variational autoencoder (train one with --model vae, conv-vae or cvae)")
    if int(k) < 1:
        raise ConfigError(f"k (importance samples per image) must be ≥ 1, got {k}")
    y = labels_for(est, test)
    X = model_input(est, test)
    out = _beside_pca(est, train, test, est.reconstruct(X, y))
    n = len(test) if n_ll is None else max(1, min(int(n_ll), len(test)))
    config = est.model_config_
    binary = is_binary(test.flat())
    true_ll = config.likelihood == "gaussian" or binary or config.binarize is not None
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
                "true probability model (train with --binarize dynamic)")
    elif config.binarize is not None and not binary:
        note = "evaluated on a seeded Bernoulli binarization of the test images, as the model was trained"
    out.update({
        "likelihood": config.likelihood, "binarize": config.binarize,
        "elbo": float(elbo.mean()), "elbo_subset": float(elbo[:n].mean()),
        "log_likelihood": float(ll.mean()), "log_likelihood_sem": float(ll.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0,
        "k": int(k), "n_ll": n, "ll_seconds": ll_s, "true_likelihood": true_ll, "note": note,
    })
    return out


def evaluate_colorizer(est, photos: list[tuple[str, np.ndarray]], held_out: bool = True) -> dict:
    """PSNR (dB, RGB) of each colorized and grey photo against the original, and their means."""
    out = est.evaluate([p for _, p in photos], [n for n, _ in photos])
    out["held_out"] = bool(held_out)
    return out


def evaluate_detector(det, ds: Dataset, normal: list | None) -> tuple[dict, np.ndarray, np.ndarray | None]:
    """(metrics, scores, is_anomaly) of a detector on `ds`; ROC-AUC and PR-AUC when the labels
    and the normal labels say which rows are anomalies."""
    X = ds.X if ds.is_image and getattr(det.estimator_, "input_ndim_", 2) == 4 else ds.flat()
    scores = det.decision_function(X)
    is_anomaly = None if (ds.y is None or normal is None) else ~np.isin(ds.y, normal)
    metrics = {"data": ds.name, "split": ds.split, "normal_labels": normal, "threshold_source": det.threshold_source_}
    if is_anomaly is not None:
        metrics.update(detection_metrics(scores, is_anomaly, det.threshold_))
    else:
        metrics.update({"n": len(ds), "threshold": det.threshold_, "flagged": int((scores > det.threshold_).sum())})
    metrics["warnings"] = []
    if metrics.get("roc_auc", 1.0) <= 0.5:
        metrics["warnings"].append(f"ROC-AUC {metrics['roc_auc']:.3f} is no better than ranking at random: the "
                                   "anomalies score lower than the normal samples (too little training, or anomalies "
                                   "that are easier to reconstruct than the normal data)")
    return metrics, scores, is_anomaly


__all__ = ["CONSTANT_OUTPUT", "reconstruction_warnings", "evaluate_colorizer", "evaluate_detector", "evaluate_reconstruction", "evaluate_vae", "labels_for",
           "model_input"]
