"""fit_pca's covariance_eigh route, and incremental PCA over chunks and row sources."""
from __future__ import annotations

import numpy as np
import pytest

from aekit.data.sources import MemmapSource
from aekit.errors import ConfigError, DataError
from aekit.evaluation import baseline_pca
from aekit.models.pca import fit_incremental_pca, fit_pca, pca_reconstruct, truncate_pca, use_covariance_eigh


def structured(n: int, d: int = 20, rank: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, rank)) @ rng.normal(size=(rank, d)) * 3
            + 0.3 * rng.normal(size=(n, d)) + 5).astype(np.float32)


def sq_error(pca, X) -> float:
    return float(((pca_reconstruct(pca, X).astype(np.float64) - X) ** 2).sum(1).mean())


def test_the_rule():
    assert use_covariance_eigh(30_000, 784) and use_covariance_eigh(7840, 784)
    assert not use_covariance_eigh(7839, 784)  # fewer than 10 samples a feature
    assert not use_covariance_eigh(10**7, 1001)  # too many features for a cheap D³


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_covariance_eigh_equals_the_svd_route(dtype):
    X = structured(2000).astype(dtype)
    test = structured(300, seed=1).astype(dtype)
    auto, full = fit_pca(X, 6), fit_pca(X, 6, solver="full")
    assert auto.svd_solver == "covariance_eigh" and full.svd_solver == "full"
    assert sq_error(auto, test) == pytest.approx(sq_error(full, test), rel=1e-6)
    exact = fit_pca(X.astype(np.float64), 6, solver="full")  # float64 SVD: the reference
    assert sq_error(auto, test) == pytest.approx(sq_error(exact, test), rel=1e-9)
    np.testing.assert_allclose(auto.explained_variance_, full.explained_variance_, rtol=1e-4)
    # the same subspace: each route's components project onto the other's without loss
    P = auto.components_ @ full.components_.T
    np.testing.assert_allclose(np.abs(np.linalg.svd(P, compute_uv=False)), 1.0, atol=1e-4)
    # and truncating stays exact with it
    assert sq_error(truncate_pca(fit_pca(X, 10), 6), test) == pytest.approx(sq_error(auto, test), rel=1e-6)


def test_few_samples_keep_the_svd():
    assert fit_pca(structured(100), 3).svd_solver == "full"
    with pytest.raises(ConfigError, match="solver must be auto, covariance_eigh or full"):
        fit_pca(structured(100), 3, solver="arpack")


def test_incremental_pca_over_chunks_is_close_to_pca():
    X = structured(3000)
    test = structured(300, seed=1)
    ipca = fit_incremental_pca(np.array_split(X, 12), 4)
    assert ipca.n_components_ == 4 and int(ipca.n_samples_seen_) == 3000
    np.testing.assert_allclose(ipca.mean_, X.mean(0), rtol=1e-5)
    assert sq_error(ipca, test) == pytest.approx(sq_error(fit_pca(X, 4), test), rel=0.01)


def test_incremental_pca_joins_chunks_smaller_than_the_components():
    X = structured(200)
    ipca = fit_incremental_pca((X[i : i + 3] for i in range(0, 200, 3)), 8)  # 3 rows a chunk, 8 components
    assert ipca.n_components_ == 8 and int(ipca.n_samples_seen_) == 200
    assert fit_incremental_pca([X[:3]], 8).n_components_ == 3  # fewer rows than components in all


def test_incremental_pca_errors():
    with pytest.raises(DataError, match="a chunk has 5 values per sample, the first had 20"):
        fit_incremental_pca([structured(50), structured(50)[:, :5]], 2)
    with pytest.raises(DataError, match="at least 2 rows, got 1"):
        fit_incremental_pca([structured(1)], 2)
    with pytest.raises(DataError, match="at least 2 rows, got 0"):
        fit_incremental_pca([], 2)
    with pytest.raises(ConfigError, match="n_components must be ≥ 1"):
        fit_incremental_pca([structured(50)], 0)


def test_a_row_source_is_read_in_chunks(tmp_path):
    X = structured(1000)
    np.save(tmp_path / "x.npy", X)
    source = MemmapSource(tmp_path / "x.npy")
    ipca = fit_incremental_pca(source, 4, batch_rows=128)
    assert int(ipca.n_samples_seen_) == 1000
    test = structured(300, seed=1)
    assert sq_error(ipca, test) == pytest.approx(sq_error(fit_pca(X, 4), test), rel=0.01)
    # evaluation's baseline: incremental PCA for a source, the exact PCA for data in memory
    pca, mean = baseline_pca(source, 4)
    assert hasattr(pca, "n_samples_seen_") and mean.shape == (1, 20)
    np.testing.assert_allclose(mean[0], X.mean(0), rtol=1e-5)
