"""WAV folders as training data, and denoising WAV files of any length window by window, through
the library and `aekit train` / `aekit denoise --input FILE.wav`, with the bad inputs."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from aekit.data import load
from aekit.data.audio import load_wav_windows, read_wav, write_wav
from aekit.errors import AekitWarning, DataError
from aekit.metrics import si_sdr
from aekit.tasks.signals import denoise_signal, denoise_wav, signal_shape
from support import run_cli as run

RATE = 8000


def tones(seconds: float, seed: int, rate: int = RATE) -> np.ndarray:
    """Two steady tones of random pitch: a T-sample mono signal in [-1, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f1, f2 = rng.uniform(100, 400), rng.uniform(500, 900)
    return (0.4 * np.sin(2 * np.pi * f1 * t) + 0.2 * np.sin(2 * np.pi * f2 * t)).astype(np.float32)


class Stub:
    """A fitted estimator's interface for `denoise_signal`: reconstruct = a gain (identity when 1)."""

    def __init__(self, channels: int, length: int, gain: float = 1.0):
        from types import SimpleNamespace

        self.model_config_ = SimpleNamespace(input_shape=(channels, length))
        self.gain, self.calls = gain, []

    def reconstruct(self, rows):
        self.calls.append(rows.shape)
        return rows * self.gain


@pytest.mark.parametrize("t", [1, 31, 64, 65, 1000, 4097])
@pytest.mark.parametrize("hop", [16, 32, 64])
def test_window_by_window_overlap_add_gives_back_any_length(t, hop):
    x = np.random.default_rng(t).standard_normal((2, t)).astype(np.float32)
    est = Stub(2, 64)
    y = denoise_signal(est, x, hop=hop, batch_windows=7)  # many batches: their seams must not show
    assert y.shape == x.shape
    np.testing.assert_allclose(y, x, atol=1e-5)
    assert max(c[0] for c in est.calls) <= 7 and all(c[1] == 2 * 64 for c in est.calls)


def test_batches_do_not_change_the_output():
    x = np.random.default_rng(0).standard_normal((1, 3000)).astype(np.float32)
    gain = Stub(1, 128, gain=0.5)
    a, b = denoise_signal(gain, x, batch_windows=1), denoise_signal(gain, x, batch_windows=1000)
    np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(a, 0.5 * x, atol=1e-6)


def test_signal_shape_and_bad_signals():
    assert signal_shape(Stub(2, 50)) == (2, 50)
    with pytest.raises(DataError, match="expected a 2×T signal"):
        denoise_signal(Stub(2, 50), np.zeros((3, 100)))
    with pytest.raises(DataError, match="hop must be"):
        denoise_signal(Stub(1, 50), np.zeros(100), hop=51)


# -- a folder of WAV files as a data source ------------------------------------------------------------
@pytest.fixture(scope="module")
def wav_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("speech")
    for i in range(10):
        write_wav(folder / f"take{i}.wav", tones(0.5, i), RATE, sample_format="int16")
    return folder


def test_wav_folder_loads_as_windows_split_by_file(wav_folder):
    parts = {s: load(wav_folder, split=s) for s in ("train", "val", "test")}
    assert all(p.X.ndim == 3 and p.X.shape[1:] == (1, 1024) for p in parts.values())
    assert parts["train"].meta["sample_rate"] == RATE and parts["train"].meta["split_by"] == "file"
    ds = load_wav_windows(wav_folder)
    # windows of a file all land in one split: the three splits together hold every window once
    assert sum(len(p) for p in parts.values()) == len(ds)
    keys = {s: {x.tobytes() for x in p.X} for s, p in parts.items()}
    assert not (keys["train"] & keys["test"]) and not (keys["train"] & keys["val"])


def test_wav_folder_short_files_and_window_longer_than_every_file(tmp_path):
    write_wav(tmp_path / "long.wav", tones(0.5, 0), RATE)
    write_wav(tmp_path / "short.wav", tones(0.01, 1), RATE)
    with pytest.warns(AekitWarning, match="1 file.* shorter than the window"):
        ds = load_wav_windows(tmp_path, window=1000, hop=500)
    assert ds.meta["files"] == ["long.wav", "short.wav"] and set(ds.meta["groups"].tolist()) == {0}
    with pytest.raises(DataError, match="longer than every file"):
        load_wav_windows(tmp_path, window=10_000)


# -- aekit train on a WAV folder, aekit denoise --input FILE.wav ------------------------------------------
@pytest.fixture(scope="module")
def trained(wav_folder, tmp_path_factory):
    import aekit.cli

    run_dir = tmp_path_factory.mktemp("runs") / "dae"
    with pytest.raises(SystemExit) as e:
        aekit.cli.main(["train", "--model", "conv1d-dae", "--data", str(wav_folder), "--hidden", "8,16",
                        "--noise", "gaussian:0.1", "--epochs", "25", "--seed", "0", "--out", str(run_dir), "--quiet"])
    assert e.value.code == 0
    return run_dir


def test_train_records_the_signal_options(trained):
    cfg = json.loads((trained / "config.json").read_text())
    assert cfg["model"]["arch"] == "conv1d" and cfg["model"]["input_shape"] == [1, 1024]
    assert cfg["data"]["sample_rate"] == RATE and cfg["data"]["hop"] == 512


def test_denoise_wav_round_trip_any_length(trained, tmp_path, capsys):
    clean = tones(1.37, 99)  # not a whole number of windows
    noisy = clean + 0.1 * np.random.default_rng(0).standard_normal(clean.shape).astype(np.float32)
    write_wav(tmp_path / "noisy.wav", noisy, RATE)
    code, out, _ = run(["denoise", trained, "--input", tmp_path / "noisy.wav", "--out", tmp_path / "clean.wav"],
                       capsys)
    assert code == 0 and "clean.wav" in out
    y, rate = read_wav(tmp_path / "clean.wav")
    assert rate == RATE and y.shape == (1, len(clean))
    gain = si_sdr(clean, y[0]) - si_sdr(clean, noisy)
    assert gain > 3, gain  # it denoises, not only copies (5.5 dB measured)


def test_denoise_resamples_mixes_down_and_pads_with_notices(trained, tmp_path, capsys):
    x = tones(0.05, 3, rate=16000)  # 800 samples at 16 kHz: 400 at 8 kHz, shorter than a window
    write_wav(tmp_path / "stereo.wav", np.stack([x, 0.5 * x]), 16000, sample_format="int16")
    code, out, _ = run(["denoise", trained, "--input", tmp_path / "stereo.wav", "--out", tmp_path / "o.wav"], capsys)
    assert code == 0
    text = " ".join(out.split())
    assert "2 channels mixed down to mono" in text and "resampled from 16000 Hz to the model's 8000 Hz" in text
    assert "shorter than the model's window" in text
    y, rate = read_wav(tmp_path / "o.wav")
    assert rate == RATE and y.shape == (1, 400)


@pytest.mark.parametrize("content,match", [
    (b"RIFF\x24\x00\x00\x00WAVEjunk", "not a readable WAV file"),
    (b"this is not audio at all", "not a readable WAV file"),
])
def test_denoise_bad_files_one_line(trained, tmp_path, capsys, content, match):
    (tmp_path / "bad.wav").write_bytes(content)
    code, out, err = run(["denoise", trained, "--input", tmp_path / "bad.wav", "--out", tmp_path / "o.wav"], capsys)
    assert code == 2 and match in " ".join((out + err).split())
    assert not (tmp_path / "o.wav").exists()


def test_denoise_truncated_wav(trained, tmp_path, capsys):
    write_wav(tmp_path / "full.wav", tones(0.2, 5), RATE, sample_format="int16")
    data = (tmp_path / "full.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 2])
    code, out, err = run(["denoise", trained, "--input", tmp_path / "cut.wav", "--out", tmp_path / "o.wav"], capsys)
    assert code == 2 and "truncated" in " ".join((out + err).split())


def test_mono_file_to_a_two_channel_model_is_an_error(tmp_path):
    write_wav(tmp_path / "mono.wav", tones(0.1, 0), RATE)
    with pytest.raises(DataError, match="1 channel.*trained on 2"):
        denoise_wav(Stub(2, 64), tmp_path / "mono.wav", tmp_path / "o.wav")


def test_denoise_wav_without_a_recorded_rate_keeps_the_files(tmp_path):
    write_wav(tmp_path / "in.wav", tones(0.1, 0, rate=11025), 11025)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to resample or mix: no notice, no warning
        notices = []
        info = denoise_wav(Stub(1, 256), tmp_path / "in.wav", tmp_path / "o.wav", notice=notices.append)
    assert info["rate"] == 11025 and notices == []
    np.testing.assert_allclose(read_wav(tmp_path / "o.wav")[0], read_wav(tmp_path / "in.wav")[0], atol=1e-5)
