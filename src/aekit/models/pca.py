"""PCA, the linear baseline every result is shown against.

Two routes that agree to numerical precision: scikit-learn's PCA (SVD), and the seeds'
derivation — the eigendecomposition Σ = Γ·D_λ·Γᵀ of the covariance matrix, projecting the
centred data on the leading eigenvectors (PCA' = Γᵀ·(x − μ)).
"""
from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from aekit.errors import ConfigError, DataError


class EigenPCA:
    """PCA by eigendecomposition of the covariance matrix (the seeds' formula)."""

    def __init__(self, n_components: int):
        self.n_components = int(n_components)

    def fit(self, X: np.ndarray) -> "EigenPCA":
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        n, d = X.shape
        if n < 2:
            raise DataError(f"PCA needs at least 2 samples, got {n}")
        if not 1 <= self.n_components <= min(n, d):
            raise ConfigError(f"n_components must be in [1, {min(n, d)}], got {self.n_components}")
        self.mean_ = X.mean(0)
        Xc = X - self.mean_
        cov = Xc.T @ Xc / (n - 1)  # Σ
        eigvals, eigvecs = np.linalg.eigh(cov)  # ascending; Σ is symmetric
        order = np.argsort(eigvals)[::-1]
        eigvals, eigvecs = np.clip(eigvals[order], 0.0, None), eigvecs[:, order]
        comps = eigvecs[:, : self.n_components].T  # Γᵀ, one component per row
        # sklearn's sign convention (svd_flip on components): largest |value| of each row positive.
        signs = np.sign(comps[np.arange(len(comps)), np.abs(comps).argmax(1)])
        signs[signs == 0] = 1.0
        self.components_ = comps * signs[:, None]
        self.explained_variance_ = eigvals[: self.n_components]
        self.explained_variance_ratio_ = self.explained_variance_ / max(eigvals.sum(), 1e-300)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        return (X - self.mean_) @ self.components_.T

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        return np.asarray(Z, dtype=np.float64) @ self.components_ + self.mean_

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)


def fit_pca(X_train: np.ndarray, n_components: int, seed: int = 0) -> PCA:
    """scikit-learn PCA on flattened data (full SVD, so results are exact and seed-free)."""
    X = np.asarray(X_train).reshape(len(X_train), -1)
    k = min(int(n_components), X.shape[0], X.shape[1])
    return PCA(n_components=k, svd_solver="full", random_state=seed).fit(X)


def pca_reconstruct(pca: PCA, X: np.ndarray) -> np.ndarray:
    """Project X on the PCA subspace and back, in X's shape."""
    flat = np.asarray(X).reshape(len(X), -1)
    return pca.inverse_transform(pca.transform(flat)).reshape(X.shape).astype(np.float32)


def truncate_pca(pca: PCA, k: int) -> PCA:
    """The leading k components of a fitted PCA. With the exact (full SVD) solver this equals
    fitting with k components, without a second SVD."""
    import copy

    k = int(k)
    if not 1 <= k <= pca.n_components_:
        raise ConfigError(f"cannot keep {k} of {pca.n_components_} components")
    out = copy.copy(pca)
    out.components_ = pca.components_[:k]
    out.explained_variance_ = pca.explained_variance_[:k]
    out.explained_variance_ratio_ = pca.explained_variance_ratio_[:k]
    out.singular_values_ = pca.singular_values_[:k]
    out.n_components_ = out.n_components = k
    return out
