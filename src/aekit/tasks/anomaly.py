"""Scoring a data split with a fitted detector: CSV, metrics, histogram, ROC curve, top anomalies."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from aekit.data import Dataset
from aekit.detectors import AutoEncoderDetector, detection_metrics
from aekit.errors import DataError
from aekit.runs import atomic_write_text, write_json


def parse_labels(text: str | None) -> list[int] | None:
    if text is None or str(text).strip() == "":
        return None
    try:
        return sorted({int(t) for t in str(text).replace(" ", "").split(",") if t})
    except ValueError:
        raise DataError(f"--normal-label must be comma-separated integers, like 0 or 0,1,2 (got {text!r})") from None


def normal_subset(ds: Dataset, normal: list[int] | None) -> Dataset:
    """The rows whose label is one of `normal` (all rows when None)."""
    if normal is None:
        return ds
    if ds.y is None:
        raise DataError(f"{ds.name}: --normal-label needs labelled data, and this data has no labels")
    present = set(np.unique(ds.y).tolist())
    missing = [c for c in normal if c not in present]
    if missing:
        raise DataError(f"{ds.name}: no samples with label {missing}; labels present: {sorted(present)}")
    return ds.subset(np.flatnonzero(np.isin(ds.y, normal)))


def score_split(det: AutoEncoderDetector, ds: Dataset, out: Path, normal: list[int] | None, top: int = 32) -> dict:
    from aekit.report import figures
    from aekit.report.grid import save_image_grid

    out.mkdir(parents=True, exist_ok=True)
    X = ds.X if ds.is_image and getattr(det.estimator_, "input_ndim_", 2) == 4 else ds.flat()
    scores = det.decision_function(X)
    pred = (scores > det.threshold_).astype(int)
    is_anomaly = None if (ds.y is None or normal is None) else ~np.isin(ds.y, normal)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["index", "score", "anomaly_predicted"] + (["label"] if ds.y is not None else [])
               + (["anomaly_true"] if is_anomaly is not None else []) + (["path"] if ds.paths else []))
    for i in range(len(ds)):
        row = [i, f"{scores[i]:.6g}", int(pred[i])]
        if ds.y is not None:
            row.append(int(ds.y[i]))
        if is_anomaly is not None:
            row.append(int(is_anomaly[i]))
        if ds.paths:
            row.append(ds.paths[i])
        w.writerow(row)
    atomic_write_text(out / "scores.csv", buf.getvalue())
    metrics = {"data": ds.name, "split": ds.split, "normal_labels": normal, "threshold_source": det.threshold_source_}
    if is_anomaly is not None:
        metrics.update(detection_metrics(scores, is_anomaly, det.threshold_))
    else:
        metrics.update({"n": len(ds), "threshold": det.threshold_, "flagged": int(pred.sum())})
    metrics["figures"] = {"histogram": str(figures.score_histogram(scores, det.threshold_, out / "score-histogram.png",
                                                                   is_anomaly))}
    if is_anomaly is not None and "roc_auc" in metrics:
        metrics["figures"]["roc"] = str(figures.roc_curves({"autoencoder": scores}, is_anomaly, out / "roc.png"))
    if ds.is_image:
        order = np.argsort(-np.where(np.isfinite(scores), scores, np.inf))[:top]
        metrics["figures"]["most_anomalous"] = str(save_image_grid(ds.X[order], out / "most-anomalous.png",
                                                                   value_range=ds.value_range))
    write_json(out / "metrics.json", metrics)
    return metrics
