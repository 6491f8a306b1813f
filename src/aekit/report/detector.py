"""Pictures, tables and the report section of an anomaly detector."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from aekit.data import Dataset
from aekit.data.sources import is_row_source
from aekit.report import figures
from aekit.report.facts import facts_table
from aekit.report.grid import save_image_grid
from aekit.report.html import Section, Table

METRIC_LABELS = (("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"), ("tpr_at_threshold", "TPR at threshold"),
                 ("fpr_at_threshold", "FPR at threshold"))


def detector_tables(m: dict) -> list[Table]:
    """Threshold, flagged share and (with labels) ROC-AUC, PR-AUC and the rates at the threshold.

    Parameters
    ----------
    m : dict
        A detector's metrics: "threshold", "flagged", "n", "data", "split", optionally
        "threshold_source" and the METRIC_LABELS keys.

    Returns
    -------
    list of Table

    Examples
    --------
    >>> m = {"threshold": 0.0123, "flagged": 5, "n": 100, "data": "digits", "split": "test", "roc_auc": 0.9}
    >>> table = detector_tables(m)[0]
    >>> table.title, table.rows
    ('anomaly scores on digits test (100 samples)', [['threshold', '0.0123'], ['flagged', '5 (5.0%)'], ['ROC-AUC', '0.9000']])
    """
    if "range_recall" in m or m.get("series"):  # a time-series detector: per-step and range metrics
        from aekit.report.series_detector import series_tables

        return series_tables(m)
    rows = [["threshold", f"{m['threshold']:.4g}"],
            ["flagged", f"{m['flagged']} ({m['flagged'] / max(m['n'], 1):.1%})"]]
    rows += [[label, f"{m[key]:.4f}"] for key, label in METRIC_LABELS if key in m]
    caption = " ".join(f"Warning: {w}." for w in m.get("warnings", [])) + f" Threshold: {m.get('threshold_source', '')}."
    if "roc_auc" not in m:
        caption += " No ROC-AUC: the data's labels do not say which rows are anomalies (--normal-label)."
    tables = [Table(["", "value"], rows, caption=caption,
                    title=f"anomaly scores on {m['data']} {m['split']} ({m['n']} samples)")]
    if m.get("baselines"):
        tables.append(Table(
            ["detector", "ROC-AUC", "PR-AUC"],
            [["autoencoder", m["roc_auc"], m["pr_auc"]]]
            + [[name, b["roc_auc"], b["pr_auc"]] for name, b in m["baselines"].items()],
            caption="The autoencoder beside PCA reconstruction error and IsolationForest, fitted on the same "
                    "training rows and scored on the same rows.",
            title="beside the baselines"))
    return tables


def detector_figures(scores: np.ndarray, threshold: float, is_anomaly, ds: Dataset | None, out: Path,
                     top: int = 32) -> dict[str, Path]:
    """Score histogram (threshold marked), ROC curve with labels, most anomalous images.

    Parameters
    ----------
    scores : ndarray of shape (N,)
        Anomaly scores of the samples of `ds`.
    threshold : float
        The detector's threshold.
    is_anomaly : ndarray of bool or None
        Ground truth; the ROC curve needs both kinds present.
    ds : Dataset or None
        The scored data; images get a grid of the `top` highest scores (None for a table).
    out : pathlib.Path
        The folder the PNG files are written to.
    top : int, default 32
        Images in the most-anomalous grid.

    Returns
    -------
    dict of str to pathlib.Path
        "histogram", and "roc" and "most_anomalous" when drawn.

    Examples
    --------
    >>> import tempfile
    >>> ds = Dataset(np.random.default_rng(0).random((20, 1, 8, 8)), None, "toy", (0.0, 1.0))
    >>> scores = np.arange(20.0)
    >>> sorted(detector_figures(scores, 15.0, scores > 15, ds, Path(tempfile.mkdtemp()), top=4))
    ['histogram', 'most_anomalous', 'roc']
    """
    out = Path(out)
    written = {"histogram": figures.score_histogram(scores, threshold, out / "score-histogram.png", is_anomaly)}
    if is_anomaly is not None and 0 < int(np.sum(is_anomaly)) < len(is_anomaly):
        written["roc"] = figures.roc_curves({"autoencoder": scores}, is_anomaly, out / "roc.png")
    if ds is not None and ds.is_image:
        order = np.argsort(-np.where(np.isfinite(scores), scores, np.inf))[:top]
        images = ds.X.read(order) if is_row_source(ds.X) else ds.X[order]  # rows left on disk: read by index
        written["most_anomalous"] = save_image_grid(images, out / "most-anomalous.png",
                                                    value_range=ds.value_range)
    return written


def explanation_bars(explanations, scores: dict, threshold: float, path: Path) -> Path:
    """One small bar chart per row: the columns that made its anomaly score, with their shares.

    Parameters
    ----------
    explanations : pandas.DataFrame
        A detector's long-form explanation (row, rank, column, share), rows in the order drawn.
    scores : dict
        Each row's score, by row label.
    threshold : float
        The detector's threshold, for the titles.
    path : pathlib.Path
        The PNG file.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import pandas as pd, tempfile
    >>> ex = pd.DataFrame({"row": [7, 7, 3], "rank": [1, 2, 1], "column": ["a", "b", "a"], "share": [0.8, 0.2, 1.0]})
    >>> explanation_bars(ex, {7: 2.0, 3: 1.5}, 1.0, Path(tempfile.mkdtemp()) / "x.png").name
    'x.png'
    """
    import matplotlib.pyplot as plt

    rows = list(dict.fromkeys(explanations["row"].tolist()))
    n_cols = min(4, max(1, len(rows)))
    n_rows = max(1, -(-len(rows) // n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.2 * n_cols, 2.2 * n_rows), squeeze=False)
    for ax in axes.ravel()[len(rows):]:
        ax.axis("off")
    for ax, row in zip(axes.ravel(), rows):
        part = explanations[explanations["row"] == row].sort_values("rank")
        ax.barh(np.arange(len(part))[::-1], part["share"], color="C3")
        ax.set_yticks(np.arange(len(part))[::-1], [str(c) for c in part["column"]], fontsize=8)
        ax.set_xlim(0, 1)
        ax.tick_params(axis="x", labelsize=7)
        flag = " (flagged)" if scores[row] > threshold else ""
        ax.set_title(f"row {row}: score {scores[row]:.3g}{flag}", fontsize=8)
    fig.subplots_adjust(wspace=0.6, hspace=0.6)
    fig.supxlabel("share of the row's anomaly score", fontsize=8)
    return figures.save_figure(fig, path)


CAPTIONS = {"histogram": "Scores of the test split; the dashed line is the threshold.",
            "explanations": "The most anomalous test rows, highest score first, each with the columns that made "
                            "its score so high (each column's share of the row's score; a row's shares over all its "
                            "columns sum to 1).",
            "roc": "ROC curve of the scores against the anomaly labels.",
            "most_anomalous": "The most anomalous test samples, highest score first."}


def detector_section(name: str, det, metrics: dict, written: dict[str, Path]) -> Section:
    """The detector's table and figures.

    Parameters
    ----------
    name : str
        The section's heading.
    det : object
        A fitted AutoEncoderDetector (its ``score`` and ``estimator_``).
    metrics : dict
        Its metrics, as `detector_tables` reads them.
    written : dict of str to pathlib.Path
        The figures `detector_figures` wrote.

    Returns
    -------
    Section
    """
    est = det.estimator_
    model = type(est).__name__
    text = [f"{'An' if model[0] in 'AEIOU' else 'A'} {model} scores each sample by <code>{det.score_}</code>; samples scoring above "
            f"the threshold are flagged. Trained {est.n_epochs_} epochs."]
    sec = Section(name, text=[*(f"<b class='warn'>Warning:</b> {w}." for w in metrics.get("warnings", [])), *text],
                  tables=[facts_table(det, metrics), *detector_tables(metrics)])
    sec.figures += [(path, CAPTIONS[key]) for key, path in written.items()]
    return sec


__all__ = ["detector_figures", "detector_section", "detector_tables"]
