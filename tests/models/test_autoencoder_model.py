import math

import numpy as np
import pytest
import torch

from aekit.errors import ConfigError
from aekit.models.autoencoder import AutoEncoderModel, ModelConfig
from aekit.models.losses import parse_sparsity, ssim


def make(**kw):
    base = dict(input_shape=(1, 8, 8), hidden=(32, 16), latent_dim=4)
    base.update(kw)
    return AutoEncoderModel(ModelConfig(**base))


def test_shapes_and_mirrored_decoder():
    m = make()
    x = torch.rand(5, 1, 8, 8)
    assert m.encode(x).shape == (5, 4)
    assert m(x).shape == x.shape
    assert m(x.reshape(5, -1)).shape == (5, 64)
    enc = [l.weight.shape for l in m.encoder if isinstance(l, torch.nn.Linear)]
    dec = [l.weight.shape for l in m.decoder if isinstance(l, torch.nn.Linear)]
    assert enc == [(32, 64), (16, 32), (4, 16)]
    assert dec == [(16, 4), (32, 16), (64, 32)]  # the mirror
    out = m(x)
    assert out.min() >= 0 and out.max() <= 1  # sigmoid output for [0, 1] data


def test_tied_weights_share_the_transposed_encoder_matrix():
    m = make(tied=True)
    n_untied = sum(p.numel() for p in make().parameters())
    n_tied = sum(p.numel() for p in m.parameters())
    weights = 64 * 32 + 32 * 16 + 16 * 4
    assert n_untied - n_tied == weights  # decoder keeps only its biases
    first_enc = m.encoder[0]
    last_dec = m.decoder[-1]
    assert torch.equal(last_dec.weight, first_enc.weight.t())
    # A gradient step on the encoder changes the decoder too.
    with torch.no_grad():
        first_enc.weight.add_(1.0)
    assert torch.equal(last_dec.weight, first_enc.weight.t())
    assert not any(k.startswith("decoder") and k.endswith("weight") for k in m.state_dict())


def test_kl_sparsity_penalty_matches_the_seeds_formula():
    sp = parse_sparsity("kl:0.05:3")
    code = torch.tensor([[0.1, 0.5], [0.3, 0.7]])
    rho_hat = code.mean(0)
    expected = 3 * sum(0.05 * math.log(0.05 / r) + 0.95 * math.log(0.95 / (1 - r)) for r in rho_hat.tolist())
    assert sp.penalty(code).item() == pytest.approx(expected, rel=1e-6)
    assert parse_sparsity("l1:0.5").penalty(code).item() == pytest.approx(0.5 * code.sum(1).mean().item())


@pytest.mark.parametrize("spec", ["kl:1.5:3", "kl:0:3", "kl:0.1:-1", "kl:0.1", "l1:-1", "bogus:1", "kl:a:b"])
def test_bad_sparsity_specs(spec):
    with pytest.raises(ConfigError):
        parse_sparsity(spec)


def test_ssim_is_one_for_identical_images_and_lower_for_noise():
    x = torch.rand(3, 1, 28, 28)
    assert torch.allclose(ssim(x, x), torch.ones(3), atol=1e-5)
    assert (ssim(x, (x + 0.3 * torch.randn_like(x)).clamp(0, 1)) < 0.9).all()


def test_ssim_agrees_with_scikit_image():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(0)
    a = rng.random((28, 28)).astype(np.float64)
    b = np.clip(a + 0.1 * rng.standard_normal((28, 28)), 0, 1)
    ours = ssim(torch.tensor(a)[None, None], torch.tensor(b)[None, None]).item()
    ref = structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    # scikit-image averages over the cropped valid region like we do; allow the small border difference.
    assert ours == pytest.approx(ref, abs=0.02)


@pytest.mark.parametrize(
    "kw",
    [
        {"loss": "nope"},
        {"activation": "swishy"},
        {"latent_dim": 0},
        {"hidden": (0,)},
        {"loss": "bce", "output_activation": "linear"},
        {"loss": "ssim", "input_shape": (64,)},
        {"sparsity": "kl:0.05:3"},  # needs sigmoid code units
        {"arch": "transformer"},
    ],
)
def test_config_errors(kw):
    with pytest.raises(ConfigError):
        make(**kw)


def test_losses_train_terms():
    for loss in ("mse", "bce", "ssim"):
        m = make(loss=loss)
        terms = m.training_terms(torch.rand(4, 1, 8, 8))
        assert set(terms) >= {"loss", "recon"} and torch.isfinite(terms["loss"])
    m = make(sparsity="kl:0.1:2", code_activation="sigmoid")
    terms = m.training_terms(torch.rand(4, 64))
    assert "sparsity" in terms and terms["loss"] > terms["recon"]
