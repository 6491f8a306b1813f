"""Denoising, sparse and convolutional autoencoders: configurations of the one core."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import aekit.cli
from support import run_cli
from aekit import AutoEncoder
from aekit.data.noise import parse_noise
from aekit.errors import ConfigError, DataError
from aekit.models.autoencoder import AutoEncoderModel, ModelConfig


def test_conv_default_is_the_seeds_keras_denoiser():
    m = AutoEncoderModel(ModelConfig(input_shape=(1, 28, 28), arch="conv", hidden=(32, 32), latent_dim=None,
                                     loss="bce"))
    convs = [l for l in m.modules() if isinstance(l, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (1, 32, (3, 3)), (32, 32, (3, 3)), (32, 32, (3, 3)), (32, 32, (3, 3)), (32, 1, (3, 3))]
    assert sum(isinstance(l, torch.nn.MaxPool2d) for l in m.modules()) == 2
    assert sum(isinstance(l, torch.nn.Upsample) for l in m.modules()) == 2
    x = torch.rand(2, 1, 28, 28)
    assert m.encode(x).shape == (2, 32 * 7 * 7) and m(x).shape == x.shape


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 9, 13), (1, 5, 7)])
def test_conv_any_size_and_channels(shape):
    m = AutoEncoderModel(ModelConfig(input_shape=shape, arch="conv", hidden=(4, 8), latent_dim=6))
    x = torch.rand(3, *shape)
    assert m(x).shape == x.shape and m.encode(x).shape == (3, 6)


def test_conv_estimator_trains_through_the_same_front(tmp_path, digits_splits):
    train, val, test = digits_splits
    ae = AutoEncoder.from_preset("conv-ae", hidden=(8, 8), epochs=5, random_state=0).fit(train.X, X_val=val.X)
    assert ae.model_config_.arch == "conv"
    assert ae.transform(test.X).shape == (len(test), 8 * 2 * 2)
    run = ae.save(tmp_path / "conv")
    np.testing.assert_array_equal(AutoEncoder.load(run).reconstruct(test.X), ae.reconstruct(test.X))


def test_conv_input_shape_must_match_the_data(digits_flat):
    with pytest.raises(ConfigError, match="input_shape"):
        AutoEncoder(arch="conv", input_shape=(1, 7, 7), epochs=1).fit(digits_flat)
    with pytest.raises(ConfigError, match="tied"):
        AutoEncoder(arch="conv", tied=True, epochs=1).fit(digits_flat)


def test_denoising_training_corrupts_inputs_and_targets_clean(monkeypatch):
    cfg = ModelConfig(input_shape=(16,), hidden=(8,), latent_dim=4, noise="masking:0.5")
    m = AutoEncoderModel(cfg)
    seen = {}
    orig = m._terms

    def spy(x_in, x_target, *rest):  # rest: the observed-cells mask of tables (None here)
        seen["in"], seen["target"] = x_in, x_target
        return orig(x_in, x_target, *rest)

    monkeypatch.setattr(m, "_terms", spy)
    x = torch.rand(64, 16) + 0.1
    m.training_terms(x, torch.Generator().manual_seed(0))
    assert torch.equal(seen["target"], x)
    zero_fraction = (seen["in"] == 0).float().mean().item()
    assert 0.4 < zero_fraction < 0.6
    m.validation_terms(x)
    assert torch.equal(seen["in"], x)  # no noise at validation


def test_noise_is_fresh_each_batch():
    noise = parse_noise("gaussian:0.5")
    g = torch.Generator().manual_seed(0)
    x = torch.full((4, 16), 0.5)
    assert not torch.equal(noise(x, rng=g), noise(x, rng=g))


@pytest.mark.parametrize("spec", ["gaussian:-0.1", "masking:1.5", "salt-pepper:-0.2", "blur:1", "gaussian"])
def test_bad_noise_specs(spec, digits_flat):
    with pytest.raises(ConfigError):
        AutoEncoder(noise=spec, epochs=1).fit(digits_flat[:50])


def test_sparse_code_reaches_its_target_activation(digits_splits):
    train, val, test = digits_splits
    sae = AutoEncoder.from_preset("sae", hidden=(64,), latent_dim=32, epochs=80, batch_size=64, lr=2e-3,
                                  random_state=0).fit(train.X, X_val=val.X)
    plain = AutoEncoder(hidden=(64,), latent_dim=32, code_activation="sigmoid", epochs=80, batch_size=64, lr=2e-3,
                        random_state=0).fit(train.X, X_val=val.X)
    rho_hat = sae.transform(test.X).mean()
    assert abs(rho_hat - 0.05) < 0.2 * 0.05, rho_hat
    assert plain.transform(test.X).mean() > 0.2  # without the penalty the code is dense


@pytest.fixture(scope="module")
def dae_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("dae") / "run"
    with pytest.raises(SystemExit) as e:
        aekit.cli.main(["train", "--model", "dae", "--hidden", "64", "--latent", "16", "--epochs", "40",
                        "--out", str(run), "--quiet"])
    assert e.value.code == 0
    return run




def test_denoise_split_beats_the_noisy_input_and_writes_outputs(dae_run, tmp_path, capsys):
    code, out, err = run_cli(["denoise", dae_run, "--noise", "gaussian:0.5", "--out", tmp_path / "d"], capsys)
    assert code == 0, err
    assert "PSNR" in out and "PCA-16" in out and "autoencoder" in out
    import json

    m = json.loads((tmp_path / "d" / "metrics.json").read_text())
    assert m["model"]["psnr"] > m["noisy"]["psnr"] + 3
    assert m["model"]["ssim"] > m["noisy"]["ssim"]
    arrays = np.load(tmp_path / "d" / "denoised.npz")
    assert arrays["denoised"].shape == arrays["clean"].shape == (359, 1, 8, 8)
    assert (tmp_path / "d" / "denoise-grid.png").exists()


def test_denoise_one_user_image(dae_run, tmp_path, capsys, digits_splits):
    img = (digits_splits[2].X[0, 0] * 255).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "in.png")
    code, out, err = run_cli(["denoise", dae_run, "--input", tmp_path / "in.png", "--out", tmp_path / "o.png"], capsys)
    assert code == 0, err
    with Image.open(tmp_path / "o.png") as im:
        assert im.size == (8, 8) and im.mode == "L"
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(tmp_path / "big.png")
    code, _, err = run_cli(["denoise", dae_run, "--input", tmp_path / "big.png", "--out", tmp_path / "x.png"], capsys)
    assert code == 2 and "12×10 pixels" in err and "8×8" in err
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "rgb.png")
    code, _, err = run_cli(["denoise", dae_run, "--input", tmp_path / "rgb.png", "--out", tmp_path / "y.png"], capsys)
    assert code == 2 and "3 channels" in err
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()


def test_fully_convolutional_model_denoises_any_size(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((64, 1, 12, 12)).astype(np.float32)
    ae = AutoEncoder.from_preset("conv-dae", hidden=(4, 4), epochs=1, random_state=0).fit(X)
    ae.save(tmp_path / "run")
    Image.fromarray((rng.random((30, 21)) * 255).astype(np.uint8)).save(tmp_path / "in.png")
    from aekit.tasks.denoise import denoise_image

    denoise_image(AutoEncoder.load(tmp_path / "run"), tmp_path / "in.png", tmp_path / "out.png")
    with Image.open(tmp_path / "out.png") as im:
        assert im.size == (21, 30)
    with pytest.raises(DataError, match="no such image"):
        denoise_image(ae, tmp_path / "missing.png", tmp_path / "o.png")


def test_a_model_that_does_not_denoise_is_named():
    from aekit.tasks.denoise import denoise_warnings

    m = {"noisy": {"psnr": 10.0}, "model": {"psnr": 9.7}, "pca_tuned": {"psnr": 15.2, "n_components": 16}}
    text = " ".join(denoise_warnings(m))
    assert "no closer to the clean images than the noisy input" in text and "PCA denoises better" in text
    assert denoise_warnings({"noisy": {"psnr": 10.0}, "model": {"psnr": 18.0},
                             "pca_tuned": {"psnr": 15.2, "n_components": 16}}) == []
