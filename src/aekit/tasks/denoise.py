"""Denoising with a trained model, beside PCA-projection denoising (noise reduction by
projecting onto the leading components).

PCA denoising keeps the leading principal components of the clean training data: the
noisy image is projected on them and back, dropping what the components cannot express.
Two PCA baselines are reported: the model's latent size (when smaller than the input), and
the number of components that denoises the validation split best (the strongest PCA).
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from aekit.data import Dataset
from aekit.data.files import read_image
from aekit.data.noise import Noise, parse_noise
from aekit.errors import DataError
from aekit.metrics import psnr, ssim
from aekit.models.pca import fit_pca, pca_reconstruct, truncate_pca
from aekit.runs import atomic_write_bytes, write_json
from aekit.evaluation import model_input

PCA_CANDIDATES = (2, 4, 8, 16, 32, 64, 128, 256)


def default_noise(est) -> Noise:
    return parse_noise(est.model_config_.noise or "gaussian:0.5")


def tuned_pca(full, val_clean: np.ndarray, val_noisy: np.ndarray, value_range, max_k: int) -> tuple[object, int]:
    """From a fitted PCA, the number of leading components (≤ max_k) that maximizes validation PSNR."""
    candidates = [k for k in PCA_CANDIDATES if k <= max_k] or [1]
    best_k, best = candidates[0], -np.inf
    for k in candidates:
        comps = full.components_[:k]
        rec = (val_noisy.reshape(len(val_noisy), -1) - full.mean_) @ comps.T @ comps + full.mean_
        score = psnr(val_clean, np.clip(rec, *value_range), value_range[1] - value_range[0]).mean()
        if score > best:
            best_k, best = k, score
    return truncate_pca(full, best_k), best_k


def _scores(clean: np.ndarray, other: np.ndarray, rng: float) -> dict[str, float]:
    out = {"psnr": float(psnr(clean, other, rng).mean())}
    if clean.ndim == 4:
        out["ssim"] = float(ssim(clean, other.reshape(clean.shape), rng).mean())
    return out


def denoise_split(est, train: Dataset, val: Dataset, test: Dataset, noise: Noise, seed: int = 0,
                  pca=None) -> tuple[dict, dict]:
    """Corrupt the test split with `noise` (seeded), denoise it, and score each method against
    the clean images. Returns (metrics, arrays).

    `pca`: a PCA already fitted (svd_solver="full") on `train` with at least as many components
    as the baselines need; its leading components are used instead of fitting again (a caller
    that denoises one data set under several noises fits it once)."""
    lo, hi = test.value_range
    rng = hi - lo
    noisy = noise(test.X, rng=seed, value_range=test.value_range).astype(np.float32)
    val_noisy = noise(val.X, rng=seed + 1, value_range=val.value_range).astype(np.float32)
    denoised = est.reconstruct(model_input(est, Dataset(noisy, test.y, test.name, test.value_range)))
    denoised = np.asarray(denoised).reshape(test.X.shape)
    code = est.model_config_.code_size
    limit = min(test.n_features, len(train)) - 1  # fewer components than inputs, or PCA is the identity
    max_k = max([k for k in PCA_CANDIDATES if k <= limit] or [1])
    need = max(max_k, code if code <= limit else 1)
    full = pca if pca is not None and pca.n_components_ >= need else fit_pca(train.flat(), need)  # one SVD serves every size
    pca_t, k_t = tuned_pca(full, val.X, val_noisy, test.value_range, max_k)
    arrays = {
        "clean": test.X,
        "noisy": noisy,
        "denoised": denoised,
        f"pca_{k_t}": np.clip(pca_reconstruct(pca_t, noisy), lo, hi),
    }
    metrics = {
        "data": test.name, "noise": str(noise), "n_test": len(test), "seed": seed,
        "noisy": _scores(test.X, noisy, rng),
        "model": _scores(test.X, denoised, rng),
        "pca_tuned": {"n_components": k_t, **_scores(test.X, arrays[f"pca_{k_t}"], rng)},
    }
    if code <= limit:
        same = np.clip(pca_reconstruct(truncate_pca(full, code), noisy), lo, hi)
        arrays[f"pca_{code}"] = same
        metrics["pca_same_size"] = {"n_components": code, **_scores(test.X, same, rng)}
    metrics["warnings"] = denoise_warnings(metrics)
    return metrics, arrays


def denoise_warnings(m: dict) -> list[str]:
    """Plain sentences when the model denoises worse than leaving the noise in, or than PCA."""
    out = []
    model = m["model"]["psnr"]
    if model <= m["noisy"]["psnr"]:
        out.append(f"the model's output ({model:.2f} dB) is no closer to the clean images than the noisy input "
                   f"({m['noisy']['psnr']:.2f} dB): it does not denoise (was it trained with noise, and long enough?)")
    if model < m["pca_tuned"]["psnr"]:
        out.append(f"PCA denoises better ({m['pca_tuned']['psnr']:.2f} dB with {m['pca_tuned']['n_components']} "
                   f"components) than the model ({model:.2f} dB)")
    return out


def save_denoise_outputs(out: Path, metrics: dict, arrays: dict, value_range, n_show: int = 10) -> Path:
    from aekit.report.grid import save_image_rows

    out.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(out / "denoised.npz", buf.getvalue())
    write_json(out / "metrics.json", metrics)
    n = min(n_show, len(arrays["clean"]))
    names = ["noisy", *[k for k in arrays if k.startswith("pca_")], "denoised", "clean"]
    labels = {"noisy": "noisy", "denoised": "autoencoder", "clean": "clean"}
    rows = [arrays[k][:n] for k in names]
    grid = save_image_rows(rows, out / "denoise-grid.png",
                           labels=[labels.get(k, f"PCA-{k[4:]}") for k in names], value_range=value_range)
    return grid


def denoise_image(est, path: Path, out: Path) -> tuple[Path, tuple[int, int]]:
    """Denoise one user image; a fully convolutional model takes any size, others need the
    training size."""
    import torch
    from PIL import Image

    cfg = est.model_config_
    channels = cfg.input_shape[0] if cfg.image_shape else 1
    x = read_image(path, channels, as_float=True)
    x = np.ascontiguousarray(x[None, None] if x.ndim == 2 else np.moveaxis(x, -1, 0)[None])  # 1×C×H×W
    hw = x.shape[-2:]
    if cfg.arch in ("conv", "resnet") and cfg.latent_dim is None and not cfg.standardize:
        with torch.inference_mode():
            y = est.model_.reconstruct_image(torch.from_numpy(x)).numpy()
    else:
        expected = tuple(cfg.input_shape[-2:]) if cfg.image_shape else None
        if expected is None or tuple(hw) != expected:
            raise DataError(
                f"{path}: the image is {hw[1]}×{hw[0]} pixels but the model was trained on "
                f"{'×'.join(map(str, reversed(expected))) if expected else f'{cfg.n_features} features'}; "
                "resize it, or use a fully convolutional model (--model conv-dae), which takes any size"
            )
        y = est.reconstruct(x)
    img = (np.clip(y[0], 0, 1) * 255).round().astype(np.uint8)
    img = img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, -1)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    atomic_write_bytes(out, buf.getvalue())
    return Path(out), (int(hw[1]), int(hw[0]))
