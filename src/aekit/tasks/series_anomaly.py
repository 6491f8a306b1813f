"""Anomalies in a time-series file (CSV, Parquet): `aekit detect fit --window W` and
`aekit detect score RUN --data series.csv` on a detector fitted on one.

Fitting: the file is one multivariate series in time order (one column per channel, optionally
a time column and a 0/1 label column). Its first 1 − `test_fraction` of the rows are the
training part (the detector holds out its own calibration tail from them: see
`aekit.estimators.series_detector`); the last `test_fraction` is the test part that
`aekit report` measures on. Scoring writes one line per time step: its score, the 0/1 flag and,
where the file has them, its time and label.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from aekit.data.tabular import read_table
from aekit.errors import ConfigError, DataError
from aekit.estimators.series_detector import read_detector_series, read_labels, series_metrics, series_scores
from aekit.runs import DataRecord, RunRecord, atomic_write_bytes, check_output_file
from aekit.specs import finite_number

TEST_FRACTION = 0.2
OUTPUT_SUFFIXES = (".csv", ".parquet")


def fit_series_detector(det, path, out, *, seed: int = 0, test_fraction: float = TEST_FRACTION,
                        overwrite: bool = False) -> tuple[object, Path, int]:
    """Fit a series detector (``det.window`` set) on the training part of a series file and
    write its run folder.

    Parameters
    ----------
    det : AutoEncoderDetector
        Unfitted, with `window` (and `time_column`, `label_column`, `gaps` as wanted).
    path : str or path-like
        A CSV or Parquet file, rows in time order.
    out : str or path-like
        The run folder.
    seed : int, default 0
        Recorded with the data (the split itself is by time, not drawn).
    test_fraction : float, default 0.2
        The share of the rows at the end kept out of training, in [0, 1).
    overwrite : bool, default False
        Replace an existing run folder.

    Returns
    -------
    (detector, run folder, training steps)

    Raises
    ------
    DataError
        What reading the series refuses (named by the file), or a training part shorter than
        the window.
    """
    if det.window is None:
        raise ConfigError("fit_series_detector needs a detector with a window (--window)")
    if finite_number(test_fraction, "--test-fraction", 0.0) >= 1:
        raise ConfigError(f"--test-fraction must be below 1, got {test_fraction}")
    record = RunRecord(out)
    record.check_writable(overwrite=overwrite)
    # read once through the series reader, so that order, gap, NaN and column problems name the file
    whole = read_detector_series(path, time_column=det.time_column, label_column=det.label_column, gaps=det.gaps)
    df = read_table(path)
    df.attrs["source"] = f"{path} (its first {100 - round(100 * float(test_fraction))} % of rows)"  # named in messages
    n_train = len(df) - int(round(len(df) * float(test_fraction)))
    if n_train < 1:
        raise DataError(f"{path}: no rows left for training with --test-fraction {test_fraction}")
    data = DataRecord.of(path, None, seed, label_column=det.label_column, series=True, n_rows=len(df),
                         train_rows=n_train, test_fraction=float(test_fraction), n_steps=int(whole.values.shape[-1]))
    with record.lock(), record.replacing(overwrite):  # a fit that fails puts the earlier run back
        det.fit(df.iloc[:n_train])
        run = det.save(out, data=data.to_dict())
    return det, run, n_train


def score_series_file(det, path, out) -> dict:
    """Score every time step of a series file with a fitted series detector.

    Parameters
    ----------
    det : AutoEncoderDetector
        Fitted on a series (``det.series_``).
    path : str or path-like
        A CSV or Parquet file with the training channels (matched by name; extra columns ignored).
    out : str or path-like
        A .csv or .parquet file: ``step`` (from 0), ``time`` (when the detector has a time
        column), ``score``, ``anomaly`` (1 above the threshold) and ``label`` (when the file has
        the label column).

    Returns
    -------
    dict
        "steps", "flagged" (steps), "flagged_ranges", "out", and with labels the metrics of
        `series_metrics` (per-step ROC-AUC, range-based precision and recall).
    """
    from aekit.metrics_ranges import ranges

    if getattr(det, "series_", None) is None:
        raise ConfigError("this detector was not fitted on a time series (no --window): score it with --split")
    out = check_output_file(out)
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ConfigError(f"--out {out}: write scores to a .csv or .parquet file")
    scores, data = series_scores(det, path)
    flagged = np.nan_to_num(scores, nan=-np.inf) > det.threshold_
    frame = pd.DataFrame({"step": np.arange(len(scores))})
    if data.time is not None:
        t = data.time  # whole numbers read back as they were written (the reader keeps times as float64)
        integral = (t.size > 0 and t.dtype.kind == "f" and np.isfinite(t).all() and (t == np.round(t)).all()
                    and np.abs(t).max() < 2**53)
        frame["time"] = t.astype(np.int64) if integral else t
    frame["score"] = scores
    frame["anomaly"] = flagged.astype(np.int8)
    labels = read_labels(path, det.series_)
    if labels is not None:
        frame["label"] = labels.astype(np.int8)
    import io

    buf = io.BytesIO()
    if suffix == ".csv":
        buf.write(frame.to_csv(index=False).encode())
    else:
        frame.to_parquet(buf, index=False)
    atomic_write_bytes(out, buf.getvalue())
    result = {"steps": int(len(scores)), "flagged": int(flagged.sum()), "flagged_ranges": int(len(ranges(flagged))),
              "out": str(out)}
    if labels is not None:
        result.update(series_metrics(scores, labels, det.threshold_))
    return result


__all__ = ["TEST_FRACTION", "fit_series_detector", "score_series_file"]
