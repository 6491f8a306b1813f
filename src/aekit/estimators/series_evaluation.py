"""A fitted time-series detector measured on a series: per-step and range metrics on the test
part, beside PCA and IsolationForest on the same windows (what `aekit report` shows)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from aekit.estimators.series_detector import (IsolationForestWindows, PCAWindows, read_labels, series_metrics,
                                             series_scores)

BASELINE_KEYS = ("roc_auc", "pr_auc", "range_precision", "range_recall")


def evaluate_series_detector(det, source, *, train_rows: int | None = None) -> tuple[dict, dict]:
    """(metrics, context) of a series detector on the series in `source`.

    Parameters
    ----------
    det : AutoEncoderDetector
        Fitted on a series (``det.series_``).
    source : str, path or pandas.DataFrame
        The series; when it is the run's own file, its first `train_rows` rows trained the
        detector.
    train_rows : int or None, default None
        The rows of `source` the detector was fitted on (its run's record): the metrics are then
        on the steps after them (the test part), and the baselines are fitted on those rows.
        None: `source` is other data, measured whole, without baselines.

    Returns
    -------
    (dict, dict)
        The metrics ("data", "split", "threshold_source", and `series_metrics`' keys when the
        series has a label column with both kinds of step in the measured part, then also
        "baselines"; otherwise "n", "threshold", "flagged"), and the context the report draws
        from: "series" (SeriesData), "scores", "is_anomaly" (or None), "test_start".
    """
    from sklearn.base import clone

    scores, series = series_scores(det, source)
    labels = read_labels(source, det.series_)
    n_fit = len(det.decision_scores_)  # the training part's steps (gaps filled as in the whole series)
    test_start = n_fit if train_rows is not None and n_fit < len(scores) else 0
    part = slice(test_start, None)
    name = Path(str(source)).name if not hasattr(source, "columns") else "DataFrame"
    metrics = {"data": name, "split": "test" if test_start else "all", "threshold_source": det.threshold_source_,
               "series": True}
    if labels is not None and 0 < labels[part].sum() < len(scores[part]):
        metrics.update(series_metrics(scores[part], labels[part], det.threshold_))
        if train_rows:
            from aekit.data.tabular import read_table

            train = source.iloc[:train_rows] if hasattr(source, "iloc") else read_table(source).iloc[:int(train_rows)]
            code = getattr(getattr(det.estimator_, "model_config_", None), "code_size", None) or 16
            metrics["baselines"] = {}
            for label, model in ((f"PCA-{code} on windows", PCAWindows(code, det.random_state)),
                                 ("IsolationForest on windows", IsolationForestWindows(det.random_state))):
                b = clone(det).set_params(estimator=model).fit(train)
                m = series_metrics(b.decision_function(source)[part], labels[part], b.threshold_)
                metrics["baselines"][label] = {k: m[k] for k in BASELINE_KEYS}
    else:
        flagged = np.nan_to_num(scores[part], nan=-np.inf) > det.threshold_
        metrics.update({"n": len(scores[part]), "threshold": det.threshold_, "flagged": int(flagged.sum())})
    return metrics, {"series": series, "scores": scores, "is_anomaly": labels, "test_start": test_start}


__all__ = ["evaluate_series_detector"]
