"""The residual convolutional AE and VAE (arch="resnet"): shapes, codes, training, presets, run folders."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from aekit import AutoEncoder, VariationalAutoEncoder
from aekit.errors import ConfigError
from aekit.estimators import PRESETS
from aekit.models.autoencoder import AutoEncoderModel, ModelConfig
from aekit.models.vae import VAEConfig, VAEModel
from aekit.nn.resnet import ResidualBlock, ResNetDecoder, ResNetEncoder

SMALL = {"arch": "resnet", "hidden": (8, 16), "blocks": 1}


def _colour_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Smooth colour images: a random colour gradient and a bright disc per image (in [0, 1])."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.empty((n, 3, size, size), np.float32)
    for i in range(n):
        a, b, c = rng.random((3, 3))
        cy, cx, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.1, 0.25)
        disc = ((yy - cy) ** 2 + (xx - cx) ** 2) < r * r
        for ch in range(3):
            out[i, ch] = 0.2 + 0.5 * (a[ch] * yy + b[ch] * xx) / 2 + 0.3 * c[ch] * disc
    return np.clip(out, 0, 1)


@pytest.mark.parametrize("size", [32, 48, 64])
def test_dense_code_shapes_for_colour_images(size):
    cfg = ModelConfig(input_shape=(3, size, size), latent_dim=12, **SMALL)
    model = AutoEncoderModel(cfg)
    x = torch.rand(2, 3, size, size)
    assert model.encode(x).shape == (2, 12) and cfg.code_size == 12
    assert model(x).shape == x.shape
    assert ((model(x) >= 0) & (model(x) <= 1)).all()  # the sigmoid output for data in [0, 1]


@pytest.mark.parametrize("size", [32, 48, 64])
def test_spatial_code_is_the_last_feature_map(size):
    cfg = ModelConfig(input_shape=(3, size, size), latent_dim=None, **SMALL)
    model = AutoEncoderModel(cfg)
    x = torch.rand(2, 3, size, size)
    # two stride-2 stages: 16 channels at size/4 × size/4
    assert cfg.code_size == 16 * (size // 4) ** 2
    assert model.encode(x).shape == (2, cfg.code_size) and model(x).shape == x.shape


def test_odd_sizes_are_padded_and_cropped_back():
    enc = ResNetEncoder((3, 30, 45), [8, 8, 8], 1, "relu", None, "linear")  # padded to 32 × 48 inside
    dec = ResNetDecoder(enc, [8, 8, 8], 1, "relu", None)
    z = enc(torch.rand(2, 3 * 30 * 45))
    assert z.shape == (2, 8 * 4 * 6) and dec(z).shape == (2, 3 * 30 * 45)


def test_spatial_model_takes_images_of_other_sizes():
    model = AutoEncoderModel(ModelConfig(input_shape=(3, 32, 32), latent_dim=None, **SMALL))
    x = torch.rand(1, 3, 40, 56)
    assert model.reconstruct_image(x).shape == x.shape
    dense = AutoEncoderModel(ModelConfig(input_shape=(3, 32, 32), latent_dim=8, **SMALL))
    with pytest.raises(ConfigError, match="dense bottleneck"):
        dense.reconstruct_image(x)


def test_blocks_and_widths_set_the_depth():
    def n_blocks(blocks):
        model = AutoEncoderModel(ModelConfig(input_shape=(3, 32, 32), latent_dim=8, arch="resnet", hidden=(8, 16, 32),
                                             blocks=blocks))
        return sum(isinstance(m, ResidualBlock) for m in model.modules())

    assert n_blocks(0) == 0 and n_blocks(1) == 6 and n_blocks(3) == 18  # encoder and decoder: 3 stages each
    enc = AutoEncoderModel(ModelConfig(input_shape=(3, 32, 32), latent_dim=8, arch="resnet", hidden=(8, 16, 32))).encoder
    assert enc.code_hw == (4, 4) and enc.code_channels == 32


def test_a_residual_block_learns_a_correction_not_a_copy():
    block = ResidualBlock(8, "relu")
    x = torch.randn(2, 8, 6, 6)
    with torch.no_grad():
        block.body[-1].weight.normal_()
    assert not torch.allclose(block(x), x)  # once trained away from zero, the body adds to the skip path


@pytest.mark.parametrize("bad, match", [
    ({"input_shape": (3072,)}, "needs input_shape=\\(C, H, W\\)"),
    ({"blocks": -1}, "must be an integer ≥ 0"),
    ({"blocks": "two"}, "must be an integer ≥ 0"),
    ({"blocks": 1.5}, "must be an integer ≥ 0"),
    ({"tied": True}, "tied weights"),
    ({"hidden": ()}, "at least one convolution block"),
])
def test_bad_configs_are_refused(bad, match):
    with pytest.raises(ConfigError, match=match):
        ModelConfig(**{"input_shape": (3, 32, 32), "latent_dim": 8, **SMALL, **bad})


def test_presets_are_residual_models():
    assert PRESETS["resnet-ae"].params["arch"] == "resnet" and PRESETS["resnet-ae"].estimator == "AutoEncoder"
    assert PRESETS["resnet-vae"].params["arch"] == "resnet"
    assert PRESETS["resnet-vae"].estimator == "VariationalAutoEncoder"
    assert isinstance(AutoEncoder.from_preset("resnet-ae"), AutoEncoder)


def test_resnet_ae_overfits_a_few_colour_images():
    X = _colour_images(8, 32)
    ae = AutoEncoder(hidden=(8, 16), blocks=1, latent_dim=16, arch="resnet", epochs=80, batch_size=4, lr=3e-3,
                     validation_fraction=0, random_state=0).fit(X)
    losses = [row["loss"] for row in ae.history_]
    assert losses[-1] < 0.25 * losses[0]
    # it beats the mean image of these 8: the code carries what differs between them
    mean_err = float(((X - X.mean(0)) ** 2).mean())
    assert float(ae.reconstruction_error(X).mean()) < 0.5 * mean_err


def test_denoising_resnet_takes_the_same_noise_option():
    X = _colour_images(8, 32)
    ae = AutoEncoder(hidden=(8,), blocks=1, latent_dim=None, arch="resnet", noise="gaussian:0.2", epochs=2,
                     batch_size=8, validation_fraction=0, random_state=0).fit(X)
    assert ae.model_config_.noise == "gaussian:0.2" and ae.reconstruct(X).shape == X.shape


def test_resnet_vae_trains_one_epoch():
    X = _colour_images(12, 32)
    vae = VariationalAutoEncoder(hidden=(8, 16), blocks=1, latent_dim=4, arch="resnet", likelihood="gaussian",
                                 epochs=1, batch_size=6, validation_fraction=0, random_state=0).fit(X)
    assert len([r for r in vae.history_ if r.get("stage", "train") == "train"]) == 1
    assert np.isfinite(vae.history_[-1]["loss"])
    assert vae.transform(X).shape == (12, 4) and vae.reconstruct(X).shape == X.shape
    assert vae.sample(3).shape == (3, 3, 32, 32)


def test_conditional_resnet_vae_joins_labels_after_the_convolutions():
    model = VAEModel(VAEConfig(input_shape=(3, 32, 32), latent_dim=4, n_classes=3, **SMALL))
    x = torch.cat([torch.rand(2, 3 * 32 * 32), torch.eye(3)[:2]], 1)
    assert model.encode(x).shape == (2, 4) and model(x).shape == (2, 3, 32, 32)


def test_run_folder_round_trip(tmp_path):
    X = _colour_images(8, 32)
    ae = AutoEncoder(hidden=(8, 16), blocks=1, latent_dim=6, arch="resnet", epochs=1, batch_size=8,
                     validation_fraction=0, random_state=0).fit(X)
    back = AutoEncoder.load(ae.save(tmp_path / "ae"))
    assert back.model_config_ == ae.model_config_ and back.model_config_.blocks == 1
    assert np.array_equal(back.transform(X), ae.transform(X))
    assert np.array_equal(back.reconstruct(X), ae.reconstruct(X))
    vae = VariationalAutoEncoder(hidden=(8,), blocks=2, latent_dim=3, arch="resnet", likelihood="gaussian", epochs=1,
                                 batch_size=8, validation_fraction=0, random_state=0).fit(X)
    vback = VariationalAutoEncoder.load(vae.save(tmp_path / "vae"))
    assert vback.model_config_.blocks == 2 and np.array_equal(vback.transform(X), vae.transform(X))


def test_aekit_train_takes_the_resnet_presets_and_blocks(tmp_path, capsys):
    import aekit.cli

    np.savez(tmp_path / "colour.npz", X=_colour_images(24, 16))
    with pytest.raises(SystemExit) as e:
        aekit.cli.main(["train", "--model", "resnet-ae", "--data", str(tmp_path / "colour.npz"), "--hidden", "4,8",
                        "--blocks", "1", "--latent", "4", "--epochs", "1", "--quiet", "--out", str(tmp_path / "run")])
    assert e.value.code == 0, capsys.readouterr().err
    est = AutoEncoder.load(tmp_path / "run")
    assert (est.model_config_.arch, est.model_config_.blocks, est.model_config_.hidden) == ("resnet", 1, (4, 8))
    assert "resnet 4-8 × 1 blocks on 3×16×16" in (tmp_path / "run" / "report.html").read_text()
    with pytest.raises(SystemExit) as e:
        aekit.cli.main(["train", "--model", "resnet-ae", "--data", str(tmp_path / "colour.npz"), "--blocks", "-1",
                        "--epochs", "1", "--quiet", "--out", str(tmp_path / "bad")])
    assert e.value.code == 2 and "blocks" in capsys.readouterr().err and not (tmp_path / "bad").exists()
