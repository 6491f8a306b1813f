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
    return {
        "data": test.name, "split": test.split, "n_test": len(test), "latent_dim": k,
        "model": model_err, "pca": {**pca_err, "n_components": int(pca.n_components_)},
        "model_vs_pca": model_err["mse_per_value"] / max(pca_err["mse_per_value"], 1e-300),
    }


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
    return metrics, scores, is_anomaly


__all__ = ["evaluate_colorizer", "evaluate_detector", "evaluate_reconstruction", "evaluate_vae", "labels_for",
           "model_input"]
