"""The variational autoencoder: the bound, the likelihood estimate, generation, conditioning, errors."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from aekit.errors import AekitWarning, ConfigError, DataError, RunFolderError
from aekit.estimators import AutoEncoder, VariationalAutoEncoder
from aekit.models.vae import VAEConfig, VAEModel, kl_normal


def small(**kw) -> VariationalAutoEncoder:
    params = dict(hidden=(64,), latent_dim=4, epochs=15, batch_size=64, lr=2e-3, random_state=0)
    return VariationalAutoEncoder(**{**params, **kw})


@pytest.fixture(scope="module")
def vae(digits_splits):
    train, val, _ = digits_splits
    return small(binarize="dynamic").fit(train.flat(), X_val=val.flat())


@pytest.fixture(scope="module")
def cvae(digits_splits):
    train, val, _ = digits_splits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AekitWarning)
        return small(hidden=(128,), latent_dim=8, epochs=60, conditional=True).fit(
            train.flat(), train.y, X_val=val.flat(), y_val=val.y)


# -- the formulas --------------------------------------------------------------------------------
def test_kl_closed_form_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(3, 4, generator=g)
    logvar = torch.randn(3, 4, generator=g) * 0.5
    exact = kl_normal(mu, logvar).sum(1)
    std = torch.exp(0.5 * logvar)
    z = mu + std * torch.randn(200_000, 3, 4, generator=g, dtype=torch.float64)
    log_q = torch.distributions.Normal(mu.double(), std.double()).log_prob(z).sum(-1)
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    mc = (log_q - log_p).mean(0)
    assert torch.allclose(mc.float(), exact, atol=0.03), (mc, exact)
    assert torch.all(kl_normal(torch.zeros(2), torch.zeros(2)) == 0)


def test_bernoulli_log_likelihood_is_the_seeds_formula():
    model = VAEModel(VAEConfig(input_shape=(5,), hidden=(4,), latent_dim=2, loss="bce"))
    logits = torch.randn(3, 5)
    x = (torch.rand(3, 5) < 0.5).float()
    y = torch.sigmoid(logits)
    expected = (x * y.log() + (1 - x) * (1 - y).log()).sum(1)
    assert torch.allclose(model.log_px(logits, x), expected, atol=1e-5)


def test_gaussian_log_likelihood_with_standardization():
    cfg = VAEConfig(input_shape=(3,), hidden=(4,), latent_dim=2, output_activation="linear", standardize=True,
                    likelihood="gaussian", decoder_variance=0.25)
    model = VAEModel(cfg)
    X = torch.randn(50, 3) * torch.tensor([1.0, 2.0, 5.0]) + 3
    model.set_standardization(X)
    out = torch.randn(4, 3)  # model-space means
    x = X[:4]
    mean_data = out * model.input_scale + model.input_shift
    std_data = 0.5 * model.input_scale
    expected = torch.distributions.Normal(mean_data, std_data).log_prob(x).sum(1)
    assert torch.allclose(model.log_px(out, x), expected, atol=1e-4)


def test_reparameterization_gradients_reach_the_encoder(digits_flat):
    model = small()._build_model(small()._resolve_config(digits_flat[:10] > 0.5), 0)
    x = torch.from_numpy((digits_flat[:32] > 0.5).astype(np.float32))
    terms = model.training_terms(x, torch.Generator().manual_seed(0))
    terms["loss"].backward()
    for head in (model.mu_head, model.logvar_head):
        assert head.weight.grad is not None and torch.isfinite(head.weight.grad).all()
        assert head.weight.grad.abs().sum() > 0
    assert set(terms) >= {"loss", "neg_elbo", "recon", "kl"}
    assert torch.allclose(terms["loss"], terms["recon"] + terms["kl"])  # β = 1: the negative ELBO


def test_warmup_and_free_bits_change_only_the_objective(digits_flat):
    X = (digits_flat[:200] > 0.5).astype(np.float32)
    est = small(warmup_epochs=4, free_bits=0.5, epochs=6)
    model = est._build_model(est._resolve_config(X), 0)
    assert model.beta_now == 0.0
    betas = []
    for e in range(6):
        model.on_epoch_start(e)
        betas.append(model.beta_now)
    assert betas == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    terms = model.training_terms(torch.from_numpy(X), torch.Generator().manual_seed(0))
    assert terms["loss"] >= terms["recon"] + 4 * 0.5 - 1e-4  # each of 4 dims counts ≥ λ nats
    est.fit(X)
    hist = est.history_
    assert all(r["val_loss"] == pytest.approx(r["val_neg_elbo"]) for r in hist)  # validation: the true bound
    assert hist[0]["loss"] < hist[0]["neg_elbo"]  # epoch 1 has β = 0


# -- the bound and the importance-weighted estimate ------------------------------------------------
def test_history_loss_is_negative_elbo_in_nats(vae):
    last = vae.history_[-1]
    assert last["loss"] == pytest.approx(last["neg_elbo"])
    assert 10 < last["loss"] < 45  # nats per 64-pixel binary image


def test_elbo_is_below_the_importance_weighted_estimate(vae, digits_splits):
    X = digits_splits[2].flat()
    elbo = vae.elbo(X, n_samples=20, random_state=1)
    ll = vae.log_likelihood(X, k=500, random_state=2)
    assert elbo.shape == ll.shape == (len(X),)
    assert np.isfinite(ll).all() and (ll < 0).all()
    assert ll.mean() > elbo.mean()
    assert ll.mean() - elbo.mean() < 5
    # more samples give a tighter (higher) bound on average
    assert vae.log_likelihood(X, k=20, random_state=3).mean() < ll.mean()


def test_k1_estimate_is_unbiased_for_the_elbo(vae, digits_splits):
    X = digits_splits[2].flat()
    ref = vae.elbo(X, n_samples=200, random_state=10)  # close to the exact per-sample ELBO
    d = np.concatenate([vae.log_likelihood(X, k=1, random_state=s) - ref for s in range(4)])
    se = d.std(ddof=1) / math.sqrt(len(d))
    assert abs(d.mean()) < 4 * se + 0.02, (d.mean(), se)


def test_log_likelihood_is_seeded_and_chunked(vae, digits_splits):
    X = digits_splits[2].flat()[:20]
    a = vae.log_likelihood(X, k=300, random_state=5, batch_size=7)
    b = vae.log_likelihood(X, k=300, random_state=5, batch_size=20)
    assert np.array_equal(a, vae.log_likelihood(X, k=300, random_state=5, batch_size=7))
    assert np.allclose(a, b, atol=0.5)  # different chunking draws differently, same estimate
    model = vae.model_
    x = torch.from_numpy((X > 0.5).astype(np.float32))
    with torch.inference_mode():
        w_small = model.log_weights(x, 64, torch.Generator().manual_seed(0), max_elements=5000)
        w_big = model.log_weights(x, 64, torch.Generator().manual_seed(0))
    assert w_small.shape == w_big.shape == (20, 64)


def test_log_likelihood_keeps_a_running_log_sum_exp(vae, digits_splits, monkeypatch):
    """k = 10**9 used to hold all B × k log weights (14 GB after 10 minutes); the estimate is now a
    running log-sum-exp over chunks: the same number, with at most one chunk in memory."""
    import math

    x = torch.from_numpy((digits_splits[2].flat()[:4] > 0.5).astype(np.float32))
    model = vae.model_
    with torch.inference_mode():
        full = torch.logsumexp(model.log_weights(x, 500, torch.Generator().manual_seed(3), max_elements=4000), 1)
        chunks = list(model.log_weight_chunks(x, 500, torch.Generator().manual_seed(3), max_elements=4000))
        assert len(chunks) > 5 and max(c.shape[1] for c in chunks) < 500
        monkeypatch.setattr(type(model), "log_weights", lambda *a, **k: pytest.fail("log_weights holds all k"))
        import functools

        small = functools.partialmethod(type(model).log_weight_chunks, max_elements=4000)
        monkeypatch.setattr(type(model), "log_weight_chunks", small)
        running = model.log_likelihood(x, 500, torch.Generator().manual_seed(3))
    assert torch.allclose(running, full - math.log(500), atol=1e-4)


# -- reproducibility, transform, run folders -----------------------------------------------------------
def test_seeded_training_is_reproducible(digits_flat):
    X = digits_flat[:300]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AekitWarning)
        a = small(epochs=3, binarize="dynamic").fit(X)
        b = small(epochs=3, binarize="dynamic").fit(X)
        c = small(epochs=3, binarize="dynamic", random_state=1).fit(X)
    assert np.array_equal(a.transform(X), b.transform(X))
    assert [r["loss"] for r in a.history_] == [r["loss"] for r in b.history_]
    assert not np.array_equal(a.transform(X), c.transform(X))
    assert np.array_equal(a.sample(5, random_state=3), b.sample(5, random_state=3))


def test_transform_is_the_posterior_mean(vae, digits_flat):
    X = digits_flat[:10]
    Z = vae.transform(X)
    with torch.inference_mode():
        mu, _ = vae.model_.posterior(torch.from_numpy(X))
    assert Z.shape == (10, 4) and np.allclose(Z, mu.numpy())
    assert np.array_equal(Z, vae.transform(X))  # deterministic


def test_save_load_round_trip(vae, cvae, digits_flat, digits_splits, tmp_path):
    X = digits_flat[:20]
    vae.save(tmp_path / "vae")
    back = VariationalAutoEncoder.load(tmp_path / "vae")
    assert np.array_equal(back.transform(X), vae.transform(X))
    assert np.array_equal(back.sample(4, random_state=1), vae.sample(4, random_state=1))
    assert np.allclose(back.log_likelihood(X, k=50), vae.log_likelihood(X, k=50))
    assert back.get_params() == vae.get_params()
    assert back.model_config_ == vae.model_config_
    y = digits_splits[0].y[:20]
    cvae.save(tmp_path / "cvae")
    cback = VariationalAutoEncoder.load(tmp_path / "cvae")
    assert list(cback.classes_) == list(cvae.classes_)
    assert np.array_equal(cback.transform(digits_splits[0].flat()[:20], y), cvae.transform(digits_splits[0].flat()[:20], y))
    with pytest.raises(RunFolderError, match="vae"):
        AutoEncoder.load(tmp_path / "vae")


def test_presets_make_vaes():
    assert isinstance(AutoEncoder.from_preset("vae"), VariationalAutoEncoder)
    assert AutoEncoder.from_preset("cvae").conditional is True
    assert VariationalAutoEncoder.from_preset("conv-vae").arch == "conv"
    with pytest.raises(ConfigError):
        VariationalAutoEncoder.from_preset("dae")


# -- generation ------------------------------------------------------------------------------------------
def test_sample_and_interpolate_shapes(vae, digits_flat):
    s = vae.sample(7, random_state=0)
    assert s.shape == (7, 64) and (s >= 0).all() and (s <= 1).all()
    assert np.array_equal(s, vae.sample(7, random_state=0))
    path = vae.interpolate(digits_flat[0], digits_flat[1], steps=5)
    assert path.shape == (5, 64)
    ends = vae.inverse_transform(vae.transform(digits_flat[:2]))
    assert np.allclose(path[[0, -1]], ends, atol=1e-6)


def test_image_input_gives_image_samples(digits_splits):
    train = digits_splits[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AekitWarning)
        est = small(arch="conv", hidden=(8,), epochs=2, validation_fraction=0).fit(train.X)
    assert est.sample(3, random_state=0).shape == (3, 1, 8, 8)
    assert est.transform(train.X[:5]).shape == (5, 4)
    assert np.isfinite(est.log_likelihood(train.X[:5], k=10, binarize=True)).all()


def test_gaussian_likelihood_for_unbounded_data(digits_flat):
    X = digits_flat[:300] * 4 - 2
    est = small(epochs=3).fit(X)
    assert est.model_config_.likelihood == "gaussian"
    assert est.sample(2, random_state=0).shape == (2, 64)
    assert np.isfinite(est.log_likelihood(X[:10], k=20)).all()
    fixed = small(epochs=2, decoder_variance=0.5).fit(X)
    assert "decoder_logvar" not in dict(fixed.model_.named_parameters())


def test_conditional_samples_are_of_the_requested_class(cvae, digits_splits):
    from sklearn.linear_model import LogisticRegression

    train, _, test = digits_splits
    clf = LogisticRegression(max_iter=500).fit(train.flat(), train.y)
    assert clf.score(test.flat(), test.y) > 0.9
    labels = np.repeat(np.arange(10), 30)
    samples = cvae.sample(len(labels), y=labels, random_state=0)
    acc = (clf.predict(samples) == labels).mean()
    assert acc >= 0.7, acc
    assert (clf.predict(cvae.sample(20, y=7, random_state=1)) == 7).mean() >= 0.6


# -- errors ------------------------------------------------------------------------------------------------
def test_bad_input_errors(vae, cvae, digits_flat):
    X = digits_flat[:50]
    with pytest.raises(ConfigError, match="labels"):
        small(conditional=True).fit(X)
    with pytest.raises(DataError, match="not one of the classes"):
        cvae.sample(3, y=12)
    with pytest.raises(ConfigError, match="not conditional"):
        vae.sample(3, y=1)
    with pytest.raises(ConfigError, match="pass the labels"):
        cvae.transform(X)
    for k in (0, -3):
        with pytest.raises(ConfigError, match="k"):
            vae.log_likelihood(X, k=k)
    with pytest.raises(ConfigError, match="n_samples"):
        vae.elbo(X, n_samples=0)
    with pytest.raises(ConfigError):
        vae.sample(0)
    with pytest.raises(ConfigError, match="Bernoulli"):
        small(likelihood="bernoulli").fit(X * 2 - 1)
    with pytest.raises(ConfigError, match="binarize"):
        small(binarize="sometimes").fit(X)
    with pytest.raises(ConfigError, match="binarize"):
        small(binarize="dynamic", likelihood="gaussian").fit(X)
    assert small(epochs=1, likelihood="gaussian").fit(X).model_config_.binarize is None  # auto: only for Bernoulli
    with pytest.raises(ConfigError, match="likelihood"):
        small(likelihood="poisson").fit(X)
    with pytest.raises(ConfigError, match="free_bits"):
        small(free_bits=-1).fit(X)
    with pytest.raises(DataError, match="NaN"):
        vae.transform(np.full((2, 64), np.nan))
    with pytest.raises(DataError):
        vae.transform(np.zeros((2, 10)))


def test_grey_data_with_bernoulli_warns(digits_flat):
    X = digits_flat[:100]
    with pytest.warns(AekitWarning, match="binarized"):
        est = small(epochs=1, binarize=None).fit(X)
    with pytest.warns(AekitWarning, match="not a true log-likelihood"):
        est.log_likelihood(X[:5], k=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AekitWarning)
        static = small(epochs=1, binarize="static").fit(X)
        static.elbo(X[:5])  # evaluated on a seeded binarization: no warning
        static.log_likelihood((X[:5] > 0.5).astype(np.float32), k=5, binarize=False)


def test_the_default_vae_on_grey_data_is_a_proper_bernoulli_model(digits_flat):
    """binarize="auto": grey-level data under the Bernoulli likelihood is binarized afresh each batch
    (the ELBO is then that of a probability model of binary images), with no warning; binary data
    is used as it is."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", AekitWarning)
        est = small(epochs=1).fit(digits_flat[:100])
        assert est.model_config_.binarize == "dynamic"
        est.elbo(digits_flat[:5])
        binary = (digits_flat[:100] > 0.5).astype(np.float32)
        assert small(epochs=1).fit(binary).model_config_.binarize is None


def test_a_sample_that_cannot_fit_is_refused_with_its_size(vae, monkeypatch):
    """vae.sample(10**12) raised a raw allocation error."""
    from aekit.errors import DataError

    with pytest.raises(DataError, match=r"n=1000000000000 samples of 64 values need .*TiB, over the memory budget"):
        vae.sample(10**12)
    monkeypatch.setenv("AEKIT_MEMORY_BUDGET", "1KiB")
    with pytest.raises(DataError, match="over the memory budget of 1.0 KiB"):
        vae.sample(100)
    monkeypatch.delenv("AEKIT_MEMORY_BUDGET")
    assert vae.sample(3, random_state=0).shape == (3, 64)
