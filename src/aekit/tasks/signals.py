"""Denoising signals with a trained model: a WAV file of any length, window by window.

The file is cut into windows of the model's input length every `hop` samples (the hop the
training data was cut with, recorded in the run folder; else half a window), the windows are
denoised in batches, and the outputs are put back together by overlap-add with a Hann window
(`aekit.data.windows`): each output sample is the weighted mean of the windows that cover it.
Batches of windows are accumulated as they come, so memory holds the signal, its output and
one batch, however long the file.

Choices for inputs that are not what the model was trained on (each told through `notice`):

- a file at another sample rate than the training data is resampled to it;
- a multichannel file given to a mono model is mixed down to the mean of its channels; a file
  with another channel count than a multichannel model is a `DataError`;
- a file shorter than one window is zero-padded to one window and cut back after.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from aekit.data.audio import read_wav, resample, write_wav
from aekit.data.windows import n_frames, overlap_add, window_weights
from aekit.errors import DataError

BATCH_WINDOWS = 256


def signal_shape(est) -> tuple[int, int]:
    """(channels, window length) of the signals a fitted estimator takes: (C, T) of a conv1d
    model, (1, D) of a model on flat rows; an image model is a `DataError`."""
    shape = tuple(est.model_config_.input_shape)
    if len(shape) == 2:
        return int(shape[0]), int(shape[1])
    if len(shape) == 1:
        return 1, int(shape[0])
    raise DataError(f"this model takes images of shape {shape}, not signals: denoise an image file instead")


def _window_sums(frames: np.ndarray, hop: int) -> np.ndarray:
    """Σ over frames of each frame placed at f·hop (not normalized): (C, covered samples)."""
    n, length = frames.shape[0], frames.shape[-1]
    covered = (n - 1) * hop + length
    t = np.arange(covered)
    # how many of the n frames cover sample t: overlap_add's rect mean × that count is the sum
    count = np.minimum(t // hop, n - 1) - np.maximum(0, -(-(t - length + 1) // hop)) + 1
    return overlap_add(frames, hop, covered, window="rect") * count


def denoise_signal(est, x: np.ndarray, *, hop: int | None = None, batch_windows: int = BATCH_WINDOWS) -> np.ndarray:
    """Denoise a C×T signal of any length with a fitted estimator, window by window.

    Parameters
    ----------
    est : fitted estimator
        A model on signal windows (`signal_shape`), e.g. ``AutoEncoder.from_preset("conv1d-dae")``.
    x : np.ndarray
        (C, T) with the model's C, or (T,) for a mono model.
    hop : int or None, default None
        Samples between windows, 1 ≤ hop ≤ window; None: half a window.
    batch_windows : int, default 256
        Windows denoised at once.

    Returns
    -------
    np.ndarray
        float32 (C, T): the overlap-added reconstructions.

    Examples
    --------
    >>> from aekit import AutoEncoder
    >>> X = np.random.default_rng(0).standard_normal((16, 1, 32)).astype(np.float32)
    >>> ae = AutoEncoder.from_preset("conv1d-dae", hidden=(4,), epochs=1, random_state=0).fit(X)
    >>> denoise_signal(ae, np.zeros(100, np.float32)).shape
    (1, 100)
    """
    c, length = signal_shape(est)
    x = np.asarray(x, dtype=np.float32)
    x = x[None] if x.ndim == 1 else x
    if x.ndim != 2 or x.shape[0] != c or x.shape[1] == 0:
        raise DataError(f"expected a {c}×T signal for this model, got shape {x.shape}")
    hop = max(length // 2, 1) if hop is None else int(hop)
    if not 1 <= hop <= length:
        raise DataError(f"hop must be in [1, {length}] (the window), got {hop}")
    t = x.shape[1]
    n = n_frames(max(t, length), length, hop)
    padded = np.zeros((c, (n - 1) * hop + length), np.float32)
    padded[:, :t] = x
    w = window_weights("hann", length)
    out = np.zeros(padded.shape, np.float64)
    norm = np.zeros(padded.shape[1], np.float64)
    step = max(int(batch_windows), 1)
    for f0 in range(0, n, step):
        f1 = min(f0 + step, n)
        start = f0 * hop
        block = padded[:, start:(f1 - 1) * hop + length]
        frames = np.lib.stride_tricks.sliding_window_view(block, length, axis=-1)[:, ::hop]  # C×B×L
        frames = np.ascontiguousarray(frames.transpose(1, 0, 2))                               # B×C×L
        rec = np.asarray(est.reconstruct(frames.reshape(len(frames), -1)), np.float64).reshape(frames.shape)
        end = start + block.shape[1]
        out[:, start:end] += _window_sums(rec * w, hop)
        norm[start:end] += _window_sums(np.broadcast_to(w, (len(frames), 1, length)), hop)[0]
    return (out[:, :t] / norm[:t]).astype(np.float32)


def denoise_wav(est, path, out, *, rate: int | None = None, hop: int | None = None,
                sample_format: str = "float32", notice: Callable[[str], None] | None = None) -> dict:
    """Denoise one WAV file of any length into `out` (`denoise_signal`; see the module notes).

    Parameters
    ----------
    est : fitted estimator
        A model on signal windows.
    path, out : path-like
        The noisy WAV file, and the file to write (atomically).
    rate : int or None, default None
        The sample rate the model was trained at (the file is resampled to it); None keeps the
        file's rate.
    hop : int or None, default None
        Samples between windows; None: half a window.
    sample_format : str, default "float32"
        The output's sample format (`aekit.data.audio.write_wav`).
    notice : callable or None
        Told, in one sentence each, what was done to fit the file to the model.

    Returns
    -------
    dict
        "out", "rate", "samples", "channels", "windows".

    Raises
    ------
    DataError
        Not a readable WAV file, truncated, NaN samples, or a channel count the model cannot take.
    """
    say = notice or (lambda _: None)
    c, length = signal_shape(est)
    x, file_rate = read_wav(path, mono=False)
    if x.shape[0] != c:
        if c != 1:
            raise DataError(f"{path}: the file has {x.shape[0]} channel(s), the model was trained on {c}")
        say(f"{path}: {x.shape[0]} channels mixed down to mono (the model was trained on mono signals)")
        x = x.mean(axis=0, keepdims=True)
    out_rate = file_rate
    if rate is not None and int(rate) != file_rate:
        say(f"{path}: resampled from {file_rate} Hz to the model's {int(rate)} Hz")
        x, out_rate = resample(x, file_rate, int(rate)), int(rate)
    if x.shape[1] < length:
        say(f"{path}: {x.shape[1]} samples, shorter than the model's window ({length}): zero-padded to one window")
    hop = max(length // 2, 1) if hop is None else int(hop)
    y = denoise_signal(est, x, hop=hop)
    write_wav(out, y, out_rate, sample_format=sample_format)
    return {"out": str(out), "rate": int(out_rate), "samples": int(y.shape[1]), "channels": int(y.shape[0]),
            "windows": int(n_frames(max(y.shape[1], length), length, hop))}


def recorded_signal_options(run) -> dict:
    """{"rate", "hop"} of the WAV folder a run was trained on (`aekit train --data FOLDER`), as
    recorded in its config.json; an entry the run does not record (a model fitted on arrays) is
    None."""
    from aekit.runs import RunRecord

    extra = RunRecord(run).data_record().extra
    return {"rate": extra.get("sample_rate"), "hop": extra.get("hop")}


__all__ = ["BATCH_WINDOWS", "denoise_signal", "denoise_wav", "recorded_signal_options", "signal_shape"]
