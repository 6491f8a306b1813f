"""Training on the real MNIST (../shared/data): slow, run with `make test-slow`."""
from __future__ import annotations

import numpy as np
import pytest

from aekit import AutoEncoder
from aekit.data import load
from support import SHARED

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mnist():
    if not (SHARED / "mnist" / "train-images-idx3-ubyte.gz").is_file():
        pytest.fail(f"real MNIST not found in {SHARED}: CI always has ../shared/data beside the checkout")
    train = load("mnist", split="train", data_dir=SHARED)
    test = load("mnist", split="test", data_dir=SHARED)
    idx = np.random.default_rng(0).permutation(len(train))[:6000]
    return train.X[idx], test.X[:2000]


def test_the_keras_denoiser_preset_learns_in_a_few_epochs(mnist):
    """The README's conv-dae on 6,000 images: trained with mse instead of the preset's bce it stayed
    flat for four epochs and output black images (test MSE ≈ 0.11, what zeros give)."""
    X, Xt = mnist
    est = AutoEncoder.from_preset("conv-dae", epochs=4, random_state=0).fit(X)
    recon = est.reconstruct(Xt)
    mse = float(((recon - Xt) ** 2).mean())
    mean_image = float(((X.mean(0, keepdims=True) - Xt) ** 2).mean())
    assert est.model_config_.loss == "bce"
    assert recon.std() > 0.2  # not a constant (black) output
    assert mse < 0.5 * mean_image, (mse, mean_image)


def test_a_small_autoencoder_beats_pca_with_the_same_code(mnist):
    from aekit.models.pca import fit_pca, pca_reconstruct

    X, Xt = mnist
    flat, flat_t = X.reshape(len(X), -1), Xt.reshape(len(Xt), -1)
    est = AutoEncoder(hidden=(256, 128), latent_dim=8, epochs=15, random_state=0).fit(flat)
    model = float(((est.reconstruct(flat_t) - flat_t) ** 2).mean())
    pca = float(((pca_reconstruct(fit_pca(flat, 8), flat_t) - flat_t) ** 2).mean())
    assert model < pca, (model, pca)
