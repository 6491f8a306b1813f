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
