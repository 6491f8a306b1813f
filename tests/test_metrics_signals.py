"""SI-SDR and segmental SNR: what they measure, their invariances and their refusals."""
from __future__ import annotations

import numpy as np
import pytest

from aekit.errors import DataError
from aekit.metrics import segmental_snr, si_sdr


def tone(n: int = 4096) -> np.ndarray:
    return np.sin(2 * np.pi * 5 * np.arange(n) / 512)


@pytest.mark.parametrize("snr", [-5.0, 0.0, 10.0, 30.0])
def test_si_sdr_of_orthogonal_noise_is_the_snr(snr):
    s = tone()
    n = np.cos(2 * np.pi * 5 * np.arange(len(s)) / 512)  # orthogonal to s over whole periods
    n *= np.sqrt((s**2).mean() / (n**2).mean() / 10 ** (snr / 10))
    assert si_sdr(s, s + n) == pytest.approx(snr, abs=1e-6)


def test_si_sdr_ignores_gain_and_offset_but_not_distortion():
    rng = np.random.default_rng(0)
    s = tone()
    e = s + 0.1 * rng.standard_normal(len(s))
    assert si_sdr(s, 0.2 * e + 3.0) == pytest.approx(si_sdr(s, e))
    assert si_sdr(s, e) > si_sdr(s, s + 0.3 * rng.standard_normal(len(s)))
    assert si_sdr(s, s) > 100  # perfect: bounded by the 1e-20 floor, not inf


def test_batched_shapes():
    s = np.stack([tone(), -tone()])[:, None, :]  # 2×1×T
    e = s + 0.01
    assert si_sdr(s, e).shape == (2, 1) and segmental_snr(s, e).shape == (2, 1)


def test_segmental_snr_frames_and_clamp():
    s = tone(2048)
    e = s.copy()
    e[:1024] = 0.0  # first half silent: those frames' SNR is 0 dB; the other half is perfect (clamped to 35)
    assert segmental_snr(s, e, frame=256) == pytest.approx((0.0 + 35.0) / 2)
    assert segmental_snr(s, -s) == pytest.approx(10 * np.log10(1 / 4))  # error 2s: −6 dB in every frame
    assert segmental_snr(s, -3 * s) == pytest.approx(-10.0)  # −12 dB: clamped to the floor
    assert segmental_snr(s, e, clamp=(-100.0, 100.0)) > 35.0


@pytest.mark.parametrize("clean,est,match", [
    (np.zeros(10), np.zeros(11), "one shape"),
    (np.zeros(0), np.zeros(0), "non-empty"),
    (np.array([1.0, np.nan]), np.zeros(2), "NaN"),
])
def test_bad_signals(clean, est, match):
    with pytest.raises(DataError, match=match):
        si_sdr(clean, est)


def test_segmental_snr_needs_one_frame():
    with pytest.raises(DataError, match="at least one frame of 256"):
        segmental_snr(np.ones(100), np.ones(100))
