"""The demo's speech section: the bundled speech ships with the package and loads; the section trains,
writes its WAV files, spectrograms and run folder, and reports SI-SDR beside PCA on frames."""
from __future__ import annotations

import fnmatch
import tomllib

import numpy as np
import pytest

from aekit.data.audio import read_wav
from aekit.metrics import si_sdr
from aekit.report.html import page_html
from aekit.tasks.demo import TRAINED_SECTIONS, section_job
from aekit.tasks.demo_signals import (HOP, SPEECH_RATE, WINDOW, bundled_speech, mix_at_snr, speech_folder,
                                      windows_of)
from support import ROOT


def test_bundled_speech_loads_small_and_split_by_sentence_and_voice():
    sets = bundled_speech()
    assert len(sets["train"]) == 8 and len(sets["test"]) == 2
    for part in sets.values():
        for name, x in part.items():
            assert x.dtype == np.float32 and x.ndim == 1 and 2 * SPEECH_RATE < len(x) < 4 * SPEECH_RATE, name
            assert np.sqrt(np.mean(x.astype(np.float64) ** 2)) == pytest.approx(0.1, rel=0.02)  # one level
    # held out: neither the test sentences (the number) nor the test voices occur in training
    sentence = lambda n: n.split("_")[1]  # noqa: E731
    voice = lambda n: n.split("_", 2)[2]  # noqa: E731
    assert not {sentence(n) for n in sets["test"]} & {sentence(n) for n in sets["train"]}
    assert not {voice(n) for n in sets["test"]} & {voice(n) for n in sets["train"]}
    files = list(speech_folder().glob("*.wav"))
    assert sum(p.stat().st_size for p in files) < 600_000  # a few hundred KB in the package
    assert (speech_folder() / "README.md").read_text().count("espeak-ng -v") == len(files)  # each file's command


def test_pyproject_ships_the_speech_files_as_package_data():
    """A fresh `pip install .` carries the WAV files only if the package-data globs name them."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["aekit.data"]
    for p in [*speech_folder().glob("*.wav"), speech_folder() / "README.md"]:
        assert any(fnmatch.fnmatch(f"speech/{p.name}", g) for g in globs), p.name


def test_windows_and_mixtures():
    x = bundled_speech()["test"]["test_5_en-gb-scotland_f4"]
    w = windows_of([x])
    assert w.shape[1:] == (1, WINDOW) and len(w) == 1 + -(-(len(x) - WINDOW) // HOP)
    noisy = mix_at_snr(x, "white", 5.0, seed=3)
    assert si_sdr(x, noisy) == pytest.approx(5.0, abs=0.1)
    np.testing.assert_array_equal(noisy, mix_at_snr(x, "white", 5.0, seed=3))  # seeded


@pytest.fixture(scope="module")
def section(tmp_path_factory):
    """The speech section as the demo's worker runs it, 1 epoch (the demo trains 15)."""
    out = tmp_path_factory.mktemp("demo")
    key, sec, line = section_job("speech", out, 0, 1)
    return out, key, sec, line


def test_the_demo_runs_the_speech_section(section):
    out, key, sec, line = section
    assert "speech" in TRAINED_SECTIONS and key == "speech"
    assert "SI-SDR noisy" in line and str(out / "speech") in line
    assert sec.title.startswith("Denoising speech")


def test_the_section_writes_the_wav_files_and_spectrograms(section):
    out, _, sec, _ = section
    clean = bundled_speech()["test"]["test_5_en-gb-scotland_f4"]
    for name in ("noisy", "pca", "dae", "clean"):
        y, rate = read_wav(out / "speech" / f"{name}.wav")
        assert rate == SPEECH_RATE and y.shape == (1, len(clean)), name
    np.testing.assert_allclose(read_wav(out / "speech" / "clean.wav")[0][0], clean, atol=1 / 2**15)
    (spec, _), = sec.figures
    assert spec == out / "speech-spectrograms.png" and spec.read_bytes()[:4] == b"\x89PNG"
    page = page_html("demo", [sec])
    assert page.count("<audio controls") == 4 and page.count("data:audio/wav;base64,") == 4


def test_the_section_reports_si_sdr_beside_pca(section):
    import json

    out, _, sec, _ = section
    table, = sec.tables
    assert table.headers[:4] == ["method", "SI-SDR (dB)", "Δ vs noisy (dB)", "seg. SNR (dB)"]
    methods = [r[0] for r in table.rows]
    assert methods[0] == "noisy input" and methods[1].startswith("PCA-") and methods[2] == "conv1d DAE"
    m = json.loads((out / "speech" / "metrics.json").read_text())
    assert len(m["rows"]) == 2 * 3 * 3  # 2 utterances × 3 colours × 3 methods
    assert m["summary"]["noisy input"]["si_sdr"] == pytest.approx(0.0, abs=0.05)  # mixed at 0 dB
    assert table.rows[1][1] > table.rows[0][1] + 1  # PCA on frames removes some noise
    assert m["epochs"] == 1


def test_the_speech_run_folder_denoises_a_wav_file(section, tmp_path):
    from aekit.estimators import AutoEncoder
    from aekit.tasks.signals import denoise_wav, recorded_signal_options

    out, *_ = section
    run = out / "speech-dae"
    assert recorded_signal_options(run) == {"rate": SPEECH_RATE, "hop": HOP}
    info = denoise_wav(AutoEncoder.load(run), out / "speech" / "noisy.wav", tmp_path / "o.wav",
                       **recorded_signal_options(run))
    np.testing.assert_allclose(read_wav(tmp_path / "o.wav")[0][0], read_wav(out / "speech" / "dae.wav")[0][0],
                               atol=2 / 2**15)  # the same as the section's DAE output (int16 there)
    assert info["rate"] == SPEECH_RATE
