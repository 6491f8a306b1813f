"""PCA, the linear baseline every result is shown against.

Two routes that agree to numerical precision: scikit-learn's PCA (SVD), and the
textbook derivation — the eigendecomposition Σ = Γ·D_λ·Γᵀ of the covariance matrix, projecting the
centred data on the leading eigenvectors (PCA' = Γᵀ·(x − μ)).
"""
from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from aekit.errors import ConfigError, DataError


class EigenPCA:
    """PCA by eigendecomposition of the covariance matrix (the textbook formula).

    Σ = Γ·D_λ·Γᵀ; the codes are Γᵀ·(x − μ) on the leading eigenvectors. Components carry
    scikit-learn's sign convention, so they match `sklearn.decomposition.PCA` up to rounding.

    Parameters
    ----------
    n_components : int
        Components to keep, in [1, min(n_samples, n_features)].

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        μ, the per-feature mean of the training data.
    components_ : ndarray of shape (n_components, n_features)
        Γᵀ: the leading eigenvectors of Σ, one per row, by decreasing eigenvalue.
    explained_variance_ : ndarray of shape (n_components,)
        The leading eigenvalues of Σ (n − 1 degrees of freedom).
    explained_variance_ratio_ : ndarray of shape (n_components,)
        Each eigenvalue over their total.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[-1, -1], [-2, -1], [-3, -2], [1, 1], [2, 1], [3, 2]])
    >>> pca = EigenPCA(n_components=1).fit(X)
    >>> pca.explained_variance_ratio_.round(4)
    array([0.9924])
    >>> bool(np.allclose(np.abs(pca.components_), np.abs(fit_pca(X, 1).components_)))
    True
    """

    def __init__(self, n_components: int):
        self.n_components = int(n_components)

    def fit(self, X: np.ndarray) -> "EigenPCA":
        """Learn μ and the leading eigenvectors from X (N × ..., flattened per row).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            At least 2 samples.

        Returns
        -------
        EigenPCA
            self.

        Raises
        ------
        DataError
            Fewer than 2 samples.
        ConfigError
            n_components outside [1, min(n_samples, n_features)].
        """
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
        """The codes (X − μ)·Γ, shape (n_samples, n_components), float64."""
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        return (X - self.mean_) @ self.components_.T

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        """Back from codes to flat rows: Z·Γᵀ + μ, shape (n_samples, n_features), float64."""
        return np.asarray(Z, dtype=np.float64) @ self.components_ + self.mean_

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        """`fit` then `transform` on the same X."""
        return self.fit(X).transform(X)


def fit_pca(X_train: np.ndarray, n_components: int, seed: int = 0) -> PCA:
    """scikit-learn PCA on flattened data (full SVD, so results are exact and seed-free).

    Parameters
    ----------
    X_train : array-like of shape (n_samples, ...)
        Training data; each sample is flattened.
    n_components : int
        Components to keep; capped at min(n_samples, n_features).
    seed : int, default 0
        Passed as random_state (the full solver does not use it).

    Returns
    -------
    sklearn.decomposition.PCA
        Fitted.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((10, 2, 3))
    >>> fit_pca(X, 50).n_components_            # capped at 6 features
    6
    """
    X = np.asarray(X_train).reshape(len(X_train), -1)
    k = min(int(n_components), X.shape[0], X.shape[1])
    return PCA(n_components=k, svd_solver="full", random_state=seed).fit(X)


def pca_reconstruct(pca: PCA, X: np.ndarray) -> np.ndarray:
    """Project X on the PCA subspace and back, in X's shape.

    Parameters
    ----------
    pca : sklearn.decomposition.PCA
        Fitted on data with X's per-sample size (see `fit_pca`).
    X : ndarray of shape (n_samples, ...)
        Data to reconstruct.

    Returns
    -------
    ndarray
        float32, X's shape.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((20, 4, 4))
    >>> R = pca_reconstruct(fit_pca(X, 3), X)
    >>> R.shape, R.dtype
    ((20, 4, 4), dtype('float32'))
    >>> bool(np.allclose(pca_reconstruct(fit_pca(X, 16), X), X, atol=1e-5))   # all components: exact
    True
    """
    flat = np.asarray(X).reshape(len(X), -1)
    return pca.inverse_transform(pca.transform(flat)).reshape(X.shape).astype(np.float32)


def truncate_pca(pca: PCA, k: int) -> PCA:
    """The leading k components of a fitted PCA. With the exact (full SVD) solver this equals
    fitting with k components, without a second SVD.

    Parameters
    ----------
    pca : sklearn.decomposition.PCA
        Fitted; left unchanged.
    k : int
        Components to keep, in [1, pca.n_components_].

    Returns
    -------
    sklearn.decomposition.PCA
        A shallow copy with the fitted arrays cut to k.

    Raises
    ------
    ConfigError
        k outside [1, pca.n_components_].

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((30, 5))
    >>> small = truncate_pca(fit_pca(X, 5), 2)
    >>> bool(np.allclose(small.transform(X), fit_pca(X, 2).transform(X)))
    True
    """
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
