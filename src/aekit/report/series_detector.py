"""The report's picture and table of a time-series detector: the series, channel by channel, with
its per-step score underneath, the threshold, the flagged spans and the true anomaly spans."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from aekit.report import figures
from aekit.report.facts import facts_table
from aekit.report.html import Section, Table

MAX_CHANNELS_DRAWN = 8
FLAGGED_COLOUR, TRUE_COLOUR = "C3", "C2"


def _shade(ax, x: np.ndarray, where: np.ndarray, colour: str, alpha: float, label: str | None = None) -> None:
    """Shade the spans where `where` holds across the whole height of `ax` (one call, any number of spans)."""
    if where is not None and where.any():
        ax.fill_between(x, 0, 1, where=where, step="mid", color=colour, alpha=alpha, linewidth=0,
                        transform=ax.get_xaxis_transform(), label=label)


def series_figure(values: np.ndarray, channels: list[str], scores: np.ndarray, threshold: float, path: Path, *,
                  time: np.ndarray | None = None, is_anomaly: np.ndarray | None = None,
                  test_start: int | None = None) -> Path:
    """The series (one panel per channel, at most 8) over its per-step anomaly score, with the
    threshold line, the flagged steps shaded red and the true anomaly steps (with labels) green.

    Parameters
    ----------
    values : np.ndarray
        C×T, the series as read (masked values may be NaN: they are not drawn).
    channels : list of str
        The channel names.
    scores : np.ndarray
        T per-step scores (NaN: no observed value).
    threshold : float
        Steps scoring above it are flagged.
    path : pathlib.Path
        The PNG file.
    time : np.ndarray or None
        T times for the x axis (None: the step number).
    is_anomaly : np.ndarray or None
        T booleans: the true anomaly steps.
    test_start : int or None
        The first step of the test part, marked with a dotted line.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile
    >>> v = np.sin(np.arange(200) / 5)[None].repeat(2, 0)
    >>> s = np.abs(np.random.default_rng(0).normal(size=200))
    >>> series_figure(v, ["a", "b"], s, 2.0, Path(tempfile.mkdtemp()) / "s.png", is_anomaly=s > 2.5).name
    's.png'
    """
    import matplotlib.pyplot as plt

    c, t = values.shape
    shown = min(c, MAX_CHANNELS_DRAWN)
    x = np.arange(t) if time is None else np.asarray(time)
    flagged = np.nan_to_num(scores, nan=-np.inf) > threshold
    fig, axes = plt.subplots(shown + 1, 1, figsize=(11, 1.3 * shown + 2.2), sharex=True,
                             gridspec_kw={"height_ratios": [1] * shown + [1.6]}, squeeze=False)
    axes = axes[:, 0]
    for i in range(shown):
        ax = axes[i]
        ax.plot(x, values[i], lw=0.6, color="C0")
        ax.set_ylabel(str(channels[i])[:14], fontsize=8, rotation=0, ha="right", va="center")
        ax.tick_params(labelsize=7)
    ax = axes[-1]
    ax.plot(x, scores, lw=0.7, color="k", label="score")
    ax.axhline(threshold, color=FLAGGED_COLOUR, ls="--", lw=1, label=f"threshold {threshold:.3g}")
    ax.plot(x[flagged], scores[flagged], "o", ms=2.5, color=FLAGGED_COLOUR)  # a one-step span is too thin to see
    finite = scores[np.isfinite(scores) & (scores > 0)]
    if len(finite) and finite.max() / max(finite.min(), 1e-12) > 100:
        ax.set_yscale("log")  # scores span decades: a spike would flatten everything else
    ax.set_ylabel("score", fontsize=8)
    ax.tick_params(labelsize=7)
    for a in axes:
        _shade(a, x, is_anomaly if is_anomaly is not None else None, TRUE_COLOUR, 0.25,
               "true anomaly" if a is ax else None)
        _shade(a, x, flagged, FLAGGED_COLOUR, 0.25, "flagged" if a is ax else None)
        if test_start is not None and 0 < test_start < t:
            a.axvline(x[test_start], color="0.4", ls=":", lw=1)
    ax.legend(fontsize=7, loc="upper left", ncol=4)
    title = "series and per-step anomaly score"
    if c > shown:
        title += f" (first {shown} of {c} channels)"
    if test_start is not None and 0 < test_start < t:
        title += "; the dotted line starts the test part"
    axes[0].set_title(title, fontsize=9)
    ax.set_xlabel("time" if time is not None else "step", fontsize=8)
    fig.subplots_adjust(hspace=0.08)
    return figures.save_figure(fig, path)


def series_tables(m: dict) -> list[Table]:
    """The point and range metrics of a series detector on its test part.

    Examples
    --------
    >>> m = {"threshold": 0.5, "flagged": 3, "n": 100, "data": "s.csv", "split": "test", "roc_auc": 0.9,
    ...      "range_precision": 0.5, "range_recall": 0.75, "range_f1": 0.6, "range_alpha": 0.5}
    >>> [r[0] for r in series_tables(m)[0].rows]
    ['threshold', 'flagged steps', 'ROC-AUC (per step)', 'range precision', 'range recall', 'range F1']
    """
    rows = [["threshold", f"{m['threshold']:.4g}"],
            ["flagged steps", f"{m['flagged']} ({m['flagged'] / max(m['n'], 1):.1%})"]]
    labels = (("roc_auc", "ROC-AUC (per step)"), ("pr_auc", "PR-AUC (per step)"), ("range_precision", "range precision"),
              ("range_recall", "range recall"), ("range_f1", "range F1"))
    rows += [[label, f"{m[key]:.4f}"] for key, label in labels if key in m]
    caption = " ".join(f"Warning: {w}." for w in m.get("warnings", [])) + f" Threshold: {m.get('threshold_source', '')}."
    if "range_recall" in m:
        caption += (f" Range precision and recall after Tatbul et al. 2018 (flat bias, cardinality 1/x, "
                    f"existence weight α = {m.get('range_alpha', 0.5):g} in recall).")
    else:
        caption += " No ROC-AUC: the series has no label column (--label-column) or no anomaly in its test part."
    tables = [Table(["", "value"], rows, caption=caption.strip(),
                    title=f"per-step anomaly scores on {m['data']} {m['split']} ({m['n']} steps)")]
    if m.get("baselines"):
        tables.append(Table(
            ["detector", "ROC-AUC", "range precision", "range recall"],
            [["autoencoder", m["roc_auc"], m["range_precision"], m["range_recall"]]]
            + [[name, b["roc_auc"], b["range_precision"], b["range_recall"]] for name, b in m["baselines"].items()],
            caption="The autoencoder beside PCA and IsolationForest on the same windows of the same training part, "
                    "their scores spread back over the steps the same way, each with its own threshold by the same rule.",
            title="beside the baselines"))
    return tables


CAPTION = ("The series, channel by channel, over its per-step anomaly score (log scale when the scores span "
           "decades); the dashed line is the threshold, red spans are the flagged steps, green spans the true "
           "anomalies (from the label column).")


def series_section(name: str, det, metrics: dict, context: dict, fig_dir: Path) -> Section:
    """The report section of a time-series detector: its tables and the series figure.

    Parameters
    ----------
    name : str
        The section's heading.
    det : object
        A fitted AutoEncoderDetector on a series (``series_``, ``estimator_``, ``threshold_``).
    metrics : dict
        As `series_tables` reads them.
    context : dict
        "series" (SeriesData), "scores", "is_anomaly" (or None) and "test_start".
    fig_dir : pathlib.Path
        Where series-scores.png is written.

    Returns
    -------
    Section
    """
    series = context["series"]
    values = np.where(series.mask[0], series.values[0], np.nan)
    path = series_figure(values, series.channels, context["scores"], det.threshold_, Path(fig_dir) / "series-scores.png",
                         time=series.time, is_anomaly=context["is_anomaly"], test_start=context["test_start"] or None)
    est, layout = det.estimator_, det.series_
    model = type(est).__name__
    text = [f"{'An' if model[0] in 'AEIOU' else 'A'} {model} reconstructs windows of {layout.window} steps every "
            f"{layout.hop} steps of the {len(layout.channels)} channels (standardized per channel on the training "
            f"part); a step's score is its squared error averaged over the windows covering it and over the "
            f"channels (<code>{det.score_}</code>). Trained {getattr(est, 'n_epochs_', '?')} epochs."]
    sec = Section(name, text=[*(f"<b class='warn'>Warning:</b> {w}." for w in metrics.get("warnings", [])), *text],
                  tables=[facts_table(det, metrics), *series_tables(metrics)])
    sec.figures.append((path, CAPTION))
    return sec


__all__ = ["series_figure", "series_section", "series_tables"]
