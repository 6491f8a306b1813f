"""1-D convolutional encoder/decoder: shapes for any length, options, and a small denoising run."""
from __future__ import annotations

import doctest

import pytest
import torch

import aekit.nn.conv1d as conv1d
from aekit.errors import ConfigError, DataError
from aekit.nn.conv1d import Conv1dDecoder, Conv1dEncoder, ResidualBlock1d
from aekit.nn.layers import padded_size


def pair(c: int, t: int, channels, latent_dim=None, **kw):
    enc = Conv1dEncoder((c, t), channels, "relu", latent_dim, **kw)
    return enc, Conv1dDecoder(enc, channels, "relu", latent_dim)


def test_doctests():
    assert doctest.testmod(conv1d).failed == 0


@pytest.mark.parametrize("t", [1, 7, 100, 16000])
@pytest.mark.parametrize("c,channels", [(1, [8]), (2, [4, 8, 16]), (3, [8, 8, 8, 8])])
@pytest.mark.parametrize("latent_dim", [None, 5])
def test_shapes_for_any_length(t, c, channels, latent_dim):
    enc, dec = pair(c, t, channels, latent_dim)
    x = torch.randn(2, c, t)
    with torch.inference_mode():
        z = enc(x)
        out = dec(z)
    depth = len(channels)
    code = latent_dim if latent_dim else channels[-1] * padded_size(t, depth) // 2**depth
    assert z.shape == (2, code)
    assert enc.code_length == padded_size(t, depth) // 2**depth
    assert out.shape == (2, c * t)  # flat rows, trimmed back to T
    assert torch.isfinite(out).all()
    assert enc(x.flatten(1)).shape == z.shape  # flat rows in as well


def test_padding_does_not_leak_into_the_output_length_and_gradients_flow():
    enc, dec = pair(2, 7, [4, 8], latent_dim=3)
    x = torch.randn(4, 2, 7, requires_grad=True)
    dec(enc(x)).pow(2).sum().backward()
    assert x.grad.shape == (4, 2, 7) and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in [*enc.parameters(), *dec.parameters()])


def test_fully_convolutional_accepts_other_lengths():
    enc, dec = pair(1, 64, [4, 8])
    for t in (1, 33, 250):
        z = enc(torch.randn(3, 1, t), length=t)
        assert dec(z, length=t).shape == (3, t)


def test_dense_code_fixes_the_length():
    enc, dec = pair(1, 64, [4, 8], latent_dim=6)
    with pytest.raises(ConfigError, match="fixes the length to 64"):
        enc(torch.randn(3, 1, 33), length=33)
    with pytest.raises(ConfigError, match="fixes the length to 64"):
        dec(torch.randn(3, 6), length=33)


def test_wrong_input_shape():
    enc, _ = pair(2, 50, [4])
    with pytest.raises(DataError, match="expected N×2×50 signals \\(or N×100 rows\\), got shape \\(3, 99\\)"):
        enc(torch.randn(3, 99))


def test_residual_blocks_norm_and_kernel_options():
    enc, dec = pair(1, 40, [8, 16], blocks=2, norm="none", kernel_size=5)
    blocks = [m for m in enc.modules() if isinstance(m, ResidualBlock1d)]
    assert len(blocks) == 4 and not any(isinstance(m, torch.nn.GroupNorm) for m in enc.modules())
    assert sum(isinstance(m, ResidualBlock1d) for m in dec.modules()) == 4
    assert dec(enc(torch.randn(2, 40))).shape == (2, 40)
    plain, _ = pair(1, 40, [8, 16], blocks=0)
    assert not any(isinstance(m, ResidualBlock1d) for m in plain.modules())
    grouped, _ = pair(1, 40, [12])
    norms = [m for m in grouped.modules() if isinstance(m, torch.nn.GroupNorm)]
    assert norms and all(m.num_groups == 4 for m in norms)  # gcd(12, 8)


def test_depth_zero_is_a_plain_convolution():
    enc, dec = pair(3, 9, [])
    assert enc.code_channels == 3 and dec(enc(torch.randn(2, 3, 9))).shape == (2, 27)


@pytest.mark.parametrize("kwargs,match", [
    ({"channels": [8, 0]}, "channels must be whole numbers"),
    ({"input_shape": (0, 10)}, "channels >= 1 and length >= 1"),
    ({"input_shape": (1,)}, "input_shape must be"),
    ({"latent_dim": 0}, "latent_dim"),
    ({"blocks": -1}, "blocks"),
    ({"norm": "batch"}, "unknown norm"),
    ({"kernel_size": 4}, "odd"),
    ({"act": "swishy"}, "unknown activation"),
])
def test_bad_options(kwargs, match):
    args = {"input_shape": (1, 10), "channels": [8], "act": "relu", "latent_dim": None}
    args.update(kwargs)
    extra = {k: args.pop(k) for k in ("blocks", "norm", "kernel_size") if k in args}
    with pytest.raises(ConfigError, match=match):
        Conv1dEncoder(args["input_shape"], args["channels"], args["act"], args["latent_dim"], **extra)


def test_decoder_must_match_the_encoder():
    enc = Conv1dEncoder((1, 10), [4, 8], latent_dim=3)
    with pytest.raises(ConfigError, match="as many stages as the encoder"):
        Conv1dDecoder(enc, [4], latent_dim=3)
    with pytest.raises(ConfigError, match="same latent_dim"):
        Conv1dDecoder(enc, [4, 8], latent_dim=None)


def test_denoises_a_noisy_sine():
    """A few hundred steps on sine + noise lower the error to the clean signal well below the noise's."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    t, sigma = 64, 0.3

    def batch(n):
        freq = 1 + 3 * torch.rand(n, 1, 1, generator=gen)
        phase = 6.283 * torch.rand(n, 1, 1, generator=gen)
        clean = torch.sin(6.283 * freq * torch.arange(t) / t + phase)
        return clean, clean + sigma * torch.randn(clean.shape, generator=gen)

    enc, dec = pair(1, t, [8, 16], latent_dim=8)
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=3e-3)
    val_clean, val_noisy = batch(256)

    def error():
        with torch.inference_mode():
            return float((dec(enc(val_noisy)).reshape(val_clean.shape) - val_clean).pow(2).mean())

    before = error()
    for _ in range(200):
        clean, noisy = batch(32)
        loss = (dec(enc(noisy)).reshape(clean.shape) - clean).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = error()
    noise = float((val_noisy - val_clean).pow(2).mean())  # ≈ σ² = 0.09
    assert after < before / 10
    assert after < noise / 3
