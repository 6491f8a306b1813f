"""Metrics shared by evaluation, tasks and benchmarks."""
from __future__ import annotations

import numpy as np


def reconstruction_errors(X: np.ndarray, X_hat: np.ndarray) -> dict[str, float]:
    """Both conventions people quote: mean squared error per value, and the squared error summed
    over each sample's values then averaged over samples (Hinton & Salakhutdinov 2006)."""
    sq = per_value_sq(X, X_hat)
    return {"mse_per_value": float(sq.mean()), "sse_per_sample": float(sq.sum(1).mean())}


def per_value_sq(X: np.ndarray, X_hat: np.ndarray) -> np.ndarray:
    """Squared errors as N×D float64 (inputs may be N×D or N×C×H×W, in any mix)."""
    a = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    b = np.asarray(X_hat, dtype=np.float64).reshape(len(X_hat), -1)
    return (a - b) ** 2


def per_sample_sse(X: np.ndarray, X_hat: np.ndarray) -> np.ndarray:
    return per_value_sq(X, X_hat).sum(1)


def psnr(clean: np.ndarray, other: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """Peak signal-to-noise ratio per image, in dB: 10·log10(range² / MSE). Identical images are
    capped at 100 dB rather than infinity."""
    mse = per_value_sq(clean, other).mean(1)
    return 10.0 * np.log10(data_range**2 / np.maximum(mse, data_range**2 * 1e-10))


def ssim(clean: np.ndarray, other: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """Structural similarity per image (scikit-image; Gaussian window σ = 1.5 as in Wang et al.
    2004; for images under 11 pixels a uniform window of the largest odd size that fits).
    Inputs N×C×H×W; colour images are averaged over channels."""
    from skimage.metrics import structural_similarity

    a = np.asarray(clean, dtype=np.float64)
    b = np.asarray(other, dtype=np.float64).reshape(a.shape)
    if a.ndim != 4:
        raise ValueError(f"ssim needs N×C×H×W images, got shape {a.shape}")
    n, c, h, w = a.shape
    small = min(h, w) < 11
    kw = dict(data_range=data_range, channel_axis=0)
    if small:
        kw["win_size"] = max(3, min(h, w) - (1 - min(h, w) % 2))
    else:
        kw.update(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    # One call per image; channel_axis=0 averages the channels of a colour image.
    return np.array([structural_similarity(a[i], b[i], **kw) for i in range(n)])
