"""PCA, the linear baseline every result is shown against.

Two routes that agree to numerical precision: scikit-learn's PCA, and the textbook derivation —
the eigendecomposition Σ = Γ·D_λ·Γᵀ of the covariance matrix, projecting the centred data on the
leading eigenvectors (PCA' = Γᵀ·(x − μ)).

`fit_pca` picks scikit-learn's solver by the data's shape: where samples far outnumber features
(`use_covariance_eigh`) it is ``covariance_eigh`` (the D×D covariance, then its
eigendecomposition: one pass over the data, far faster than an SVD of the N×D matrix), else the
exact full SVD. Both are exact. For data streamed in chunks (a RowSource, or chunks that never sit
in memory together) `fit_incremental_pca` runs scikit-learn's IncrementalPCA.
"""
from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA, IncrementalPCA

from aekit.data.sources import is_row_source
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


# covariance_eigh where samples far outnumber features: it forms the D×D covariance (cost N·D²)
# and decomposes it (D³), instead of an SVD of the N×D matrix. The rule keeps D small enough for
# D³ to be cheap and N large enough for the covariance to be the saving.
COVARIANCE_EIGH_MIN_RATIO = 10  # samples per feature
COVARIANCE_EIGH_MAX_FEATURES = 1000


def use_covariance_eigh(n_samples: int, n_features: int) -> bool:
    """Whether `fit_pca` uses the covariance_eigh solver: n ≥ 10·d and d ≤ 1000.

    Examples
    --------
    >>> use_covariance_eigh(30_000, 784), use_covariance_eigh(5_000, 784), use_covariance_eigh(10**6, 4096)
    (True, False, False)
    """
    return n_features <= COVARIANCE_EIGH_MAX_FEATURES and n_samples >= COVARIANCE_EIGH_MIN_RATIO * n_features


def fit_pca(X_train: np.ndarray, n_components: int, seed: int = 0, solver: str = "auto") -> PCA:
    """scikit-learn PCA on flattened data, with an exact solver (results are seed-free).

    Parameters
    ----------
    X_train : array-like of shape (n_samples, ...)
        Training data; each sample is flattened.
    n_components : int
        Components to keep; capped at min(n_samples, n_features).
    seed : int, default 0
        Passed as random_state (the exact solvers do not use it).
    solver : {"auto", "covariance_eigh", "full"}, default "auto"
        "auto": covariance_eigh where `use_covariance_eigh` says samples far outnumber features
        (on 30,000 × 784 MNIST digits 4.6× faster than the SVD with the same error:
        benchmarks/pca_solver.py, RESULTS.md), else the full SVD.

    Returns
    -------
    sklearn.decomposition.PCA
        Fitted.

    Raises
    ------
    ConfigError
        An unknown solver.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((10, 2, 3))
    >>> fit_pca(X, 50).n_components_            # capped at 6 features
    6
    >>> fit_pca(np.random.default_rng(0).random((100, 5)), 2).svd_solver
    'covariance_eigh'
    """
    X = np.asarray(X_train).reshape(len(X_train), -1)
    k = min(int(n_components), X.shape[0], X.shape[1])
    if solver == "auto":
        solver = "covariance_eigh" if use_covariance_eigh(*X.shape) else "full"
    if solver not in ("covariance_eigh", "full"):
        raise ConfigError(f"PCA solver must be auto, covariance_eigh or full, got {solver!r}")
    if solver == "full":
        return PCA(n_components=k, svd_solver="full", random_state=seed).fit(X)
    # scikit-learn's covariance_eigh forms XᵀX − n·μμᵀ and decomposes it in X's dtype. In float32
    # both lose digits the SVD keeps (on data of mean 5 with a few strong directions: 0.1 % more
    # error uncentred, 1e-5 centred), so it gets the data centred and in float64: one copy, as
    # the SVD's centring makes one (and the SVD also holds an N×D factor).
    mean = X.mean(0, dtype=np.float64)
    centred = np.subtract(X, mean, dtype=np.float64)
    pca = PCA(n_components=k, svd_solver="covariance_eigh", random_state=seed).fit(centred)
    pca.mean_ = pca.mean_ + mean  # back from the centred data to X's
    return pca


def fit_incremental_pca(chunks, n_components: int, batch_rows: int | None = None) -> IncrementalPCA:
    """scikit-learn's IncrementalPCA over data that comes in chunks (it never holds all of it).

    Parameters
    ----------
    chunks : RowSource or iterable of array-like
        A `aekit.data.sources.RowSource` (read `batch_rows` rows at a time), or arrays of shape
        (rows, ...) with one sample size; each sample is flattened. The first update needs as
        many rows as components: the first chunks are joined until they have them.
    n_components : int
        Components to keep; capped at the features and at the rows seen.
    batch_rows : int or None, default None
        Rows per read from a RowSource (default: its own chunking, about 64 MB of float32).

    Returns
    -------
    sklearn.decomposition.IncrementalPCA
        Fitted; `pca_reconstruct` takes it as it takes a PCA.

    Raises
    ------
    DataError
        Chunks with different sample sizes, or fewer than 2 rows in all.
    ConfigError
        n_components < 1.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3)) @ rng.normal(size=(3, 6)) + 0.1 * rng.normal(size=(300, 6))
    >>> ipca = fit_incremental_pca(np.array_split(X, 7), 3)
    >>> ipca.n_components_, int(ipca.n_samples_seen_)
    (3, 300)
    >>> def error(pca):
    ...     return float(((pca_reconstruct(pca, X) - X) ** 2).mean())
    >>> bool(error(ipca) < 1.01 * error(fit_pca(X, 3)))  # close to PCA's (exact with every component)
    True
    """
    if int(n_components) < 1:
        raise ConfigError(f"n_components must be ≥ 1, got {n_components}")
    if is_row_source(chunks):
        chunks = (block for _, block in chunks.iter_chunks(batch_rows))
    ipca: IncrementalPCA | None = None
    pending: list[np.ndarray] = []  # rows held back until the first update has n_components of them
    n_features = None
    for chunk in chunks:
        block = np.asarray(chunk)
        block = block.reshape(len(block), -1)
        if n_features is None:
            n_features = block.shape[1]
        elif block.shape[1] != n_features:
            raise DataError(f"a chunk has {block.shape[1]} values per sample, the first had {n_features}")
        if not len(block):
            continue
        if ipca is not None:  # after the first update any number of rows will do
            ipca.partial_fit(block)
            continue
        pending.append(block)
        if sum(len(p) for p in pending) >= min(int(n_components), n_features):
            ipca = IncrementalPCA(n_components=min(int(n_components), n_features))
            ipca.partial_fit(np.concatenate(pending))
            pending = []
    if ipca is None:  # fewer rows than components in all: keep as many components as rows
        rows = np.concatenate(pending) if pending else np.empty((0, n_features or 0))
        if len(rows) < 2:
            raise DataError(f"incremental PCA needs at least 2 rows, got {len(rows)}")
        ipca = IncrementalPCA(n_components=min(int(n_components), *rows.shape)).partial_fit(rows)
    return ipca


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
    """The leading k components of a fitted PCA. With an exact solver (full SVD, covariance_eigh) this equals
    fitting with k components, without a second decomposition.

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
