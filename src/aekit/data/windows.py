"""Windows over signals: cutting a C×T signal into frames, putting frames back together by
overlap-add, and per-channel standardization learned on training signals.

`frame` cuts (..., C, T) into (..., F, C, L) windows (the tail padded with zeros; a boolean mask
padded with False, so framing a mask marks the padding as unobserved); `overlap_add` puts such
windows back together, dividing by the summed window so that overlap_add(frame(x)) == x for any
hop ≤ length; `ChannelScaler` learns one mean and standard deviation per channel.
"""
from __future__ import annotations

import numpy as np

from aekit.errors import ConfigError, DataError

WINDOWS = ("hann", "rect")


def _check_int(value, what: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"{what} must be a whole number >= {low}, got {value!r}")
    return int(value)


def n_frames(n_samples: int, length: int, hop: int) -> int:
    """How many frames `frame` cuts from n_samples: 1 + ceil((n_samples − length) / hop).

    Examples
    --------
    >>> n_frames(10, 4, 3), n_frames(10, 4, 2), n_frames(4, 4, 1)
    (3, 4, 1)
    """
    return 1 + -(-(n_samples - length) // hop)


def frame(signal: np.ndarray, length: int, hop: int) -> np.ndarray:
    """Cut a signal into windows of `length` samples every `hop` samples.

    The end is zero-padded so that the last frame reaches the last sample: F = 1 + ceil((T −
    length) / hop) frames cover (F − 1)·hop + length ≥ T samples. A boolean mask is padded with
    False, so framing a mask marks the padding as unobserved.

    Parameters
    ----------
    signal : np.ndarray
        Shape (..., C, T), e.g. C×T for one series or N×C×T for a set of equal-length ones;
        a 1-D array is one channel.
    length : int
        Samples per frame, at most T.
    hop : int
        Samples between frame starts, 1 <= hop <= length (frames overlap when hop < length).

    Returns
    -------
    np.ndarray
        Shape (..., F, C, length), same dtype, a new array.

    Raises
    ------
    DataError
        The window is longer than the series, or the signal is empty.
    ConfigError
        `length` or `hop` is not a whole number >= 1, or hop > length.

    Examples
    --------
    >>> x = np.arange(7.0)[None]          # one channel, T = 7
    >>> frame(x, 4, 2)[:, 0].tolist()     # the last frame is padded with a zero
    [[0.0, 1.0, 2.0, 3.0], [2.0, 3.0, 4.0, 5.0], [4.0, 5.0, 6.0, 0.0]]
    """
    length = _check_int(length, "frame length")
    hop = _check_int(hop, "hop")
    if hop > length:
        raise ConfigError(f"hop ({hop}) must not exceed the frame length ({length}): samples would be skipped")
    x = np.asarray(signal)
    if x.ndim == 1:
        x = x[None]
    if x.ndim < 2 or x.size == 0:
        raise DataError(f"cannot frame an empty signal (shape {np.shape(signal)})")
    t = x.shape[-1]
    if length > t:
        raise DataError(f"the window ({length} samples) is longer than the series ({t} samples)")
    f = n_frames(t, length, hop)
    padded = (f - 1) * hop + length
    if padded > t:
        x = np.concatenate([x, np.zeros((*x.shape[:-1], padded - t), dtype=x.dtype)], axis=-1)
    windows = np.lib.stride_tricks.sliding_window_view(x, length, axis=-1)[..., ::hop, :]  # (..., C, F, L)
    return np.ascontiguousarray(np.swapaxes(windows, -3, -2))


def window_weights(window: str | np.ndarray, length: int) -> np.ndarray:
    """The weights `overlap_add` gives each position of a frame (float64, shape (length,)).

    "rect": all ones. "hann": sin²(π(n + ½)/length), a Hann window shifted by half a sample so
    that no position has weight 0 (the first and last sample of a series lie in one frame only).
    An array is used as given and must be finite, >= 0 and of the frame length.

    Examples
    --------
    >>> window_weights("hann", 4).round(3).tolist()
    [0.146, 0.854, 0.854, 0.146]
    """
    if isinstance(window, str):
        if window == "rect":
            return np.ones(length)
        if window == "hann":
            return np.sin(np.pi * (np.arange(length) + 0.5) / length) ** 2
        raise ConfigError(f"unknown window {window!r}; choose one of {', '.join(WINDOWS)} or give an array")
    w = np.asarray(window, dtype=np.float64)
    if w.shape != (length,):
        raise ConfigError(f"the window must have the frame length {length}, got shape {w.shape}")
    if not (np.isfinite(w).all() and (w >= 0).all()):
        raise ConfigError("the window's weights must be finite and >= 0")
    return w


def overlap_add(frames: np.ndarray, hop: int, length_total: int, window: str | np.ndarray = "hann") -> np.ndarray:
    """Put frames back together into one signal: the weighted mean of the frames covering each sample.

        y[t] = Σ_f w[t − f·hop] · frames[f, t − f·hop] / Σ_f w[t − f·hop]

    Dividing by the summed window makes ``overlap_add(frame(x, L, h), h, T)`` equal x (to float
    rounding) for every hop <= L and any window that gives each sample some weight; for a
    model's reconstructed frames it cross-fades where frames overlap (the Hann window trusts
    frame centres most).

    Parameters
    ----------
    frames : np.ndarray
        Shape (..., F, C, L) as `frame` returns.
    hop : int
        The hop the frames were cut with, 1 <= hop <= L.
    length_total : int
        The signal's length T; at most (F − 1)·hop + L (the zero-padded tail is dropped).
    window : {"hann", "rect"} or np.ndarray, default "hann"
        The weights across a frame (see `window_weights`).

    Returns
    -------
    np.ndarray
        Shape (..., C, length_total), the frames' float dtype (float32 for integer frames).

    Raises
    ------
    DataError
        Frames of fewer than 3 dimensions, or `length_total` beyond what the frames cover.
    ConfigError
        A bad hop or window, or a window that leaves some sample without weight.

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal((2, 50)).astype(np.float32)
    >>> y = overlap_add(frame(x, 16, 5), 5, 50)
    >>> y.shape, bool(np.allclose(x, y, atol=1e-6))
    ((2, 50), True)
    """
    fr = np.asarray(frames)
    if fr.ndim < 3 or fr.size == 0:
        raise DataError(f"frames must have shape (..., F, C, L), got {fr.shape}")
    n, length = fr.shape[-3], fr.shape[-1]
    hop = _check_int(hop, "hop")
    if hop > length:
        raise ConfigError(f"hop ({hop}) must not exceed the frame length ({length})")
    covered = (n - 1) * hop + length
    length_total = _check_int(length_total, "length_total")
    if length_total > covered:
        raise DataError(
            f"{n} frames of {length} every {hop} cover {covered} samples, fewer than length_total={length_total}"
        )
    w = window_weights(window, length)
    # Sum block by block: a frame's k-th block of `hop` samples lands on output block f + k, so
    # ceil(L / hop) vectorized adds replace a loop over frames.
    k = -(-length // hop)
    wp = np.zeros(k * hop)
    wp[:length] = w
    weighted = np.zeros((*fr.shape[:-1], k * hop))
    weighted[..., :length] = fr * w
    blocks = weighted.reshape(*fr.shape[:-1], k, hop)  # (..., F, C, k, hop)
    out = np.zeros((*fr.shape[:-3], n + k - 1, fr.shape[-2], hop))
    norm = np.zeros((n + k - 1, hop))
    for j in range(k):
        out[..., j:j + n, :, :] += blocks[..., j, :]
        norm[j:j + n] += wp[j * hop:(j + 1) * hop]
    out = np.moveaxis(out, -2, -3).reshape(*fr.shape[:-3], fr.shape[-2], (n + k - 1) * hop)[..., :length_total]
    norm = norm.reshape(-1)[:length_total]
    if not (norm > 0).all():
        t = int(np.argmin(norm > 0))
        raise ConfigError(f"the window gives sample {t} no weight; use one without zeros where frames do not overlap")
    dtype = fr.dtype if fr.dtype.kind == "f" else np.float32
    return (out / norm).astype(dtype)


# ----------------------------------------------------------------------------------------
# standardization
# ----------------------------------------------------------------------------------------
def _as_list(signals) -> list[np.ndarray]:
    items = list(signals) if isinstance(signals, (list, tuple)) else [signals]
    if not items:
        raise DataError("no signals given")
    return [np.asarray(s) for s in items]


class ChannelScaler:
    """Per-channel standardization, (x − mean_c) / std_c, learned on training signals.

    The channel axis is the second to last, so one scaler serves C×T signals, N×C×T sets and
    (..., F, C, L) frames alike. A channel whose standard deviation is below 1e-8 (constant)
    gets a scale of 1, so it is only shifted.

    Attributes
    ----------
    mean_ : np.ndarray or None
        float64, shape (C,), after `fit`.
    std_ : np.ndarray or None
        float64, shape (C,), after `fit`.

    Examples
    --------
    >>> x = np.stack([np.arange(10.0), 5 + 2 * np.arange(10.0)])   # C×T
    >>> scaler = ChannelScaler().fit(x)
    >>> z = scaler.transform(x)
    >>> bool(np.allclose(z.mean(axis=1), 0)), bool(np.allclose(z.std(axis=1), 1))
    (True, True)
    >>> back = ChannelScaler.from_dict(scaler.to_dict()).inverse_transform(z)
    >>> bool(np.allclose(back, x))
    True
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None

    @property
    def n_channels(self) -> int | None:
        """The number of channels it was fitted on (None before `fit`)."""
        return None if self.mean_ is None else len(self.mean_)

    def fit(self, signals, mask=None) -> "ChannelScaler":
        """Learn each channel's mean and standard deviation.

        Parameters
        ----------
        signals : np.ndarray or list of np.ndarray
            One array (..., C, T) or a list of them (lengths may differ, C must not), e.g. the
            signals of `read_wav_folder`.
        mask : np.ndarray, list of np.ndarray or None, default None
            True where a value counts (as `SeriesData.mask`), same shapes as `signals`.

        Returns
        -------
        ChannelScaler
            self.

        Raises
        ------
        DataError
            No signals, different channel counts, NaN/inf, a mask of another shape, or a
            channel without any observed value.
        """
        items = _as_list(signals)
        masks = None if mask is None else _as_list(mask)
        if masks is not None and len(masks) != len(items):
            raise DataError(f"{len(items)} signal(s) but {len(masks)} mask(s)")
        if items[0].ndim < 2:
            raise DataError(f"signal 0 has shape {items[0].shape}; expected (..., C, T)")
        c = items[0].shape[-2]
        count = np.zeros(c)
        total = np.zeros(c)
        prepared: list[tuple[np.ndarray, np.ndarray]] = []  # per signal: values and kept, both C×(everything else)
        for i, s in enumerate(items):
            if s.ndim < 2 or s.shape[-2] != c:
                raise DataError(f"signal {i} has shape {s.shape}; expected (..., {c}, T) like the first")
            if s.dtype.kind not in "biuf":
                raise DataError(f"signal {i} must be numeric, got dtype {s.dtype}")
            flat = np.moveaxis(s, -2, 0).reshape(c, -1).astype(np.float64)
            keep = np.ones(flat.shape, dtype=bool)
            if masks is not None:
                if masks[i].shape != s.shape:
                    raise DataError(f"mask {i} has shape {masks[i].shape}, its signal {s.shape}")
                keep = np.moveaxis(masks[i].astype(bool), -2, 0).reshape(c, -1)
            if not np.isfinite(flat[keep]).all():  # masked-out values may be anything
                raise DataError(f"signal {i} holds NaN or inf; mask them (mask=...) or remove them")
            prepared.append((flat, keep))
            count += keep.sum(axis=1)
            total += np.where(keep, flat, 0.0).sum(axis=1)
        if (count == 0).any():
            raise DataError(f"channel {int(np.argmin(count > 0))} has no observed value to learn from")
        mean = total / count
        # a second pass over the centred values: sum of squares minus square of sums loses precision
        sq = np.zeros(c)
        for flat, keep in prepared:
            sq += np.where(keep, (flat - mean[:, None]) ** 2, 0.0).sum(axis=1)
        std = np.sqrt(sq / count)
        self.mean_, self.std_ = mean, np.where(std > 1e-8, std, 1.0)
        return self

    def _check(self, x) -> np.ndarray:
        if self.mean_ is None:
            raise ConfigError("this ChannelScaler is not fitted yet: call fit first (or from_dict)")
        x = np.asarray(x)
        if x.ndim < 2 or x.shape[-2] != len(self.mean_):
            raise DataError(f"expected (..., {len(self.mean_)}, T) with the channels it was fitted on, got {x.shape}")
        return x

    def transform(self, x: np.ndarray) -> np.ndarray:
        """(x − mean) / std per channel; shape (..., C, T) kept, float32 unless x is float64."""
        x = self._check(x)
        dtype = np.float64 if x.dtype == np.float64 else np.float32
        return ((x - self.mean_[:, None]) / self.std_[:, None]).astype(dtype)

    def inverse_transform(self, z: np.ndarray) -> np.ndarray:
        """z · std + mean per channel, the inverse of `transform`."""
        z = self._check(z)
        dtype = np.float64 if z.dtype == np.float64 else np.float32
        return (z * self.std_[:, None] + self.mean_[:, None]).astype(dtype)

    def fit_transform(self, signals, mask=None):
        """`fit`, then `transform` the same signals (a list gives a list)."""
        self.fit(signals, mask)
        if isinstance(signals, (list, tuple)):
            return [self.transform(s) for s in signals]
        return self.transform(signals)

    def to_dict(self) -> dict:
        """The learned state as JSON-able plain lists: {"mean": [...], "std": [...]}."""
        if self.mean_ is None:
            raise ConfigError("this ChannelScaler is not fitted yet: nothing to save")
        return {"mean": [float(v) for v in self.mean_], "std": [float(v) for v in self.std_]}

    @classmethod
    def from_dict(cls, state: dict) -> "ChannelScaler":
        """Rebuild a fitted scaler from `to_dict`'s output (validated: equal lengths, finite, std > 0)."""
        if not isinstance(state, dict) or set(state) != {"mean", "std"}:
            raise ConfigError(f"a ChannelScaler state has exactly the keys 'mean' and 'std', got {state!r:.80}")
        try:
            mean = np.asarray(state["mean"], dtype=np.float64)
            std = np.asarray(state["std"], dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError("a ChannelScaler state's mean and std must be lists of numbers") from None
        if mean.ndim != 1 or mean.shape != std.shape or mean.size == 0:
            raise ConfigError(
                f"a ChannelScaler state needs equal, non-empty mean and std lists, got {mean.shape}, {std.shape}"
            )
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise ConfigError("a ChannelScaler state's mean must be finite and its std finite and > 0")
        scaler = cls()
        scaler.mean_, scaler.std_ = mean, std
        return scaler


__all__ = ["WINDOWS", "ChannelScaler", "frame", "n_frames", "overlap_add", "window_weights"]
