"""arch="conv1d" in the one model: shapes for odd lengths, per-channel standardization, the
presets, file noise at a chosen SNR, and a denoising run on synthetic sine mixtures."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from aekit import AutoEncoder
from aekit.data.audio import write_wav
from aekit.data.noise import FileNoise, colored_noise, parse_noise
from aekit.errors import ConfigError
from aekit.estimators import PRESETS
from aekit.models.autoencoder import AutoEncoderModel, ModelConfig


def sine_mixtures(n: int, length: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """n windows of two sines each (random frequencies and phases), N×C×T float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / length
    f = rng.uniform(2, 12, (n, channels, 2, 1))
    ph = rng.uniform(0, 2 * np.pi, (n, channels, 2, 1))
    amp = np.array([0.5, 0.3])[:, None]
    return (amp * np.sin(2 * np.pi * f * t + ph)).sum(axis=2).astype(np.float32)


@pytest.mark.parametrize("length", [1, 7, 33, 101])
@pytest.mark.parametrize("latent_dim", [None, 5])
def test_model_shapes_for_odd_lengths(length, latent_dim):
    cfg = ModelConfig(input_shape=(2, length), arch="conv1d", hidden=(4, 8, 8), latent_dim=latent_dim,
                      output_activation="linear")
    model = AutoEncoderModel(cfg)
    x = torch.randn(3, 2, length)
    with torch.inference_mode():
        code, out = model.encode(x), model(x)
    assert code.shape == (3, cfg.code_size)
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert model(x.flatten(1)).shape == (3, 2 * length)  # flat rows in and out, as every arch
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("kwargs,msg", [
    ({"input_shape": (1, 8, 8)}, r"needs input_shape=\(C, T\)"),
    ({"input_shape": (2, 16), "tied": True}, "tied weights"),
    ({"input_shape": (2, 16), "hidden": ()}, "at least one convolution stage"),
])
def test_config_refuses_what_conv1d_cannot_do(kwargs, msg):
    with pytest.raises(ConfigError, match=msg):
        ModelConfig(arch="conv1d", **kwargs)


def test_standardization_is_per_channel():
    cfg = ModelConfig(input_shape=(2, 16), arch="conv1d", hidden=(4,), latent_dim=None, standardize=True,
                      output_activation="linear")
    model = AutoEncoderModel(cfg)
    x = torch.randn(50, 2, 16) * torch.tensor([1.0, 5.0])[:, None] + torch.tensor([3.0, -2.0])[:, None]
    model.set_standardization(x)
    shift, scale = model.input_shift.reshape(2, 16), model.input_scale.reshape(2, 16)
    assert torch.allclose(shift, x.transpose(0, 1).reshape(2, -1).mean(1)[:, None].expand(2, 16))
    assert (shift.std(1) < 1e-6).all() and (scale.std(1) < 1e-6).all()  # the same at every time step
    assert abs(scale[1, 0] / scale[0, 0] - 5.0) < 0.5


def test_presets_are_1d_conv_models():
    assert PRESETS["conv1d-ae"].params["arch"] == "conv1d" and PRESETS["conv1d-dae"].params["noise"]
    X = sine_mixtures(16, 64)
    ae = AutoEncoder.from_preset("conv1d-ae", epochs=1, random_state=0).fit(X)
    assert ae.model_config_.input_shape == (1, 64) and ae.input_ndim_ == 3
    assert ae.model_config_.code_size < 64  # undercomplete
    assert ae.reconstruct(X).shape == X.shape
    assert ae.reconstruct(X.reshape(16, -1)).shape == (16, 64)


def test_conv1d_dae_learns_to_denoise_sines():
    X = sine_mixtures(192, 128)
    sigma = 0.3
    ae = AutoEncoder.from_preset("conv1d-dae", hidden=(16, 32), noise=f"gaussian:{sigma}", epochs=15,
                                 batch_size=32, random_state=0).fit(X)
    clean = sine_mixtures(32, 128, seed=1)  # other frequencies and phases than in training
    noisy = clean + sigma * np.random.default_rng(2).standard_normal(clean.shape).astype(np.float32)
    denoised = ae.reconstruct(noisy)
    before, after = ((noisy - clean) ** 2).mean(), ((denoised - clean) ** 2).mean()
    assert after < before / 3, (before, after)


def test_saved_conv1d_run_folder_round_trip(tmp_path):
    X = sine_mixtures(16, 40, channels=2)
    ae = AutoEncoder.from_preset("conv1d-dae", hidden=(4, 4), epochs=1, random_state=0).fit(X)
    ae.save(tmp_path / "run")
    back = AutoEncoder.load(tmp_path / "run")
    assert back.model_config_ == ae.model_config_
    np.testing.assert_allclose(back.reconstruct(X), ae.reconstruct(X), atol=1e-6)


# -- additive noise from recordings -------------------------------------------------------------
@pytest.fixture
def noise_folder(tmp_path):
    folder = tmp_path / "noise"
    write_wav(folder / "pink.wav", 0.2 * colored_noise("pink", 6000, rng=0), 8000)
    write_wav(folder / "brown.wav", 0.5 * colored_noise("brown", 3000, rng=1), 8000)
    return folder


@pytest.mark.parametrize("snr", [0.0, 5.0, 10.0])
def test_file_noise_reaches_the_snr(noise_folder, snr):
    noise = parse_noise(f"file:{noise_folder}:snr={snr:g}")
    x = sine_mixtures(64, 500).reshape(64, -1)
    noisy = noise(x, rng=0)
    measured = 10 * np.log10((x**2).mean() / ((noisy - x) ** 2).mean())
    # each row's noise has power P_signal·10^(−snr/10), P_signal the mean over the rows
    assert abs(measured - snr) < 0.01
    t = noise(torch.from_numpy(x), rng=torch.Generator().manual_seed(0))
    assert isinstance(t, torch.Tensor) and t.shape == x.shape
    assert abs(10 * np.log10((x**2).mean() / ((t.numpy() - x) ** 2).mean()) - snr) < 0.01


def test_file_noise_range_and_spec_round_trip(noise_folder):
    noise = parse_noise(f"file:{noise_folder}:snr=0:10")
    assert isinstance(noise, FileNoise) and (noise.snr_db, noise.snr_high_db) == (0.0, 10.0)
    assert parse_noise(str(noise)) == noise
    x = np.ones((400, 100), np.float32)
    per_row = 10 * np.log10(1.0 / ((noise(x, rng=0) - x) ** 2).mean(1))
    assert per_row.min() > -0.01 and per_row.max() < 10.01 and per_row.std() > 2  # spread over the range
    np.testing.assert_array_equal(noise(x, rng=3), noise(x, rng=3))  # seeded
    # a window longer than every recording loops them
    assert np.isfinite(noise(np.ones((2, 20000), np.float32), rng=0)).all()


@pytest.mark.parametrize("spec,msg", [
    ("file:", "needs file:FOLDER:snr=DB"),
    ("file:/x", "needs file:FOLDER:snr=DB"),
    ("file:/x:snr=abc", "not a number"),
    ("file:/x:snr=1:2:3", "needs snr:DB or snr:LOW_DB:HIGH_DB"),
    ("file:/x:snr=10:0", "low end exceeds its high end"),
])
def test_file_noise_bad_specs(spec, msg):
    with pytest.raises(ConfigError, match=msg):
        parse_noise(spec)


def test_file_noise_missing_or_silent_folder(tmp_path):
    from aekit.errors import DataError

    missing = parse_noise(f"file:{tmp_path / 'nowhere'}:snr=5")  # read on first use, not when parsed
    with pytest.raises(DataError, match="no such folder"):
        missing(np.ones((2, 10)), rng=0)
    write_wav(tmp_path / "quiet" / "zero.wav", np.zeros(100), 8000)
    with pytest.raises(ConfigError, match="silent"):
        parse_noise(f"file:{tmp_path / 'quiet'}:snr=5")(np.ones((2, 10)), rng=0)


def test_dae_trains_with_file_noise(noise_folder):
    X = sine_mixtures(32, 64)
    ae = AutoEncoder.from_preset("conv1d-dae", hidden=(4,), noise=f"file:{noise_folder}:snr=0:10", epochs=2,
                                 random_state=0).fit(X)
    assert ae.model_config_.noise.startswith("file:") and np.isfinite(ae.history_[-1]["loss"])


@pytest.mark.parametrize("color", ["white", "pink", "brown"])
def test_colored_noise_slopes(color):
    x = colored_noise(color, (8, 4096), rng=0)
    power = (np.abs(np.fft.rfft(x, axis=-1)) ** 2).mean(0)
    f = np.fft.rfftfreq(4096)
    slope = np.polyfit(np.log(f[10:]), np.log(power[10:]), 1)[0]  # log power vs log frequency: −β
    assert abs(slope + {"white": 0, "pink": 1, "brown": 2}[color]) < 0.15
    with pytest.raises(ConfigError, match="unknown noise colour"):
        colored_noise("blue", 10)


def test_nan_in_signal_windows_is_one_clear_error():
    from aekit.errors import DataError

    X = sine_mixtures(8, 32)
    X[3, 0, 5] = np.nan
    with pytest.raises(DataError, match="NaN or inf: 1 values in 1 rows"):
        AutoEncoder.from_preset("conv1d-dae", hidden=(4,), epochs=1).fit(X)


def test_a_signal_of_another_shape_is_refused():
    from aekit.errors import DataError

    ae = AutoEncoder.from_preset("conv1d-dae", hidden=(4,), epochs=1, random_state=0).fit(sine_mixtures(8, 32))
    with pytest.raises(DataError, match=r"samples of shape \(2, 16\)"):
        ae.reconstruct(np.zeros((3, 2, 16), np.float32))  # as many values per sample, other channels
