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
from aekit.data.sources import RowView, is_row_source, map_chunks, read_into_memory
from aekit.errors import AekitWarning, ConfigError, DataError
from aekit.estimators.vae import bernoulli_binarize, is_binary
from aekit.metrics import detection_metrics, reconstruction_errors
from aekit.models.pca import fit_incremental_pca, fit_pca, pca_reconstruct


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


def baseline_pca(train, k: int):
    """(PCA with k components, the per-feature training mean as a 1×D row) fitted on `train`: a
    Dataset in memory (scikit-learn's PCA, `fit_pca`), or a RowSource that stays on disk
    (IncrementalPCA over its chunks, `fit_incremental_pca`; its mean is the exact mean)."""
    if is_row_source(train):
        pca = fit_incremental_pca(train, k)
        return pca, pca.mean_.astype(np.float32)[None, :]
    return fit_pca(train.flat(), k), train.flat().mean(0, keepdims=True)


def _beside_pca(est, train, test: Dataset, recon: np.ndarray) -> dict:
    k = int(est.model_config_.code_size)  # PCA gets as many dimensions as the code (capped at D)
    pca, mean = baseline_pca(train, k)
    model_err = reconstruction_errors(test.flat(), recon)
    pca_err = reconstruction_errors(test.flat(), pca_reconstruct(pca, test.flat()))
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


def evaluate_reconstruction(est, train, test: Dataset) -> dict:
    """Errors on `test` for the model and for PCA fitted on `train` (a Dataset, or a RowSource:
    then incremental PCA, see `baseline_pca`) with the model's latent size."""
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
    if true_ll and not getattr(config, "n_classes", 0):  # log p(x|y) of a conditional VAE is another quantity
        out["likelihood_baselines"] = likelihood_baselines(est, train, test.flat()[:n], seed=seed)
    return out


BASELINE_COMPONENTS = 10


def baseline_warnings(metrics: dict) -> list[str]:
    """A sentence for each baseline (metrics' "baselines") that ranks the anomalies better than the
    autoencoder (metrics' "roc_auc") by more than 0.01.

    Examples
    --------
    >>> baseline_warnings({"roc_auc": 0.7, "baselines": {"IsolationForest": {"roc_auc": 0.9}}})[0][:32]
    'IsolationForest ranks the anomal'
    """
    return [f"{name} ranks the anomalies better than the autoencoder (ROC-AUC {b['roc_auc']:.3f} against "
            f"{metrics['roc_auc']:.3f}) on the same rows"
            for name, b in (metrics.get("baselines") or {}).items() if b["roc_auc"] > metrics["roc_auc"] + 0.01]


def detector_baselines(train_X: np.ndarray, test_X, is_anomaly: np.ndarray, n_components: int | None,
                       image: bool = False, seed: int = 0) -> dict[str, dict]:
    """ROC-AUC and PR-AUC of the two detectors every autoencoder detector stands beside, fitted on
    the same training rows: PCA reconstruction error (as many components as the code, on
    standardized features for tables, as PyOD's PCA) and scikit-learn's IsolationForest. `test_X`
    may be rows left on disk (a RowSource), scored a block at a time (`map_chunks`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X, out = rng.normal(size=(200, 5)), rng.normal(size=(40, 5)) * 4
    >>> b = detector_baselines(X, np.vstack([X[:40], out]), np.r_[np.zeros(40), np.ones(40)].astype(bool), 2)
    >>> sorted(b), all(v["roc_auc"] > 0.8 for v in b.values())
    (['IsolationForest', 'PCA-2 reconstruction error'], True)
    """
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import average_precision_score, roc_auc_score

    train_X = np.asarray(train_X, np.float64)
    mean, std = (0.0, 1.0) if image else (train_X.mean(0), train_X.std(0))
    if not image:
        std[std <= 1e-12] = 1.0

    def units(X) -> np.ndarray:  # tables: per-feature units differ, so each is standardized
        X = np.asarray(X, np.float64)
        return X if image else (X - mean) / std

    train_X = units(train_X)
    k = max(1, min(int(n_components or 1), train_X.shape[1] - 1, len(train_X) - 1))
    pca, forest = fit_pca(train_X, k), IsolationForest(random_state=seed).fit(train_X)

    def both(block) -> np.ndarray:
        Z = units(block)
        return np.column_stack([((pca_reconstruct(pca, Z) - Z) ** 2).mean(1), -forest.score_samples(Z)])

    table = map_chunks(both, test_X) if is_row_source(test_X) else both(test_X)
    names = (f"PCA-{k} reconstruction error", "IsolationForest")
    return {name: {"roc_auc": float(roc_auc_score(is_anomaly, s)), "pr_auc": float(average_precision_score(is_anomaly, s))}
            for name, s in zip(names, table.T)}


def baseline_rows(train: Dataset, normal: list | None) -> np.ndarray:
    """The training rows the baselines are fitted on (those with a normal label, when labels say),
    in memory: rows left on disk are read when they fit the memory budget (else a DataError)."""
    keep = None if normal is None or train.y is None else np.flatnonzero(np.isin(train.y, normal))
    X = train.flat()
    if is_row_source(X):
        return read_into_memory(X if keep is None else RowView(X, keep), "fitting the baselines (PCA, IsolationForest)")
    return X if keep is None else X[keep]


def likelihood_baselines(est, train: Dataset, test_X: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Exact mean log-likelihoods (nats per sample) of two simple density models fitted on the
    training data, measured as the VAE's log p(x) is: independent features, and a mixture of
    `BASELINE_COMPONENTS` components (Bernoulli for the Bernoulli likelihood on binary or
    binarized data, diagonal Gaussian for the Gaussian likelihood, in the VAE's standardized
    space with its variance floor, brought back to data space). A VAE whose bound is below them
    has learned less about the data than these models."""
    config = est.model_config_
    X_train = train.flat().astype(np.float32)
    if config.likelihood == "bernoulli":
        if config.binarize is not None:
            X_train, test_X = bernoulli_binarize(X_train, seed + 7), bernoulli_binarize(test_X, seed)  # test: as evaluate_vae's
        return {f"{k} Bernoulli component{'s' * (k > 1)}": bernoulli_mixture_loglik(X_train, test_X, k, seed)
                for k in (1, BASELINE_COMPONENTS)}
    from sklearn.mixture import GaussianMixture

    from aekit.models.vae import MIN_VARIANCE

    shift = est.model_.input_shift.detach().cpu().numpy().reshape(-1)
    scale = est.model_.input_scale.detach().cpu().numpy().reshape(-1)
    if not config.standardize:
        shift, scale = np.zeros_like(shift), np.ones_like(scale)
    out = {}
    for k in (1, BASELINE_COMPONENTS):
        gm = GaussianMixture(k, covariance_type="diag", reg_covar=MIN_VARIANCE, random_state=seed, max_iter=100)
        gm.fit((X_train - shift) / scale)
        ll = gm.score_samples((test_X - shift) / scale) - np.log(scale).sum()
        out[f"{k} diagonal Gaussian{'s' * (k > 1)}"] = float(ll.mean())
    return out


def bernoulli_mixture_loglik(X_train: np.ndarray, X_test: np.ndarray, k: int, seed: int = 0,
                             max_iter: int = 100, tol: float = 1e-4) -> float:
    """Mean exact log-likelihood (nats) of binary `X_test` under a mixture of `k` products of
    Bernoullis fitted to binary `X_train` by EM (means smoothed by one pseudo-count each way).

    Examples
    --------
    >>> X = np.array([[1, 1, 0, 0], [0, 0, 1, 1]] * 50, dtype=np.float32)  # two patterns: 2 components need ≈ log ½
    >>> round(bernoulli_mixture_loglik(X, X, 1), 2), round(bernoulli_mixture_loglik(X, X, 2), 2)
    (-2.77, -0.77)
    """
    X = np.asarray(X_train, np.float64)
    rng = np.random.default_rng(seed)
    resp = rng.dirichlet(np.ones(k), size=len(X))
    prev = -np.inf

    def log_joint(data, weights, mu):
        return data @ np.log(mu).T + (1 - data) @ np.log1p(-mu).T + np.log(weights)

    for _ in range(max_iter):
        nk = resp.sum(0)
        weights, mu = nk / len(X), (resp.T @ X + 1.0) / (nk[:, None] + 2.0)
        lj = log_joint(X, weights, mu)
        top = lj.max(1, keepdims=True)
        ll_rows = top[:, 0] + np.log(np.exp(lj - top).sum(1))
        resp = np.exp(lj - ll_rows[:, None])
        ll = ll_rows.mean()
        if ll - prev < tol:
            break
        prev = ll
    lj = log_joint(np.asarray(X_test, np.float64), weights, mu)
    top = lj.max(1, keepdims=True)
    return float((top[:, 0] + np.log(np.exp(lj - top).sum(1))).mean())


def evaluate_colorizer(est, photos: list[tuple[str, np.ndarray]], held_out: bool = True) -> dict:
    """PSNR (dB, RGB) of each colorized and grey photo against the original, and their means."""
    out = est.evaluate([p for _, p in photos], [n for n, _ in photos])
    out["held_out"] = bool(held_out)
    return out


def evaluate_detector(det, ds: Dataset, normal: list | None, train: Dataset | None = None
                      ) -> tuple[dict, np.ndarray, np.ndarray | None]:
    """(metrics, scores, is_anomaly) of a detector on `ds`; ROC-AUC and PR-AUC when the labels
    and the normal labels say which rows are anomalies, then also those of the baselines fitted on
    `train` (its normal rows, as the detector was) when given: see `detector_baselines`."""
    X = ds.X if ds.is_image and getattr(det.estimator_, "input_ndim_", 2) == 4 else ds.flat()
    scores = det.decision_function(X)
    is_anomaly = None if (ds.y is None or normal is None) else ~np.isin(ds.y, normal)
    metrics = {"data": ds.name, "split": ds.split, "normal_labels": normal, "threshold_source": det.threshold_source_}
    if is_anomaly is not None:
        metrics.update(detection_metrics(scores, is_anomaly, det.threshold_))
        if train is not None:
            code = getattr(getattr(det.estimator_, "model_config_", None), "code_size", None)
            try:
                rows = baseline_rows(train, normal)
            except DataError as exc:  # training rows over the memory budget: the detector's figures stand alone
                warnings.warn(f"no baselines beside the detector: {exc}", AekitWarning, stacklevel=2)
            else:
                metrics["baselines"] = detector_baselines(rows, ds.flat(), is_anomaly, code, image=ds.is_image)
    else:
        metrics.update({"n": len(ds), "threshold": det.threshold_, "flagged": int((scores > det.threshold_).sum())})
    metrics["warnings"] = baseline_warnings(metrics)
    if metrics.get("roc_auc", 1.0) <= 0.5:
        metrics["warnings"].append(f"ROC-AUC {metrics['roc_auc']:.3f} is no better than ranking at random: the "
                                   "anomalies score lower than the normal samples (too little training, or anomalies "
                                   "that are easier to reconstruct than the normal data)")
    return metrics, scores, is_anomaly


__all__ = ["BASELINE_COMPONENTS", "baseline_pca", "baseline_warnings", "baseline_rows", "detector_baselines", "bernoulli_mixture_loglik", "likelihood_baselines", "CONSTANT_OUTPUT", "reconstruction_warnings", "evaluate_colorizer", "evaluate_detector", "evaluate_reconstruction", "evaluate_vae", "labels_for",
           "model_input"]
