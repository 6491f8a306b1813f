"""A VAE's per-sample ELBO, log-likelihood and reconstruction error on data left on disk (over the
memory budget): read a block of whole batches at a time, with one binarization stream and one
sampling generator, so every number equals the one computed in memory (they used to stop with
"it uses .astype"); a VAE detector's sampled scores likewise."""
import warnings

import numpy as np
import pytest

from aekit import AutoEncoderDetector, VariationalAutoEncoder
from aekit.data.limits import memory_budget_scope
from aekit.data.sources import MemmapSource, RowView
from aekit.errors import AekitWarning, ConfigError

BUDGET = "16KiB"  # 600 rows of 64 float32 values are 150 KiB: blocks of whole batches


@pytest.fixture(scope="module")
def pixels(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("vaesrc") / "pixels.npy"
    np.save(path, (rng.random((600, 64)) ** 2 * 255).astype(np.uint8))
    return path, MemmapSource(path).read(np.arange(600))


def vae(**params):
    return VariationalAutoEncoder(hidden=(16,), latent_dim=3, epochs=2, random_state=0, **params)


@pytest.mark.parametrize("binarize", [True, False])
def test_elbo_and_log_likelihood_on_disk_equal_those_in_memory(pixels, binarize):
    path, X = pixels
    model = vae().fit(X)
    with warnings.catch_warnings(record=True) as in_memory_warnings:
        warnings.simplefilter("always")
        elbo = model.elbo(X, binarize=binarize, n_samples=2, batch_size=50)
        loglik = model.log_likelihood(X[100:400], k=16, batch_size=32, binarize=binarize)
    with memory_budget_scope(BUDGET), warnings.catch_warnings(record=True) as on_disk_warnings:
        warnings.simplefilter("always")
        source = MemmapSource(path)
        np.testing.assert_array_equal(model.elbo(source, binarize=binarize, n_samples=2, batch_size=50), elbo)
        np.testing.assert_array_equal(model.log_likelihood(RowView(source, np.arange(100, 400)), k=16, batch_size=32,
                                                           binarize=binarize), loglik)
    grey = [str(w.message) for w in on_disk_warnings if issubclass(w.category, AekitWarning)]
    assert len(grey) == (0 if binarize else 2) and all("grey-level data" in m for m in grey)
    assert len([w for w in in_memory_warnings if issubclass(w.category, AekitWarning)]) == len(grey)


def test_score_and_reconstruction_error_on_disk(pixels):
    path, X = pixels
    model = vae().fit(X)
    with memory_budget_scope(BUDGET):
        source = MemmapSource(path)
        assert model.score(source) == model.score(X)
        np.testing.assert_allclose(model.reconstruction_error(source), model.reconstruction_error(X), rtol=1e-5)


def test_a_conditional_vae_on_disk_asks_for_an_array(pixels):
    path, X = pixels
    model = vae(conditional=True).fit(X, np.arange(600) % 2)
    with memory_budget_scope(BUDGET), pytest.raises(ConfigError, match="conditional VAE needs each row's label"):
        model.elbo(MemmapSource(path))


def test_a_vae_detector_on_disk_draws_its_scores_as_in_memory(pixels):
    path, X = pixels

    def detector():
        return AutoEncoderDetector(vae(), score="elbo", random_state=0)

    in_memory = detector().fit(X)
    with memory_budget_scope(BUDGET):
        on_disk = detector().fit(MemmapSource(path))
        scores = on_disk.decision_function(RowView(MemmapSource(path), np.arange(200, 600)))
    assert on_disk.threshold_ == in_memory.threshold_
    np.testing.assert_array_equal(scores, in_memory.decision_function(X[200:600]))
