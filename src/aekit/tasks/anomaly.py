"""Anomaly detection tasks: the normal subset of a labelled split, and scoring a split."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from aekit.data import Dataset
from aekit.errors import DataError
from aekit.evaluation import evaluate_detector
from aekit.report.detector import detector_figures
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


def score_split(det, ds: Dataset, out: Path, normal: list[int] | None, top: int = 32, train: Dataset | None = None
                ) -> dict:
    """Score `ds`: scores.csv, metrics.json, histogram, ROC (with labels), most anomalous images; with the
    detector's training split `train`, PCA and IsolationForest fitted on it beside the autoencoder."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    metrics, scores, is_anomaly = evaluate_detector(det, ds, normal, train=train)
    pred = (scores > det.threshold_).astype(int)
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
    written = detector_figures(scores, det.threshold_, is_anomaly, ds, out, top)
    metrics["figures"] = {k: str(v) for k, v in written.items()}
    write_json(out / "metrics.json", metrics)
    return metrics


__all__ = ["normal_subset", "parse_labels", "score_split"]
