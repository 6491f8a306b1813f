"""RBM: energies against brute force and scikit-learn, CD / PCD training, input checks."""
import itertools
import math

import numpy as np
import pytest
import torch
from scipy import integrate
from sklearn.datasets import load_digits
from sklearn.neural_network import BernoulliRBM
from sklearn.preprocessing import StandardScaler

from aekit.errors import ConfigError, DataError, TrainingError
from aekit.nn.rbm import HIDDEN_UNITS, RBM, VISIBLE_UNITS
from aekit.train.rbm import train_rbm

COMBOS = list(itertools.product(VISIBLE_UNITS, HIDDEN_UNITS))


@pytest.fixture(scope="module")
def digits_binary() -> torch.Tensor:
    return torch.from_numpy((load_digits().data / 16.0 > 0.5).astype(np.float32))


@pytest.fixture(scope="module")
def digits_prob() -> torch.Tensor:
    return torch.from_numpy((load_digits().data / 16.0).astype(np.float32))


@pytest.fixture(scope="module")
def digits_std() -> torch.Tensor:
    return torch.from_numpy(StandardScaler().fit_transform(load_digits().data).astype(np.float32))


def _random_rbm(nv, nh, visible="bernoulli", hidden="bernoulli", scale=0.7, seed=0) -> RBM:
    torch.manual_seed(seed)
    rbm = RBM(nv, nh, visible, hidden).double()
    with torch.no_grad():
        rbm.weight.normal_(0, scale)
        rbm.hidden_bias.normal_(0, scale)
        rbm.visible_bias.normal_(0, scale)
    return rbm


def _sklearn_rbm(X: np.ndarray, n_components: int, **kw) -> BernoulliRBM:
    return BernoulliRBM(n_components=n_components, learning_rate=0.05, batch_size=10, random_state=0, **kw).fit(X)


def _copy_from_sklearn(sk: BernoulliRBM) -> RBM:
    rbm = RBM(sk.components_.shape[1], sk.components_.shape[0]).double()
    with torch.no_grad():
        rbm.weight.copy_(torch.from_numpy(sk.components_))
        rbm.hidden_bias.copy_(torch.from_numpy(sk.intercept_hidden_))
        rbm.visible_bias.copy_(torch.from_numpy(sk.intercept_visible_))
    return rbm


# --- energies ---------------------------------------------------------------------------
def test_free_energy_matches_sklearn(digits_binary):
    X = digits_binary.double().numpy()
    sk = _sklearn_rbm(X, 32, n_iter=3)
    rbm = _copy_from_sklearn(sk)
    ours = rbm.free_energy(torch.from_numpy(X)).detach().numpy()
    theirs = sk._free_energy(X)
    assert np.ptp(theirs) > 1.0  # trained weights: the energies really differ between rows
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-9)


def test_pseudo_likelihood_is_exact_with_one_visible_unit():
    # With one visible unit the "random" flip is forced, so ours and sklearn's must agree exactly.
    X = np.array([[0.0], [1.0], [1.0], [0.0]])
    sk = BernoulliRBM(n_components=3, random_state=0, n_iter=1).fit(X)
    sk.components_[:] = [[1.5], [-2.0], [0.3]]
    sk.intercept_hidden_[:] = [0.2, -0.4, 1.0]
    sk.intercept_visible_[:] = [-0.7]
    rbm = _copy_from_sklearn(sk)
    ours = rbm.pseudo_likelihood(torch.from_numpy(X)).detach().numpy()
    np.testing.assert_allclose(ours, sk.score_samples(X), rtol=1e-12)
    assert ours[0] != ours[1]


def test_pseudo_likelihood_agrees_with_sklearn_on_average(digits_binary):
    """Both estimators flip one random unit per row, so single rows differ; their means over
    R repeats of every row estimate the same number. Tolerance: 5 standard errors of the
    difference of the two means (the rows' PL values have sd ≈ 30 here)."""
    X = digits_binary.double().numpy()
    sk = _sklearn_rbm(X, 32, n_iter=5)
    rbm = _copy_from_sklearn(sk)
    big = np.tile(X, (30, 1))  # ≈ 54 000 rows
    theirs = sk.score_samples(big)
    g = torch.Generator().manual_seed(1)
    ours = rbm.pseudo_likelihood(torch.from_numpy(big), generator=g).detach().numpy()
    se = math.sqrt(ours.var() / len(ours) + theirs.var() / len(theirs))
    assert abs(ours.mean() - theirs.mean()) < 5 * se, (ours.mean(), theirs.mean(), se)
    assert se < 0.25  # the check is sharp: means around -20, tolerance ≈ 1
    # a wrong flip (none, or all units) would sit far away:
    untouched = 64 * math.log(0.5)
    assert abs(theirs.mean() - untouched) > 20 * se


def _energy(rbm: RBM, v: np.ndarray, h: np.ndarray) -> float:
    """E(v, h) written out from the formulas in the module docstring, independently of the code."""
    W = rbm.weight.detach().numpy()
    b = rbm.visible_bias.detach().numpy()
    c = rbm.hidden_bias.detach().numpy()
    vis = -b @ v if rbm.visible == "bernoulli" else 0.5 * np.sum((v - b) ** 2)
    hid = -c @ h if rbm.hidden == "bernoulli" else 0.5 * np.sum((h - c) ** 2)
    return float(vis + hid - h @ W @ v)


def _brute_free_energy(rbm: RBM, v: np.ndarray) -> float:
    """-log Σ_h exp(-E): enumeration for Bernoulli hidden units, numerical integration over h (with
    the standard normal's normalizer (2π)^(-n_h/2), as documented) for linear ones: scipy's
    adaptive quad for one hidden unit, a fine trapezoid grid for two (spectrally accurate for a
    smooth integrand that vanishes at the ends; quad's 2-D version took seconds per point)."""
    nh = rbm.n_hidden
    if rbm.hidden == "bernoulli":
        total = sum(math.exp(-_energy(rbm, v, np.array(h, float))) for h in itertools.product([0, 1], repeat=nh))
    elif nh == 1:
        total, _ = integrate.quad(lambda h: math.exp(-_energy(rbm, v, np.array([h]))), -40, 40,
                                  epsabs=0, epsrel=1e-12, limit=200)
    else:
        assert nh == 2
        grid = np.linspace(-25, 25, 1001)
        h1, h2 = np.meshgrid(grid, grid, indexing="ij")
        W = rbm.weight.detach().numpy()
        b = rbm.visible_bias.detach().numpy()
        c = rbm.hidden_bias.detach().numpy()
        vis = -b @ v if rbm.visible == "bernoulli" else 0.5 * np.sum((v - b) ** 2)
        a = W @ v
        energy = vis + 0.5 * ((h1 - c[0]) ** 2 + (h2 - c[1]) ** 2) - h1 * a[0] - h2 * a[1]
        total = np.trapezoid(np.trapezoid(np.exp(-energy), grid, axis=1), grid)
    total /= (2 * math.pi) ** (nh / 2) if rbm.hidden == "linear" else 1
    return -math.log(total)


BRUTE_CASES = [(v, h, n) for v, h in COMBOS for n in ((3,) if h == "bernoulli" else (1, 2))]


@pytest.mark.parametrize("visible,hidden,nh", BRUTE_CASES)
def test_free_energy_against_brute_force(visible, hidden, nh):
    scale = 0.7 if visible == "bernoulli" else 0.3  # Gaussian-linear must stay normalizable (‖W‖ < 1)
    rbm = _random_rbm(3, nh, visible, hidden, scale=scale)
    if visible == "bernoulli":
        vs = [np.array(v, float) for v in itertools.product([0, 1], repeat=3)]
    else:
        vs = [np.random.default_rng(i).normal(size=3) * 1.5 for i in range(4)]
    ours = rbm.free_energy(torch.tensor(np.stack(vs))).detach().numpy()
    brute = np.array([_brute_free_energy(rbm, v) for v in vs])
    np.testing.assert_allclose(ours, brute, rtol=1e-7, atol=1e-7)
    # the differences (what sampling and the PL see) too, with spread so they are not trivial
    np.testing.assert_allclose(np.diff(ours), np.diff(brute), atol=1e-7)
    assert np.ptp(brute) > 0.1


def test_gaussian_visible_marginal_integrates_like_the_partition_function():
    """For a Gaussian-Bernoulli RBM with one visible unit, ∫ exp(-F(v)) dv must equal
    Σ_h ∫ exp(-E(v, h)) dv, the partition function computed the other way round."""
    rbm = _random_rbm(1, 3, "gaussian", "bernoulli", scale=0.8)
    fe = lambda v: math.exp(-rbm.free_energy(torch.tensor([[v]], dtype=torch.float64)).item())  # noqa: E731
    z_v, _ = integrate.quad(fe, -40, 40, epsabs=0, epsrel=1e-11)
    z_h = 0.0
    for h in itertools.product([0, 1], repeat=3):
        z_h += integrate.quad(lambda v: math.exp(-_energy(rbm, np.array([v]), np.array(h, float))), -40, 40,
                              epsabs=0, epsrel=1e-11)[0]
    assert z_v == pytest.approx(z_h, rel=1e-8)


def test_gibbs_sampler_draws_from_the_free_energy_distribution():
    """20 000 chains of a tiny Bernoulli RBM after 30 Gibbs steps: the empirical distribution of v
    must match p(v) ∝ exp(-F(v)) (total variation well under 0.03; sampling noise ≈ 0.01)."""
    rbm = _random_rbm(3, 2, scale=1.2, seed=3)
    states = torch.tensor(list(itertools.product([0, 1], repeat=3)), dtype=torch.float64)
    p = torch.softmax(-rbm.free_energy(states), 0).detach()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        v = rbm.gibbs(torch.zeros(20000, 3, dtype=torch.float64), steps=30, generator=g)
    codes = (v @ torch.tensor([4.0, 2.0, 1.0], dtype=torch.float64)).long()
    empirical = torch.bincount(codes, minlength=8).double() / len(codes)
    tv = 0.5 * (empirical - p).abs().sum().item()
    assert tv < 0.03, (empirical, p)
    assert p.max() < 0.6  # a distribution with some spread, so the test can fail


# --- units, shapes, layout ----------------------------------------------------------------
def test_gibbs_and_samples_shapes_and_support():
    rbm = _random_rbm(6, 4)
    v = torch.bernoulli(torch.full((5, 6), 0.5, dtype=torch.float64))
    g = torch.Generator().manual_seed(0)
    out = rbm.gibbs(v, steps=3, generator=g)
    assert out.shape == (5, 6)
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    mean, sample = rbm.sample_hidden(v, g)
    assert mean.shape == sample.shape == (5, 4)
    assert set(sample.unique().tolist()) <= {0.0, 1.0}
    assert ((mean > 0) & (mean < 1)).all()
    vm, vs = rbm.sample_visible(sample, g)
    assert vm.shape == vs.shape == (5, 6)
    # the same generator state gives the same chain
    chain = lambda: rbm.gibbs(v, 3, torch.Generator().manual_seed(7))  # noqa: E731
    assert torch.equal(chain(), chain())


def test_real_valued_units_have_unit_variance_noise():
    rbm = _random_rbm(4, 3, "gaussian", "linear")
    v = torch.randn(1, 4, dtype=torch.float64).expand(20000, 4)
    g = torch.Generator().manual_seed(0)
    h_mean, h = rbm.sample_hidden(v, g)
    torch.testing.assert_close(h_mean, rbm.hidden_pre(v))  # linear hidden: the mean is the pre-activation
    assert (h - h_mean).std(0).sub(1).abs().max() < 0.03
    assert (h - h_mean).mean(0).abs().max() < 0.03
    v_mean, v_s = rbm.sample_visible(h[:5], g)
    torch.testing.assert_close(v_mean, h[:5] @ rbm.weight + rbm.visible_bias)
    assert v_s.shape == (5, 4) and not torch.equal(v_s, v_mean)
    out = rbm.gibbs(v[:5], steps=2, generator=g)
    assert out.shape == (5, 4) and out.dtype == torch.float64


def test_weight_layout_copies_into_an_encoder_layer():
    rbm = _random_rbm(7, 3)
    enc = torch.nn.Linear(7, 3).double()
    with torch.no_grad():
        enc.weight.copy_(rbm.weight)
        enc.bias.copy_(rbm.hidden_bias)
    v = torch.rand(4, 7, dtype=torch.float64)
    torch.testing.assert_close(torch.sigmoid(enc(v)), rbm.hidden_mean(v))
    torch.testing.assert_close(rbm(v), rbm.hidden_mean(v))
    torch.testing.assert_close(rbm.visible_mean(rbm.hidden_mean(v)),
                               torch.sigmoid(rbm.hidden_mean(v) @ enc.weight + rbm.visible_bias))
    assert set(rbm.state_dict()) == {"weight", "hidden_bias", "visible_bias"}
    assert "n_visible=7" in repr(rbm) and "'bernoulli'" in repr(rbm)


# --- training -----------------------------------------------------------------------------
def test_persistent_cd_matches_sklearn_pseudo_likelihood(digits_binary):
    """Same data, same model size, same kind of training (PCD, lr 0.05, batch 10, 15 epochs):
    sklearn reaches a PL of about -17 nats per digit, an untrained RBM -44. Ours must be within a
    factor 1.5 of sklearn's either way. (PCD needs modest momentum: with 0.9 the fantasy chains
    cannot keep up and the PL drifts back to about -24, so the test uses 0.5 throughout.)"""
    X = digits_binary
    sk = BernoulliRBM(n_components=64, learning_rate=0.05, batch_size=10, n_iter=15, random_state=0).fit(X.numpy())
    sk_pl = np.mean([sk.set_params(random_state=r).score_samples(X.numpy()).mean() for r in range(5)])

    torch.manual_seed(0)
    rbm = RBM(64, 64)
    g = torch.Generator().manual_seed(0)
    untrained = np.mean([rbm.pseudo_likelihood(X, g).mean().item() for _ in range(5)])
    history = train_rbm(rbm, X, epochs=15, batch_size=10, lr=0.05, momentum=(0.5, 0.5), persistent=True,
                        progress=False)
    ours = np.mean([rbm.pseudo_likelihood(X, g).mean().item() for _ in range(5)])
    print(f"PL: ours {ours:.2f}, sklearn {sk_pl:.2f}, untrained {untrained:.2f}")
    assert 1.5 * sk_pl <= ours <= sk_pl / 1.5, (ours, sk_pl)
    assert ours > untrained + 15 and sk_pl > untrained + 15
    assert history[-1]["pseudo_likelihood"] > history[0]["pseudo_likelihood"] + 3


@pytest.mark.parametrize("persistent", [False, True])
def test_negative_chain_starts_from_data_for_cd_and_persists_for_pcd(digits_binary, persistent):
    """CD starts each batch's negative chain from the batch's own hidden sample; PCD continues the
    fantasy chains of the previous batch instead (observed by wrapping the two samplers)."""
    torch.manual_seed(0)
    rbm = RBM(64, 16)
    data_h, chain_in = [], []
    sample_hidden, visible_mean = rbm.sample_hidden, rbm.visible_mean

    def spy_hidden(v, generator=None):
        out = sample_hidden(v, generator)
        data_h.append(out[1].clone())
        return out

    def spy_visible(h):  # every way down goes through visible_mean; binary h are chain states
        if ((h == 0) | (h == 1)).all():
            chain_in.append(h.clone())
        return visible_mean(h)

    rbm.sample_hidden, rbm.visible_mean = spy_hidden, spy_visible
    train_rbm(rbm, digits_binary[:200], epochs=1, batch_size=50, persistent=persistent, progress=False)
    assert len(data_h) == len(chain_in) == 4
    same = [torch.equal(d, c) for d, c in zip(data_h, chain_in)]
    assert same == ([True, False, False, False] if persistent else [True] * 4)


@pytest.mark.parametrize("k", [1, 3])
def test_cd_k_lowers_the_reconstruction_error(digits_prob, k):
    torch.manual_seed(0)
    rbm = RBM(64, 32)
    before = rbm.reconstruction_error(digits_prob).mean().item()
    hist = train_rbm(rbm, digits_prob, epochs=6, batch_size=50, k=k, progress=False)
    after = rbm.reconstruction_error(digits_prob).mean().item()
    assert after < 0.5 * before, (before, after)
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert [r["epoch"] for r in hist] == list(range(1, 7))
    assert hist[-1]["pseudo_likelihood"] > hist[0]["pseudo_likelihood"]


def test_training_is_reproducible(digits_prob):
    def run(seed):
        torch.manual_seed(0)
        rbm = RBM(64, 16)
        h = train_rbm(rbm, digits_prob[:500], epochs=2, batch_size=50, seed=seed, persistent=True, progress=False)
        return rbm, [{k: v for k, v in r.items() if k != "seconds"} for r in h]

    a, ha = run(1)
    b, hb = run(1)
    c, _ = run(2)
    assert ha == hb
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.weight, c.weight)


@pytest.mark.parametrize("visible,hidden,lr", [("gaussian", "bernoulli", 0.005), ("gaussian", "linear", None),
                                               ("bernoulli", "linear", None)])
def test_real_valued_layers_train(digits_std, digits_prob, visible, hidden, lr):
    X = digits_std if visible == "gaussian" else digits_prob
    torch.manual_seed(0)
    rbm = RBM(64, 32, visible, hidden)
    before = rbm.reconstruction_error(X).mean().item()
    hist = train_rbm(rbm, X, epochs=10, batch_size=50, lr=lr, progress=False)
    after = rbm.reconstruction_error(X).mean().item()
    assert all(torch.isfinite(p).all() for p in rbm.parameters())
    assert after < 0.6 * before, (before, after)
    assert hist[0]["lr"] == (lr if lr is not None else 0.001)
    assert ("pseudo_likelihood" in hist[0]) == (visible == "bernoulli")


def test_history_rows_and_validation(digits_prob, capsys):
    torch.manual_seed(0)
    rbm = RBM(64, 16)
    hist = train_rbm(rbm, digits_prob[:400].numpy(), X_val=digits_prob[400:600], epochs=2, batch_size=40,
                     stage="rbm1", progress=True)
    assert set(hist[0]) == {"stage", "epoch", "loss", "pseudo_likelihood", "val_loss", "lr", "seconds"}
    assert hist[0]["stage"] == "rbm1" and hist[0]["lr"] == 0.1
    # the last val_loss is the trained model's mean reconstruction error on X_val
    assert hist[-1]["val_loss"] == pytest.approx(rbm.reconstruction_error(digits_prob[400:600]).mean().item(), rel=1e-5)
    capsys.readouterr()


# --- errors -------------------------------------------------------------------------------
def test_bad_data_raises_data_error(digits_std, digits_prob):
    rbm = RBM(64, 8)
    with pytest.raises(DataError, match="gaussian"):
        train_rbm(rbm, digits_std, epochs=1, progress=False)
    bad = digits_prob.clone()
    bad[3, 5] = float("nan")
    with pytest.raises(DataError, match="NaN"):
        train_rbm(rbm, bad, epochs=1, progress=False)
    with pytest.raises(DataError, match="NaN"):
        train_rbm(RBM(64, 8, "gaussian"), bad, epochs=1, progress=False)
    with pytest.raises(DataError, match="63 columns"):
        train_rbm(rbm, digits_prob[:, :63], epochs=1, progress=False)
    with pytest.raises(DataError, match="empty"):
        train_rbm(rbm, digits_prob[:0], epochs=1, progress=False)
    with pytest.raises(DataError, match="X_val"):
        train_rbm(rbm, digits_prob, X_val=digits_prob[:, :10], epochs=1, progress=False)


def test_bad_arguments_raise_config_error(digits_prob):
    rbm = RBM(64, 8)
    with pytest.raises(ConfigError, match="k"):
        train_rbm(rbm, digits_prob, k=0, progress=False)
    with pytest.raises(ConfigError, match="epochs"):
        train_rbm(rbm, digits_prob, epochs=0, progress=False)
    with pytest.raises(ConfigError, match="learning rate"):
        train_rbm(rbm, digits_prob, lr=-1.0, progress=False)
    with pytest.raises(ConfigError, match="momentum"):
        train_rbm(rbm, digits_prob, momentum=(0.5, 1.5), progress=False)
    with pytest.raises(ConfigError, match="Bernoulli visible"):
        RBM(4, 2, visible="gaussian").pseudo_likelihood(torch.zeros(3, 4))
    with pytest.raises(ConfigError, match="visible"):
        RBM(4, 2, visible="poisson")
    with pytest.raises(ConfigError, match="hidden"):
        RBM(4, 2, hidden="relu")
    with pytest.raises(ConfigError, match="n_hidden"):
        RBM(4, 0)


def test_divergence_raises_training_error_and_keeps_finite_weights(digits_std):
    torch.manual_seed(0)
    rbm = RBM(64, 32, "gaussian", "linear", init_std=0.1)
    with pytest.raises(TrainingError, match="[Ll]ower the learning rate"):
        train_rbm(rbm, digits_std * 10, epochs=3, lr=1.0, momentum=(0.9, 0.9), batch_size=50, progress=False)
    assert all(torch.isfinite(p).all() for p in rbm.parameters())
