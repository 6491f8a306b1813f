import numpy as np
import pytest
from sklearn.decomposition import PCA

from aekit.estimators import AutoEncoder
from aekit.models.pca import EigenPCA


def test_eigendecomposition_pca_matches_scikit_learn(digits_flat):
    X = digits_flat.astype(np.float64)
    ours = EigenPCA(10).fit(X)
    ref = PCA(10, svd_solver="full").fit(X)
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-8)
    np.testing.assert_allclose(ours.components_, ref.components_, atol=1e-7)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), atol=1e-7)
    np.testing.assert_allclose(ours.inverse_transform(ours.transform(X)), ref.inverse_transform(ref.transform(X)), atol=1e-7)


def test_seed_example_covariance_is_rebuilt_from_eigenvectors():
    # The seeds' small example: Σ = Γ · D_λ · Γᵀ after standardization.
    x = np.array([[1, 2, 3], [2, 4, 5], [3, 7, 6], [4, 7, 7]], dtype=float)
    z = (x - x.mean(0)) / x.std(0, ddof=1)
    p = EigenPCA(3).fit(z)
    cov = p.components_.T @ np.diag(p.explained_variance_) @ p.components_
    np.testing.assert_allclose(cov, np.cov(z, rowvar=False), atol=1e-12)


def test_linear_autoencoder_reaches_pca_error(digits_flat):
    """The seeds' "PCA is a linear encoder": a linear AE trained with MSE reaches PCA's error."""
    X = digits_flat
    k = 6
    pca = PCA(k, svd_solver="full").fit(X)
    pca_err = float(((pca.inverse_transform(pca.transform(X)) - X) ** 2).mean())
    ae = AutoEncoder(hidden=(), latent_dim=k, activation="linear", output_activation="linear", epochs=300,
                     batch_size=256, lr=1e-2, lr_schedule="cosine", validation_fraction=0.0, random_state=0).fit(X)
    ae_err = -ae.score(X)
    assert ae_err >= pca_err * (1 - 1e-3)  # PCA is the optimum among linear maps
    assert ae_err <= pca_err * 1.02, (ae_err, pca_err)


def test_truncated_pca_equals_a_pca_fitted_with_fewer_components(digits_flat):
    from aekit.models.pca import fit_pca, pca_reconstruct, truncate_pca

    full = fit_pca(digits_flat, 40)
    for k in (1, 8, 40):
        np.testing.assert_allclose(pca_reconstruct(truncate_pca(full, k), digits_flat),
                                   pca_reconstruct(fit_pca(digits_flat, k), digits_flat), atol=1e-5)
    with pytest.raises(Exception, match="cannot keep"):
        truncate_pca(full, 41)
