"""Anomalies in a multivariate time series: the window logic of `AutoEncoderDetector(window=W)`.

A series (a DataFrame or a CSV/Parquet file in time order, one column per channel, optionally a
time column; read with `aekit.data.series.read_series`) is standardized per channel with the
mean and standard deviation of its training part, cut into windows of W steps every `hop` steps
(`aekit.data.windows.frame`), and the windows are the model's samples (flattened to C·W values
for an MLP, kept C×W for ``arch="conv1d"``).

**A score per time step.** Each window is reconstructed; the squared error of every value of it
(in standardized units, so every channel counts alike) is placed back at its step and channel.
A step's score is the mean of those errors over the windows that cover it and over its channels
(``score="mse"``), or the largest channel's mean (``score="max"``). A spike thus raises the
score of its own step most, not of the whole window.

**The threshold** as for other detectors, on held-out *time*: the last `calibration_fraction`
of the series is held out of training (a contiguous tail, since neighbouring windows overlap and
a random draw of them would leak), scored on its own, and the threshold is the (1 − fpr)
quantile of its per-step scores; with `contamination`, the percentile of the training series'
per-step scores (PyOD's rule), or an explicit calibration series `X_calib`.

Inputs that are not what was asked for:

- NaN inside the series is masked (``read_series(nan="mask")``): a masked value is read as its
  channel's training mean, left out of the training windows (a window with any masked value does
  not train) and out of every score; a step with no observed channel scores NaN (never flagged);
- the time column must strictly increase; gaps follow ``gaps`` ("error", "mask": the missing
  steps are inserted as masked values, "ignore"), the reader's rules;
- a window longer than the series (or than its training or calibration part) is a `DataError`;
- a series scored later is matched to the training channels by column name: a missing column is
  a `DataError` naming it; extra columns (a label column) are ignored.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aekit.data.series import GAP_MODES, SeriesData, read_series
from aekit.data.windows import ChannelScaler, frame
from aekit.errors import ConfigError, DataError
from aekit.specs import positive_int

SERIES_SCORES = ("mse", "max")
BATCH_WINDOWS = 4096  # windows reconstructed at a time: memory holds one batch, not the whole series
# The model a series detector holds by default: an MLP on the flattened windows, a code of ⌈√(C·W)⌉
# values (at most 16) and a fixed budget of 2,000 updates of batch 64, no validation split.
# Chosen against the conv1d-ae preset on benchmarks/series_anomaly.py (RESULTS.md, "Time-series anomalies").
DEFAULT_SERIES_MODEL = {"hidden": (128, 64), "latent_dim": "auto", "winsorize": None, "updates": 2000,
                        "batch_size": 64, "validation_fraction": 0.0}


def default_hop(window: int) -> int:
    """The hop when none is given: a quarter window (each step lies in about four windows).

    Examples
    --------
    >>> default_hop(64), default_hop(3)
    (16, 1)
    """
    return max(1, int(window) // 4)


def default_series_model(random_state=None, **params):
    """The detector's default model for series (`DEFAULT_SERIES_MODEL`, `params` overriding it)."""
    from aekit.estimators.robust import RobustAutoEncoder

    return RobustAutoEncoder(**{**DEFAULT_SERIES_MODEL, "random_state": random_state, **params})


def check_series_params(det) -> tuple[int, int]:
    """Check a series detector's parameters; returns (window, hop)."""
    window = positive_int(det.window, "window", "time steps per window")
    hop = default_hop(window) if det.hop is None else positive_int(det.hop, "hop", "time steps between windows")
    if hop > window:
        raise ConfigError(f"hop ({hop}) must not exceed the window ({window}): steps would be skipped")
    if det.score != "auto" and det.score not in SERIES_SCORES:  # "auto" is "mse" for a series
        raise ConfigError(f"score={det.score!r} is not for series; choose auto (mse) or one of {', '.join(SERIES_SCORES)}")
    if det.gaps not in GAP_MODES:
        raise ConfigError(f"gaps must be one of {', '.join(map(repr, GAP_MODES))}, got {det.gaps!r}")
    for name in ("time_column", "label_column"):
        value = getattr(det, name)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{name} must be a column name (a string) or None, got {value!r}")
    if det.time_column is not None and det.time_column == det.label_column:
        raise ConfigError(f"{det.time_column!r} cannot be both the time column and the label column")
    return window, hop


@dataclass
class SeriesLayout:
    """What a fitted series detector needs to read and cut a new series like its training one.

    Attributes
    ----------
    window, hop : int
        Steps per window, steps between windows.
    channels : list of str
        The channel columns, in the model's order.
    scaler : ChannelScaler
        Per-channel mean and standard deviation of the training part.
    time_column, label_column : str or None
        The time column (checked for order and gaps) and the label column (not a channel).
    gaps : str
        The reader's rule for gaps in the time column.
    """

    window: int
    hop: int
    channels: list[str]
    scaler: ChannelScaler
    time_column: str | None = None
    label_column: str | None = None
    gaps: str = "error"

    def to_dict(self) -> dict:
        """JSON-able state (detector.json's "series")."""
        return {"window": self.window, "hop": self.hop, "channels": list(self.channels),
                "scaler": self.scaler.to_dict(), "time_column": self.time_column,
                "label_column": self.label_column, "gaps": self.gaps}

    @classmethod
    def from_dict(cls, state, source: str = "detector.json") -> "SeriesLayout":
        """Rebuild from `to_dict`'s output, checking every field (ConfigError naming `source`)."""
        try:
            if not isinstance(state, dict):
                raise TypeError("not an object")
            channels = state["channels"]
            if not isinstance(channels, list) or not channels or not all(isinstance(c, str) for c in channels):
                raise TypeError("channels must be a non-empty list of column names")
            scaler = ChannelScaler.from_dict(state["scaler"])
            if scaler.n_channels != len(channels):
                raise ValueError(f"{len(channels)} channels but a scaler of {scaler.n_channels}")
            window = positive_int(state["window"], "window")
            hop = positive_int(state["hop"], "hop")
            if hop > window or state.get("gaps", "error") not in GAP_MODES:
                raise ValueError("hop above the window, or an unknown gaps rule")
            names = {k: state.get(k) for k in ("time_column", "label_column")}
            if not all(v is None or isinstance(v, str) for v in names.values()):
                raise TypeError("time_column and label_column must be column names or null")
        except (KeyError, TypeError, ValueError, ConfigError) as exc:
            raise ConfigError(f"{source}: not a valid series description ({exc})") from None
        return cls(window, hop, list(channels), scaler, names["time_column"], names["label_column"],
                   state.get("gaps", "error"))


# -- reading ---------------------------------------------------------------------------------------
def _as_source(X):
    """A DataFrame (column names as strings), or a path; arrays are T×C (rows are time steps)."""
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        return X if all(isinstance(c, str) for c in X.columns) else X.rename(columns=str)
    if isinstance(X, (str, Path)):
        return X
    if isinstance(X, SeriesData):
        raise ConfigError("give the detector the DataFrame or file, not SeriesData: it reads the series itself")
    arr = np.asarray(X)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.dtype.kind not in "biuf":
        raise DataError(f"a series is a DataFrame, a CSV/Parquet file or a numeric T×C array (rows are time "
                        f"steps), got an array of shape {arr.shape} and dtype {arr.dtype}")
    return pd.DataFrame(arr, columns=[str(i) for i in range(arr.shape[1])])


def read_detector_series(X, *, time_column=None, label_column=None, gaps="error", channels=None) -> SeriesData:
    """Read a series for a detector: NaN masked, the label column left out of the channels.

    Parameters
    ----------
    X : pandas.DataFrame, str, path or np.ndarray
        The series; a CSV/Parquet file is read by `read_series`; an array is T×C.
    time_column, label_column : str or None
        The time column and a label column (not channels).
    gaps : {"error", "mask", "ignore"}
        The reader's rule for gaps.
    channels : list of str or None
        The channel columns by name (a fitted detector's); None: every column but the time and
        label columns.

    Returns
    -------
    SeriesData
        One series (values 1×C×T) with a mask.

    Raises
    ------
    DataError
        What `read_series` refuses, a missing channel column (named), or a label column that is
        not in the data.
    """
    import pandas as pd

    source = _as_source(X)
    if channels is None:
        names = list(source.columns) if isinstance(source, pd.DataFrame) else _column_names(source)
        if label_column is not None and label_column not in names:
            raise DataError(f"{_name(source)}: label column {label_column!r} not found; columns are {names}")
        channels = [c for c in names if c not in (time_column, label_column)]
    data = read_series(source, time_column=time_column, columns=list(channels), nan="mask", gaps=gaps)
    if data.mask is None:
        data.mask = np.ones(data.values.shape, dtype=bool)
    return data


def read_labels(X, layout: SeriesLayout) -> np.ndarray | None:
    """The label column of a series as a boolean anomaly flag per step (non-zero = anomaly), on the
    same steps as its values (gaps filled alike); None when the series has no such column."""
    import pandas as pd

    if layout.label_column is None:
        return None
    source = _as_source(X)
    names = list(source.columns) if isinstance(source, pd.DataFrame) else _column_names(source)
    if layout.label_column not in names:
        return None
    labels = read_series(source, time_column=layout.time_column, columns=[layout.label_column], nan="mask",
                         gaps=layout.gaps)
    values = labels.values[0, 0]
    return (values != 0) & (labels.mask[0, 0] if labels.mask is not None else True)


def _column_names(path) -> list[str]:
    """The column names of a CSV or Parquet file (its header only)."""
    import pandas as pd

    path = Path(path)
    try:
        if path.suffix.lower() == ".csv":
            return [str(c) for c in pd.read_csv(path, nrows=0).columns]
        import pyarrow.parquet as pq

        return [str(c) for c in pq.read_schema(path).names]
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except Exception:  # the full read below gives the reader's own message
        return [str(c) for c in read_series(path).channels]


def _name(source) -> str:
    """For messages: the path, or what a DataFrame says it was read from (``attrs["source"]``)."""
    if isinstance(source, (str, Path)):
        return str(source)
    return str(getattr(source, "attrs", {}).get("source", "DataFrame"))


# -- windows and per-step errors --------------------------------------------------------------------
def _model_input(est, windows: np.ndarray) -> np.ndarray:
    """Windows as the model takes them: F×C×W for a conv1d model, F×(C·W) otherwise."""
    return windows if getattr(est, "arch", "mlp") == "conv1d" else windows.reshape(len(windows), -1)


def training_windows(values: np.ndarray, mask: np.ndarray, window: int, hop: int, what: str) -> np.ndarray:
    """The fully observed windows of a standardized C×T series (float32, F×C×W)."""
    if values.shape[-1] < window:
        raise DataError(f"the {what} has {values.shape[-1]} steps, fewer than the window ({window} steps); "
                        "use a shorter window or a longer series")
    windows = frame(values, window, hop)
    full = frame(mask, window, hop).all(axis=(1, 2))
    if not full.any():
        raise DataError(f"every window of the {what} holds a missing value (NaN or a gap); nothing to train on")
    return np.ascontiguousarray(windows[full], dtype=np.float32)


def step_errors(est, values: np.ndarray, mask: np.ndarray, window: int, hop: int,
                batch_windows: int = BATCH_WINDOWS) -> tuple[np.ndarray, np.ndarray]:
    """Squared reconstruction errors of a standardized C×T series, summed per step and channel
    over the windows covering it, and how many (observed) values were summed.

    Returns
    -------
    (sums, counts) : two float64 arrays of shape (C, T)
    """
    c, t = values.shape
    if t < window:
        raise DataError(f"the series has {t} steps, fewer than the detector's window ({window} steps)")
    windows = frame(values, window, hop)  # F×C×W, the tail zero-padded
    observed = frame(mask, window, hop)  # the padding is unobserved
    n = len(windows)
    padded = (n - 1) * hop + window
    sums = np.zeros((c, padded))
    counts = np.zeros((c, padded))
    offsets = np.arange(window)
    for start in range(0, n, batch_windows):
        chunk = windows[start:start + batch_windows]
        kept = observed[start:start + batch_windows]
        recon = np.asarray(est.reconstruct(_model_input(est, chunk)), dtype=np.float64).reshape(chunk.shape)
        sq = np.where(kept, (chunk - recon) ** 2, 0.0)
        steps = ((start + np.arange(len(chunk)))[:, None] * hop + offsets).ravel()  # each value's time step
        for ch in range(c):
            sums[ch] += np.bincount(steps, weights=sq[:, ch].ravel(), minlength=padded)
            counts[ch] += np.bincount(steps, weights=kept[:, ch].ravel().astype(np.float64), minlength=padded)
    return sums[:, :t], counts[:, :t]


def step_scores(sums: np.ndarray, counts: np.ndarray, score: str = "mse") -> np.ndarray:
    """Per step: the mean error over covering windows and channels ("mse"), or the largest
    channel's mean ("max"); NaN at a step with no observed value.

    Examples
    --------
    >>> sums, counts = np.array([[2.0, 0.0], [4.0, 3.0]]), np.array([[2.0, 0.0], [2.0, 1.0]])
    >>> step_scores(sums, counts).tolist(), step_scores(sums, counts, "max").tolist()
    ([1.5, 3.0], [2.0, 3.0])
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        if score == "max":
            per_channel = np.where(counts > 0, sums / np.where(counts > 0, counts, 1.0), -np.inf)
            out = per_channel.max(0)
            return np.where(np.isfinite(out), out, np.nan)
        total = counts.sum(0)
        return np.where(total > 0, sums.sum(0) / np.where(total > 0, total, 1.0), np.nan)


def standardized(data: SeriesData, scaler: ChannelScaler) -> tuple[np.ndarray, np.ndarray]:
    """(values, mask) of a one-series SeriesData, standardized, masked values at 0 (the mean)."""
    mask = data.mask[0]
    return np.where(mask, scaler.transform(data.values[0]), 0.0).astype(np.float32), mask


def series_scores(det, X) -> tuple[np.ndarray, SeriesData]:
    """(per-step scores, the series read) of a fitted series detector on X."""
    layout = det.series_
    data = read_detector_series(X, time_column=layout.time_column, label_column=layout.label_column,
                                gaps=layout.gaps, channels=layout.channels)
    values, mask = standardized(data, layout.scaler)
    sums, counts = step_errors(det.estimator_, values, mask, layout.window, layout.hop)
    return step_scores(sums, counts, det.score_), data


def _quantile_threshold(scores: np.ndarray, q: float, what: str) -> float:
    finite = scores[np.isfinite(scores)]
    if len(finite) == 0:
        raise DataError(f"no {what} step has an observed value to set the threshold with")
    return float(np.quantile(finite, q, method="higher"))


def fit_series(det, X, X_calib=None):
    """`AutoEncoderDetector.fit` on a series (det.window set): see the module docstring."""
    from sklearn.base import clone

    window, hop = check_series_params(det)
    data = read_detector_series(X, time_column=det.time_column, label_column=det.label_column, gaps=det.gaps)
    values, mask = data.values[0], data.mask[0]
    t = values.shape[1]
    if t < window:
        raise DataError(f"{data.source}: the window ({window} steps) is longer than the series ({t} steps)")
    held_out = det.contamination is None and X_calib is None
    n_cal = int(round(t * float(det.calibration_fraction))) if held_out else 0
    if held_out and (n_cal < window or t - n_cal < window):
        raise DataError(
            f"{data.source}: {t} steps are too few to hold out a calibration tail of "
            f"{det.calibration_fraction:g} of the series with windows of {window} steps (both parts need at "
            f"least one window); give a longer series, a shorter window, X_calib or a contamination (--contamination)")
    head = slice(0, t - n_cal)
    scaler = ChannelScaler().fit(values[:, head], mask[:, head])
    det.series_ = SeriesLayout(window, hop, list(data.channels), scaler, det.time_column, det.label_column, det.gaps)
    z, zmask = standardized(data, scaler)
    train = training_windows(z[:, head], zmask[:, head], window, hop, "training part of the series")
    est = clone(det.estimator) if det.estimator is not None else default_series_model(det.random_state)
    det.estimator_ = est.fit(_model_input(est, train))
    det.n_features_in_ = len(data.channels) * window
    det.decision_scores_ = step_scores(*step_errors(det.estimator_, z, zmask, window, hop), det.score_)
    if det.contamination is not None:
        finite = det.decision_scores_[np.isfinite(det.decision_scores_)]
        det.threshold_ = float(np.percentile(finite, 100 * (1 - float(det.contamination))))
        det.threshold_source_ = f"contamination={float(det.contamination):g} of the training steps' scores"
    else:
        if X_calib is not None:
            cal, _ = series_scores(det, X_calib)
        else:  # the held-out tail, scored on its own
            tail = slice(t - n_cal, t)
            cal = step_scores(*step_errors(det.estimator_, z[:, tail], zmask[:, tail], window, hop), det.score_)
        det.calibration_scores_ = cal
        det.threshold_ = _quantile_threshold(cal, 1 - float(det.fpr), "calibration")
        det.threshold_source_ = (f"the {1 - float(det.fpr):g} quantile of {int(np.isfinite(cal).sum())} held-out "
                                 f"steps' scores (fpr={float(det.fpr):g})")
    det.labels_ = (np.nan_to_num(det.decision_scores_, nan=-np.inf) > det.threshold_).astype(int)
    return det


class PCAWindows:
    """PCA on flattened windows, as a model a series detector can hold (`fit`, `reconstruct`):
    the baseline beside the autoencoder, its reconstruction error spread back as the model's.

    Parameters
    ----------
    n_components : int, default 16
        Components kept (at most the windows' width and count minus one).
    random_state : int or None
    """

    def __init__(self, n_components: int = 16, random_state=None):
        self.n_components, self.random_state = n_components, random_state

    def get_params(self, deep: bool = False) -> dict:
        return {"n_components": self.n_components, "random_state": self.random_state}

    def set_params(self, **params) -> "PCAWindows":
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def fit(self, X, y=None) -> "PCAWindows":
        from sklearn.decomposition import PCA

        X = np.asarray(X, dtype=np.float64)
        k = max(1, min(int(self.n_components), X.shape[1] - 1, len(X) - 1))
        self.pca_ = PCA(k, random_state=self.random_state).fit(X)
        return self

    def reconstruct(self, X) -> np.ndarray:
        return self.pca_.inverse_transform(self.pca_.transform(np.asarray(X, dtype=np.float64)))


class IsolationForestWindows(PCAWindows):
    """scikit-learn's IsolationForest on flattened windows, as a model a series detector can hold.

    A window has one score (−`score_samples`, higher = more anomalous); `reconstruct` returns
    the window moved by √score in every value, so the detector's squared error per value is the
    window's score and a step's score is the mean score of the windows covering it.
    """

    def __init__(self, random_state=None):
        self.random_state = random_state

    def get_params(self, deep: bool = False) -> dict:
        return {"random_state": self.random_state}

    def fit(self, X, y=None) -> "IsolationForestWindows":
        from sklearn.ensemble import IsolationForest

        self.forest_ = IsolationForest(random_state=self.random_state).fit(np.asarray(X, dtype=np.float64))
        return self

    def reconstruct(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        return X + np.sqrt(-self.forest_.score_samples(X))[:, None]


def series_metrics(scores: np.ndarray, is_anomaly: np.ndarray, threshold: float, *, alpha: float | None = None
                   ) -> dict:
    """Per-step detection metrics of a series' scores beside range-based precision and recall.

    Parameters
    ----------
    scores : np.ndarray
        Per-step scores (NaN: a step without an observed value, left out of the point metrics
        and never flagged).
    is_anomaly : np.ndarray of bool
        The true anomaly steps.
    threshold : float
        Steps scoring above it are flagged.
    alpha : float or None
        The existence reward's weight in range recall (None: `aekit.metrics_ranges.DEFAULT_ALPHA`).

    Returns
    -------
    dict
        `aekit.metrics.detection_metrics` of the steps (``roc_auc``, ``pr_auc``, the rates at the
        threshold, when both kinds of step are present), and ``range_precision``,
        ``range_recall``, ``range_f1``, ``range_alpha``, ``anomaly_ranges``, ``flagged_ranges``.

    Examples
    --------
    >>> m = series_metrics(np.array([0.1, 0.9, 0.8, 0.1, 0.2]), np.array([0, 1, 1, 0, 0], bool), 0.5)
    >>> m["roc_auc"], m["range_precision"], m["range_recall"], m["flagged_ranges"]
    (1.0, 1.0, 1.0, 1)
    """
    from aekit.metrics import detection_metrics
    from aekit.metrics_ranges import DEFAULT_ALPHA, range_precision_recall

    scores = np.asarray(scores, dtype=np.float64)
    is_anomaly = np.asarray(is_anomaly).astype(bool)
    ok = ~np.isnan(scores)
    out = detection_metrics(scores[ok], is_anomaly[ok], threshold)
    r = range_precision_recall(is_anomaly, np.where(ok, scores, -np.inf) > threshold,
                               alpha=DEFAULT_ALPHA if alpha is None else alpha)
    out.update({"range_precision": r["precision"], "range_recall": r["recall"], "range_f1": r["f1"],
                "range_alpha": r["alpha"], "anomaly_ranges": r["n_real"], "flagged_ranges": r["n_flagged"]})
    return out


__all__ = ["BATCH_WINDOWS", "DEFAULT_SERIES_MODEL", "SERIES_SCORES", "IsolationForestWindows", "PCAWindows", "SeriesLayout", "check_series_params",
           "default_hop", "default_series_model", "fit_series", "read_detector_series", "read_labels",
           "series_metrics", "series_scores", "standardized", "step_errors", "step_scores", "training_windows"]
