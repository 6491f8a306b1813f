"""WAV reading/writing: every sample format, mixdown, resampling, folders, and each bad file."""
from __future__ import annotations

import contextlib
import doctest
import os
import struct
import warnings

import numpy as np
import pytest
from scipy.io import wavfile

import aekit.data.audio as audio
from aekit.data.audio import read_wav, read_wav_folder, write_wav
from aekit.errors import AekitWarning, ConfigError, DataError


@contextlib.contextmanager
def no_warnings():
    """A context in which any warning fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def tone(freq: float, rate: int, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(x))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spec)])


def pcm24_bytes(codes: np.ndarray, rate: int) -> bytes:
    """A mono 24-bit PCM WAV (scipy cannot write one)."""
    raw = b"".join(int(v & 0xFFFFFF).to_bytes(3, "little") for v in codes)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 3, 3, 24)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(raw)) + raw
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_doctests():
    assert doctest.testmod(audio).failed == 0


# ---------------------------------------------------------------- reading each sample format
@pytest.mark.parametrize("dtype,codes,expected", [
    (np.uint8, [0, 64, 128, 255], [-1.0, -0.5, 0.0, 127 / 128]),
    (np.int16, [-32768, -16384, 0, 32767], [-1.0, -0.5, 0.0, 32767 / 32768]),
    (np.int32, [-2**31, -2**30, 0, 2**31 - 1], [-1.0, -0.5, 0.0, (2**31 - 1) / 2**31]),
    (np.float32, [-1.0, -0.5, 0.0, 0.25], [-1.0, -0.5, 0.0, 0.25]),
    (np.float64, [-1.0, -0.5, 0.0, 0.25], [-1.0, -0.5, 0.0, 0.25]),
])
def test_read_each_format(tmp_path, dtype, codes, expected):
    wavfile.write(tmp_path / "x.wav", 8000, np.array(codes, dtype=dtype))
    with no_warnings():
        x, rate = read_wav(tmp_path / "x.wav")
    assert rate == 8000 and x.dtype == np.float32 and x.shape == (1, 4)
    np.testing.assert_allclose(x[0], expected, rtol=0, atol=1e-7)


def test_read_24bit(tmp_path):
    (tmp_path / "p.wav").write_bytes(pcm24_bytes(np.array([0, 1, -2**23, 2**22]), 16000))
    x, rate = read_wav(tmp_path / "p.wav")
    assert rate == 16000
    np.testing.assert_allclose(x[0], [0.0, 2.0**-23, -1.0, 0.5], rtol=0, atol=1e-9)


@pytest.mark.parametrize("fmt,step", [("uint8", 1 / 128), ("int16", 1 / 32768), ("int32", 2.0**-31), ("float32", 0.0)])
def test_write_read_round_trip(tmp_path, fmt, step):
    rng = np.random.default_rng(0)
    # up to the largest code, 1 − step: PCM has one code fewer above 0 than below
    x = rng.uniform(-1, 1 - step, (2, 300)).astype(np.float32)
    with no_warnings():
        write_wav(tmp_path / "x.wav", x, 11025, sample_format=fmt)
        y, rate = read_wav(tmp_path / "x.wav", mono=False)
    assert rate == 11025 and y.shape == (2, 300) and y.dtype == np.float32
    if fmt == "float32":
        assert np.array_equal(x, y)
    else:
        assert np.abs(y - x).max() <= step / 2 + 1e-7  # rounding to the nearest code
        assert wavfile.read(tmp_path / "x.wav")[1].dtype == np.dtype(fmt)


def test_pcm_codes_survive_a_round_trip_exactly(tmp_path):
    codes = np.array([-32768, -1, 0, 1, 12345, 32767], dtype=np.int16)
    wavfile.write(tmp_path / "a.wav", 8000, codes)
    x, _ = read_wav(tmp_path / "a.wav")
    write_wav(tmp_path / "b.wav", x, 8000, sample_format="int16")
    assert np.array_equal(wavfile.read(tmp_path / "b.wav")[1], codes)


def test_full_scale_maps_to_the_extreme_codes_without_a_warning(tmp_path):
    with no_warnings():
        write_wav(tmp_path / "x.wav", np.array([-1.0, 1.0, 0.0]), 8000, sample_format="int16")
    assert wavfile.read(tmp_path / "x.wav")[1].tolist() == [-32768, 32767, 0]


def test_write_clips_beyond_full_scale_with_a_warning(tmp_path):
    with pytest.warns(AekitWarning, match="2 sample.*clipped"):
        write_wav(tmp_path / "x.wav", np.array([-1.5, 0.0, 2.0]), 8000, sample_format="uint8")
    assert wavfile.read(tmp_path / "x.wav")[1].tolist() == [0, 128, 255]


# ---------------------------------------------------------------- atomic writing
def test_write_is_0644_under_umask_022_and_leaves_no_temp_file(tmp_path):
    old = os.umask(0o022)
    try:
        write_wav(tmp_path / "sub" / "x.wav", np.zeros(10), 8000)
    finally:
        os.umask(old)
    assert (tmp_path / "sub" / "x.wav").stat().st_mode & 0o777 == 0o644
    assert os.listdir(tmp_path / "sub") == ["x.wav"]


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "x.wav"
    write_wav(path, np.full(10, 0.25), 8000)
    before = path.read_bytes()

    def broken(f, rate, data):
        f.write(b"RIFF")
        raise OSError("disk full")

    monkeypatch.setattr(wavfile, "write", broken)
    with pytest.raises(OSError, match="disk full"):
        write_wav(path, np.zeros(10), 8000)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["x.wav"]


@pytest.mark.parametrize("signal,match", [
    (np.array([0.0, np.nan, 0.0]), "NaN or inf.*sample 1"),
    (np.zeros((0,)), "non-empty"),
    (np.zeros((2, 2, 2)), "non-empty T or C×T"),
    (np.zeros((100, 2)), "more channels than samples"),
    (np.array(["a", "b"]), "numeric"),
])
def test_write_bad_signal(tmp_path, signal, match):
    with pytest.raises(DataError, match=match):
        write_wav(tmp_path / "x.wav", signal, 8000)
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize("kwargs,match", [
    ({"rate": 0}, "rate"), ({"rate": 8000.5}, "rate"), ({"rate": True}, "rate"),
    ({"rate": 8000, "sample_format": "int24"}, "sample_format"),
])
def test_write_bad_options(tmp_path, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        write_wav(tmp_path / "x.wav", np.zeros(4), **kwargs)


# ---------------------------------------------------------------- channels
def test_stereo_is_mixed_down_with_a_notice(tmp_path):
    left, right = np.full(100, 0.5, np.float32), np.full(100, -0.25, np.float32)
    write_wav(tmp_path / "s.wav", np.stack([left, right]), 8000)
    with pytest.warns(AekitWarning, match="s.wav: 2 channels mixed down to mono"):
        x, _ = read_wav(tmp_path / "s.wav")
    assert x.shape == (1, 100)
    np.testing.assert_allclose(x[0], 0.125)
    with no_warnings():
        y, _ = read_wav(tmp_path / "s.wav", mono=False)
    assert y.shape == (2, 100) and np.array_equal(y[1], right)


# ---------------------------------------------------------------- resampling
def test_resampling_8k_to_16k_keeps_a_tones_frequency(tmp_path):
    write_wav(tmp_path / "t.wav", tone(1000.0, 8000), 8000)
    with no_warnings():
        x, rate = read_wav(tmp_path / "t.wav", rate=16000)
    assert rate == 16000 and x.shape == (1, 16000)
    assert peak_hz(x[0], 16000) == pytest.approx(1000.0, abs=1.0)
    spec = np.abs(np.fft.rfft(x[0])) ** 2
    freqs = np.fft.rfftfreq(16000, 1 / 16000)
    # no image of the tone above the old Nyquist (4 kHz): upsampling must filter it out
    assert spec[freqs > 4100].sum() < 1e-4 * spec.sum()
    # and the amplitude is kept (away from the edges, where the filter starts up)
    assert np.abs(x[0, 1000:-1000]).max() == pytest.approx(0.5, abs=0.01)


def test_resampling_down_keeps_the_frequency(tmp_path):
    write_wav(tmp_path / "t.wav", tone(440.0, 44100), 44100)
    x, rate = read_wav(tmp_path / "t.wav", rate=16000)
    assert rate == 16000 and x.shape == (1, 16000)
    assert peak_hz(x[0], 16000) == pytest.approx(440.0, abs=1.0)


# ---------------------------------------------------------------- bad files
def good_bytes(tmp_path) -> bytes:
    wavfile.write(tmp_path / "good.wav", 8000, (tone(440, 8000, 0.1) * 32767).astype(np.int16))
    return (tmp_path / "good.wav").read_bytes()


@pytest.mark.parametrize("cut,match", [
    (600, "truncated WAV"),       # inside the samples
    (30, "not a readable WAV"),   # inside the header
    (0, "not a readable WAV"),    # empty file
])
def test_truncated_or_empty_file(tmp_path, cut, match):
    data = good_bytes(tmp_path)
    (tmp_path / "bad.wav").write_bytes(data[:cut])
    with pytest.raises(DataError, match=f"bad.wav: {match}"):
        read_wav(tmp_path / "bad.wav")


def test_not_a_wav(tmp_path):
    (tmp_path / "song.wav").write_bytes(b"ID3\x03\x00" + bytes(200))  # an MP3 renamed
    with pytest.raises(DataError, match="song.wav: not a readable WAV file"):
        read_wav(tmp_path / "song.wav")


def test_no_samples(tmp_path):
    wavfile.write(tmp_path / "e.wav", 8000, np.zeros(0, dtype=np.int16))
    with pytest.raises(DataError, match="e.wav: WAV file holds no samples"):
        read_wav(tmp_path / "e.wav")


def test_missing_file_and_folder_given_as_file(tmp_path):
    with pytest.raises(DataError, match="nope.wav: file not found"):
        read_wav(tmp_path / "nope.wav")
    with pytest.raises(DataError, match="not a file"):
        read_wav(tmp_path)


def test_float_wav_with_nan(tmp_path):
    wavfile.write(tmp_path / "n.wav", 8000, np.array([0.0, 0.1, np.nan, 0.0], dtype=np.float32))
    with pytest.raises(DataError, match="n.wav: 1 NaN or inf sample.*sample 2"):
        read_wav(tmp_path / "n.wav")


def test_float_wav_beyond_full_scale_is_kept_with_a_warning(tmp_path):
    wavfile.write(tmp_path / "loud.wav", 8000, np.array([0.0, 1.5, -2.0], dtype=np.float32))
    with pytest.warns(AekitWarning, match="loud.wav: float samples reach ±2"):
        x, _ = read_wav(tmp_path / "loud.wav")
    assert x[0].tolist() == [0.0, 1.5, -2.0]


def test_bad_rate_option(tmp_path):
    write_wav(tmp_path / "x.wav", np.zeros(4), 8000)
    with pytest.raises(ConfigError, match="rate"):
        read_wav(tmp_path / "x.wav", rate=-1)


# ---------------------------------------------------------------- folders
def test_folder_sorted_names_subfolders_hidden_files(tmp_path):
    write_wav(tmp_path / "b.wav", np.zeros(30), 8000)
    write_wav(tmp_path / "a.WAV", np.zeros(20), 8000)
    write_wav(tmp_path / "sub" / "c.wav", np.zeros(10), 8000)
    write_wav(tmp_path / ".hidden" / "d.wav", np.zeros(10), 8000)
    write_wav(tmp_path / ".e.wav", np.zeros(10), 8000)
    (tmp_path / "notes.txt").write_text("not audio")
    with no_warnings():
        signals, names, rate = read_wav_folder(tmp_path)
    assert names == ["a.WAV", "b.wav", "sub/c.wav"] and rate == 8000
    assert [s.shape for s in signals] == [(1, 20), (1, 30), (1, 10)]
    assert read_wav_folder(tmp_path, recursive=False).names == ["a.WAV", "b.wav"]


def test_folder_mixed_rates_are_resampled_with_one_notice(tmp_path):
    write_wav(tmp_path / "a.wav", tone(500, 16000, 0.5), 16000)
    write_wav(tmp_path / "b.wav", tone(500, 8000, 0.5), 8000)
    write_wav(tmp_path / "c.wav", tone(500, 8000, 0.5), 8000)
    with pytest.warns(AekitWarning, match="rates differ; resampled to 16000 Hz: 2 from 8000 Hz") as rec:
        signals, names, rate = read_wav_folder(tmp_path)
    assert len(rec) == 1 and rate == 16000
    assert [s.shape for s in signals] == [(1, 8000)] * 3
    for s in signals:
        assert peak_hz(s[0], 16000) == pytest.approx(500.0, abs=2.0)


def test_folder_at_one_other_rate_is_resampled_quietly(tmp_path):
    write_wav(tmp_path / "a.wav", tone(500, 8000, 0.25), 8000)
    write_wav(tmp_path / "b.wav", tone(500, 8000, 0.25), 8000)
    with no_warnings():
        folder = read_wav_folder(tmp_path, 16000)
    assert folder.rate == 16000 and [s.shape for s in folder.signals] == [(1, 4000)] * 2


def test_folder_stereo_files_one_notice_and_channel_mismatch(tmp_path):
    write_wav(tmp_path / "a.wav", np.zeros((2, 10)), 8000)
    write_wav(tmp_path / "b.wav", np.zeros((1, 10)), 8000)
    write_wav(tmp_path / "c.wav", np.zeros((2, 10)), 8000)
    with pytest.warns(AekitWarning, match="2 of 3 file.*mixed down to mono") as rec:
        signals, _, _ = read_wav_folder(tmp_path)
    assert len(rec) == 1 and all(s.shape == (1, 10) for s in signals)
    with pytest.raises(DataError, match="different channel counts: a.wav has 2, b.wav has 1"):
        read_wav_folder(tmp_path, mono=False)


def test_folder_with_a_bad_file_names_it(tmp_path):
    write_wav(tmp_path / "a.wav", np.zeros(10), 8000)
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x00\x00")
    with pytest.raises(DataError, match="broken.wav: not a readable WAV"):
        read_wav_folder(tmp_path)


def test_folder_empty_or_missing(tmp_path):
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(DataError, match="no WAV files found"):
        read_wav_folder(tmp_path)
    with pytest.raises(DataError, match="no such folder"):
        read_wav_folder(tmp_path / "missing")
    with pytest.raises(DataError, match="not a folder"):
        read_wav_folder(tmp_path / "x.txt")
