"""`aekit denoise RUN` on a signal run (a conv1d model trained on a WAV folder): SI-SDR and segmental
SNR beside PCA on frames, instead of image PSNR, with spectrograms and WAV files of a test stretch."""
from __future__ import annotations

import json

import numpy as np
import pytest

from aekit.data.audio import read_wav, write_wav
from aekit.tasks.denoise import denoise_warnings, joined, signal_excerpt, signal_scores
from support import run_cli

RATE = 8000


def tones(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f1, f2 = rng.uniform(100, 400), rng.uniform(500, 900)
    return (0.4 * np.sin(2 * np.pi * f1 * t) + 0.2 * np.sin(2 * np.pi * f2 * t)).astype(np.float32)


@pytest.fixture(scope="module")
def signal_run(tmp_path_factory):
    import aekit.cli

    root = tmp_path_factory.mktemp("signal")
    for i in range(10):
        write_wav(root / "wavs" / f"take{i}.wav", tones(0.5, i), RATE, sample_format="int16")
    with pytest.raises(SystemExit) as e:
        aekit.cli.main(["train", "--model", "conv1d-dae", "--data", str(root / "wavs"), "--hidden", "8,16",
                        "--noise", "gaussian:0.1", "--epochs", "15", "--seed", "0", "--out", str(root / "dae"),
                        "--quiet"])
    assert e.value.code == 0
    return root / "dae"


@pytest.fixture(scope="module")
def denoised(signal_run):
    import aekit.cli

    with pytest.raises(SystemExit) as e:
        aekit.cli.main(["denoise", str(signal_run)])
    assert e.value.code == 0
    return signal_run / "denoise"


def test_denoise_a_signal_run_reports_si_sdr_beside_pca_on_frames(signal_run, capsys):
    code, out, err = run_cli(["denoise", signal_run, "--out", signal_run / "denoise-cli"], capsys)
    assert code == 0, err
    text = " ".join(out.split())
    assert "SI-SDR" in text and "seg. SNR" in text and "PSNR" not in text and "signal windows" in text
    assert "PCA-" in text and "WAV files" in text
    m = json.loads((signal_run / "denoise-cli" / "metrics.json").read_text())
    for method in ("noisy", "pca_tuned", "model"):
        assert set(m[method]) >= {"si_sdr", "seg_snr"} and "psnr" not in m[method], method
    assert m["signal"] == {"window": 1024, "channels": 1, "sample_rate": RATE, "hop": 512, "seg_snr_frame": 256}
    # gaussian σ 0.1 on tones of RMS ≈ 0.32: about 10 dB, and the model takes noise out
    assert 8 < m["noisy"]["si_sdr"] < 12
    assert m["model"]["si_sdr"] > m["noisy"]["si_sdr"] + 1 and m["model"]["seg_snr"] > m["noisy"]["seg_snr"]


def test_the_numbers_are_those_of_the_saved_arrays(denoised):
    m = json.loads((denoised / "metrics.json").read_text())
    arrays = np.load(denoised / "denoised.npz")
    assert arrays["clean"].ndim == 3
    for key, method in (("noisy", "noisy"), ("denoised", "model"), (f"pca_{m['pca_tuned']['n_components']}",
                                                                      "pca_tuned")):
        again = signal_scores(arrays["clean"], arrays[key])
        assert again["si_sdr"] == pytest.approx(m[method]["si_sdr"], rel=1e-6), key


def test_spectrograms_and_wav_files_of_a_test_stretch(denoised):
    assert (denoised / "denoise-spectrograms.png").read_bytes()[:4] == b"\x89PNG"
    assert not (denoised / "denoise-grid.png").exists()
    arrays = np.load(denoised / "denoised.npz")
    clean, rate = read_wav(denoised / "clean.wav")
    assert rate == RATE
    np.testing.assert_allclose(clean, signal_excerpt(arrays["clean"], 512, 4 * RATE), atol=1e-6)
    for name in ("noisy", "denoised"):
        assert read_wav(denoised / f"{name}.wav")[0].shape == clean.shape


def test_the_report_shows_the_signal_denoising(signal_run, denoised, capsys):
    code, _, err = run_cli(["report", signal_run], capsys)
    assert code == 0, err
    html = (signal_run / "report.html").read_text(encoding="utf-8")
    assert "SI-SDR (dB)" in html and "seg. SNR (dB)" in html and "PCA on frames" in html


def test_excerpt_takes_each_sample_once():
    from aekit.data.windows import frame

    x = np.arange(40, dtype=np.float32)[None]
    windows = frame(x, 8, 4)  # every 4 samples: every second window tiles the signal
    np.testing.assert_array_equal(signal_excerpt(windows, 4, 24), x[:, :24])
    np.testing.assert_array_equal(signal_excerpt(windows, 3, 16), joined(windows[:2]))  # hop not dividing: in order


def test_warnings_speak_of_si_sdr_for_signals():
    m = {"noisy": {"si_sdr": 5.0, "seg_snr": 1.0}, "model": {"si_sdr": 4.0, "seg_snr": 0.0},
         "pca_tuned": {"si_sdr": 6.0, "seg_snr": 2.0, "n_components": 64}}
    text = " ".join(denoise_warnings(m))
    assert "SI-SDR" in text and "does not denoise" in text and "PCA denoises better (6.00 dB with 64" in text


def test_windows_of_another_length_than_the_model_are_one_clear_error():
    from types import SimpleNamespace

    from aekit.data import Dataset
    from aekit.data.noise import parse_noise
    from aekit.errors import DataError
    from aekit.tasks.denoise import denoise_split

    est = SimpleNamespace(model_config_=SimpleNamespace(input_shape=(1, 256)))  # the demo's speech model
    ds = Dataset(np.zeros((4, 1, 1024), np.float32), None, "wavs", (-1.0, 1.0))
    with pytest.raises(DataError, match="test windows are 1×1024 .* model takes 1×256.*--input FILE.wav"):
        denoise_split(est, ds, ds, ds, parse_noise("gaussian:0.1"))
