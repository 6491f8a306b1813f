"""Matplotlib figures (Agg backend, no screen needed), each saved as a PNG."""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from aekit.runs import atomic_write_bytes  # noqa: E402


def display_name(name) -> str:
    """A name as it can be drawn and written: bytes that were not UTF-8 (a folder name that
    Python decoded with surrogate escapes) become U+FFFD.

    Examples
    --------
    >>> display_name("caf" + chr(0xDCE9)) == "caf" + chr(0xFFFD)
    True
    """
    return str(name).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Save a matplotlib figure as PNG (110 dpi, tight box) atomically, then close it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or os.PathLike

    Returns
    -------
    pathlib.Path
        `path`.

    Examples
    --------
    >>> import tempfile
    >>> fig, ax = plt.subplots(figsize=(1, 1))
    >>> save_figure(fig, Path(tempfile.mkdtemp()) / "empty.png").read_bytes()[:4]
    b'\\x89PNG'
    """
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def as_image_array(X: np.ndarray, image_shape: tuple[int, ...] | None) -> np.ndarray | None:
    """N×H×W (grey) or N×H×W×3 arrays for drawing, or None for non-image data.

    Parameters
    ----------
    X : ndarray
        N×C×H×W images, or N×D rows of `image_shape` or of a square side.
    image_shape : tuple of int or None
        (C, H, W) of flat rows.

    Returns
    -------
    ndarray or None

    Examples
    --------
    >>> as_image_array(np.zeros((2, 64)), None).shape, as_image_array(np.zeros((2, 5)), None) is None
    ((2, 8, 8), True)
    """
    if X.ndim == 4:
        imgs = X
    elif image_shape is not None and len(image_shape) == 3:
        imgs = X.reshape(len(X), *image_shape)
    else:
        side = int(round(np.sqrt(X.shape[1])))
        if side * side != X.shape[1]:
            return None
        imgs = X.reshape(len(X), 1, side, side)
    return imgs[:, 0] if imgs.shape[1] == 1 else np.moveaxis(imgs, 1, -1)


def plain_loss_axes(ax, values) -> str:
    """Epoch axis with whole-number ticks; loss axis with plain tick labels (no offset, no powers
    of ten): logarithmic when the positive losses span a factor of 10 or more (then only the
    decades are labelled), linear otherwise. Returns the scale used ("log" or "linear").

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    values : array-like
        Every loss drawn on the axes (None and non-finite values are ignored).

    Returns
    -------
    str

    Examples
    --------
    >>> fig, ax = plt.subplots()
    >>> plain_loss_axes(ax, [0.5, 0.04]), plain_loss_axes(ax, [32.1, 27.5]), plain_loss_axes(ax, [3.0, -1.0])
    ('log', 'linear', 'linear')
    >>> plt.close(fig)
    """
    from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter, ScalarFormatter

    v = np.array([x for x in values if x is not None], dtype=np.float64)
    v = v[np.isfinite(v)]
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    scale = "log" if len(v) and v.min() > 0 and v.max() / v.min() >= 10 else "linear"
    ax.set_yscale(scale)
    if scale == "log":
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        plain = ScalarFormatter(useOffset=False)
        plain.set_scientific(False)
        ax.yaxis.set_major_formatter(plain)
    return scale


def _stage_curves(ax, history: list[dict], color=None, label: str = "") -> list[float]:
    """Draw one history (stages one after another on the epoch axis); the losses drawn."""
    stages = list(dict.fromkeys(str(r.get("stage", "train")) for r in history))
    offset, drawn = 0, []
    for i, stage in enumerate(stages):
        rows = [r for r in history if str(r.get("stage", "train")) == stage]
        x = np.arange(1, len(rows) + 1) + offset
        c = color if color is not None else f"C{i}"
        prefix = f"{label}{': ' if label else ''}{stage + ': ' if len(stages) > 1 else ''}"
        marker = "o" if len(rows) < 5 else None  # a stage of one epoch is a point: a line alone would not show
        loss = [r["loss"] for r in rows]
        ax.plot(x, loss, color=c, marker=marker, label=f"{prefix}training")
        drawn += loss
        if rows and rows[0].get("val_loss") not in (None, ""):
            val = [r.get("val_loss") for r in rows]
            val = [np.nan if x_ in (None, "") else x_ for x_ in val]
            ax.plot(x, val, color=c, ls="--", marker=marker, mfc="none", label=f"{prefix}validation")
            drawn += val
        offset += len(rows)
    return drawn


def loss_curves(history: list[dict], path: str | os.PathLike, title: str = "Training") -> Path:
    """Training and validation loss per epoch, one colour per stage (pretraining, fine-tuning).

    Parameters
    ----------
    history : list of dict
        One row per epoch with "loss", and optionally "val_loss" and "stage" (default "train");
        stages follow each other on the epoch axis.
    path : str or os.PathLike
        The PNG file.
    title : str, default "Training"

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile
    >>> history = [{"stage": "pretrain", "loss": 0.3}, {"stage": "finetune", "loss": 0.2, "val_loss": 0.25},
    ...            {"stage": "finetune", "loss": 0.1, "val_loss": 0.15}]
    >>> loss_curves(history, Path(tempfile.mkdtemp()) / "loss.png").name
    'loss.png'
    """
    fig, ax = plt.subplots(figsize=(7.0, 3.8))
    plain_loss_axes(ax, _stage_curves(ax, history))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def overlaid_loss_curves(histories: dict[str, list[dict]], path: str | os.PathLike,
                         title: str = "Loss per epoch") -> Path:
    """Several runs' loss curves on one plot, one colour per run (solid: training, dashed: validation).

    Parameters
    ----------
    histories : dict of str to list of dict
        Run label → its history rows (as `loss_curves` reads them); empty histories are skipped.
    path : str or os.PathLike
        The PNG file.
    title : str, default "Loss per epoch"

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile
    >>> h = {"a": [{"loss": 0.3, "val_loss": 0.4}, {"loss": 0.2, "val_loss": 0.3}], "b": [{"loss": 0.5}]}
    >>> overlaid_loss_curves(h, Path(tempfile.mkdtemp()) / "loss.png").name
    'loss.png'
    """
    fig, ax = plt.subplots(figsize=(8.0, 4.4))
    drawn: list[float] = []
    for i, (name, history) in enumerate(histories.items()):
        if history:
            drawn += _stage_curves(ax, history, color=f"C{i % 10}", label=display_name(name))
    plain_loss_axes(ax, drawn)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return save_figure(fig, path)


def reconstruction_grid(
    rows: dict[str, np.ndarray],
    path: str | os.PathLike,
    image_shape: tuple[int, ...] | None = None,
    value_range: tuple[float, float] = (0.0, 1.0),
    n: int = 10,
) -> Path | None:
    """One row per entry (original, each model, PCA) of the same n samples.

    Parameters
    ----------
    rows : dict of str to ndarray
        Row label → images (N×C×H×W, or N×D rows of `image_shape` or of a square side).
    path : str or os.PathLike
        The PNG file.
    image_shape : tuple of int or None, default None
        (C, H, W) of flat rows.
    value_range : tuple of float, default (0.0, 1.0)
        The values shown as black and white.
    n : int, default 10
        Samples (columns) shown.

    Returns
    -------
    pathlib.Path or None
        None, and nothing written, when the data are not images.

    Examples
    --------
    >>> import tempfile
    >>> X = np.random.default_rng(0).random((4, 64))              # 8×8 images as rows
    >>> reconstruction_grid({"original": X, "pca": X}, Path(tempfile.mkdtemp()) / "r.png", n=4).name
    'r.png'
    >>> reconstruction_grid({"table": np.zeros((4, 5))}, "never.png") is None
    True
    """
    panels = {k: as_image_array(np.asarray(v)[:n], image_shape) for k, v in rows.items()}
    if any(p is None for p in panels.values()):
        return None
    n = min(n, *(len(p) for p in panels.values()))
    fig, axes = plt.subplots(len(panels), n, figsize=(1.1 * n, 1.2 * len(panels)), squeeze=False)
    for r, (name, imgs) in enumerate(panels.items()):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(np.clip(imgs[c], *value_range), cmap="gray", vmin=value_range[0], vmax=value_range[1],
                      interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.subplots_adjust(wspace=0.05, hspace=0.05)
    return save_figure(fig, path)


def to_2d(codes: np.ndarray) -> tuple[np.ndarray, str]:
    """The code itself when 2-D; else its first two principal components (said in the label).

    Parameters
    ----------
    codes : ndarray of shape (N, L)

    Returns
    -------
    points : ndarray of shape (N, 2)
        A 1-D code gets a zero second coordinate.
    label : str
        What the axes show.

    Examples
    --------
    >>> points, label = to_2d(np.random.default_rng(0).random((20, 5)))
    >>> points.shape, label
    ((20, 2), 'first 2 PCs of the 5-D code')
    """
    if codes.shape[1] == 2:
        return codes, "code"
    if codes.shape[1] == 1:
        return np.column_stack([codes[:, 0], np.zeros(len(codes))]), "code (1-D)"
    from sklearn.decomposition import PCA

    return PCA(2, svd_solver="full").fit_transform(codes), f"first 2 PCs of the {codes.shape[1]}-D code"


SCATTER_MAX_POINTS = 10_000  # larger sets show a seeded random sample of this many (the title says so)


def marker_style(n: int) -> tuple[float, float]:
    """(marker area in points², alpha) for a scatter of n points: small sets get large opaque
    markers; crowded ones smaller, more transparent markers, so that dense clusters show their
    density instead of one solid blob.

    Examples
    --------
    >>> marker_style(300), marker_style(10_000)
    ((12.0, 0.85), (2.0, 0.3))
    """
    n = max(int(n), 1)
    size = float(np.clip(3600.0 / n, 2.0, 12.0))
    alpha = float(np.clip(np.sqrt(900.0 / n), 0.3, 0.85))
    return round(size, 2), round(alpha, 2)


def latent_scatter(
    panels: dict[str, np.ndarray],
    labels: np.ndarray | None,
    path: str | os.PathLike,
    classes: list[str] | None = None,
    max_points: int = SCATTER_MAX_POINTS,
) -> Path:
    """Side-by-side 2-D scatters (e.g. the autoencoder's code beside PCA's), coloured by label.

    Markers shrink and grow transparent with the number of points (`marker_style`), so that
    10,000 points stay readable; above `max_points` a seeded random sample is drawn, and each
    panel's title says so.

    Parameters
    ----------
    panels : dict of str to ndarray
        Panel title → codes N×L (shown through `to_2d`).
    labels : ndarray or None
        Integer labels, N, for the colours; None for one colour.
    path : str or os.PathLike
        The PNG file.
    classes : list of str or None, default None
        Label names for the legend.
    max_points : int, default 10000
        Larger panels show a seeded random subset.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile
    >>> Z = np.random.default_rng(0).random((30, 2))
    >>> latent_scatter({"ae": Z, "pca": Z}, np.arange(30) % 3, Path(tempfile.mkdtemp()) / "z.png").name
    'z.png'
    """
    k = len(panels)
    fig, axes = plt.subplots(1, k, figsize=(max(6.0, 5.0 * k), 4.6), squeeze=False)
    rng = np.random.default_rng(0)
    for ax, (name, Z) in zip(axes[0], panels.items()):
        idx = np.arange(len(Z))
        sampled = ""
        if len(idx) > max_points:
            idx = np.sort(rng.choice(len(idx), max_points, replace=False))
            sampled = f"; a random {max_points:,} of {len(Z):,} points"
        Z2, how = to_2d(np.asarray(Z)[idx])
        c = None if labels is None else np.asarray(labels)[idx]
        size, alpha = marker_style(len(idx))
        colour = {"c": c, "cmap": "tab10"} if c is not None else {}  # unlabelled: one colour, no colour map
        sc = ax.scatter(Z2[:, 0], Z2[:, 1], s=size, alpha=alpha, linewidths=0, **colour)
        ax.set_title(f"{name}\n({how}{sampled})", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if labels is not None:
        handles = sc.legend_elements(alpha=1.0)[0]  # legend markers opaque, whatever the points' alpha
        values = np.unique(np.asarray(labels))
        names = [display_name(classes[int(v)]) if classes and int(v) < len(classes) else str(int(v)) for v in values]
        # the legend sits right of the panels, in room made for it (long class names included)
        fig.subplots_adjust(right=0.86)
        fig.legend(handles, names, loc="center left", bbox_to_anchor=(0.87, 0.5), fontsize=8, title="label")
    return save_figure(fig, path)


def code_unit_activity(mean_activation: np.ndarray, rho: float, path: str | os.PathLike, title: str = "") -> Path:
    """Mean activation ρ̂_j of each code unit over the test set, against the target ρ.

    Parameters
    ----------
    mean_activation : ndarray of shape (L,)
        ρ̂_j per code unit.
    rho : float
        The sparsity target ρ.
    path : str or os.PathLike
        The PNG file.
    title : str, default ""
        Default: "Sparse code: mean activation per unit".

    Returns
    -------
    pathlib.Path
    """
    k = len(mean_activation)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.18 * k + 1.5), 3.2))
    ax.bar(np.arange(k), mean_activation, color="C0", width=0.8, label="mean activation ρ̂ⱼ")
    ax.axhline(rho, color="C3", ls="--", label=f"target ρ = {rho:g}")
    ax.set_xlabel("code unit j")
    ax.set_ylabel("mean activation")
    ax.set_ylim(0, max(1.0 * max(mean_activation.max(), rho) * 1.15, 0.05))
    ax.set_title(title or "Sparse code: mean activation per unit")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def activation_histograms(codes: dict[str, np.ndarray], path: str | os.PathLike) -> Path:
    """Histograms of all code activations (values in [0, 1]), one panel per model.

    Parameters
    ----------
    codes : dict of str to ndarray
        Panel title → code activations.
    path : str or os.PathLike
        The PNG file.

    Returns
    -------
    pathlib.Path
    """
    k = len(codes)
    fig, axes = plt.subplots(1, k, figsize=(max(6.0, 4.2 * k), 3.2), squeeze=False, sharey=True)
    bins = np.linspace(0, 1, 41)
    for ax, (name, Z) in zip(axes[0], codes.items()):
        ax.hist(np.asarray(Z).ravel(), bins=bins, color="C0")
        ax.set_yscale("log")
        ax.set_title(f"{name}\nmean {np.mean(Z):.3f}", fontsize=9)
        ax.set_xlabel("activation")
    axes[0, 0].set_ylabel("count")
    return save_figure(fig, path)


def score_histogram(scores: np.ndarray, threshold: float, path: str | os.PathLike,
                    is_anomaly: np.ndarray | None = None) -> Path:
    """Anomaly scores (log x when they span decades) with the threshold marked.

    Parameters
    ----------
    scores : ndarray of shape (N,)
        Anomaly scores; non-finite ones are left out.
    threshold : float
        Drawn as a dashed line.
    path : str or os.PathLike
        The PNG file.
    is_anomaly : ndarray of bool or None, default None
        Ground truth: normal and anomalous scores in two colours.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile
    >>> s = np.random.default_rng(0).exponential(size=100)
    >>> score_histogram(s, 2.0, Path(tempfile.mkdtemp()) / "s.png", is_anomaly=s > 2).name
    's.png'
    """
    s = np.asarray(scores, dtype=np.float64)
    finite = np.isfinite(s)
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    pos = s[finite][s[finite] > 0]
    log = len(pos) == finite.sum() and len(pos) > 1 and pos.max() / pos.min() > 100
    bins = np.geomspace(pos.min(), pos.max(), 50) if log else 50
    if is_anomaly is None:
        ax.hist(s[finite], bins=bins, color="C0", label="scores")
    else:
        a = np.asarray(is_anomaly, bool)
        ax.hist(s[finite & ~a], bins=bins, color="C0", alpha=0.7, label="normal")
        ax.hist(s[finite & a], bins=bins, color="C3", alpha=0.6, label="anomaly")
    ax.axvline(threshold, color="k", ls="--", label=f"threshold {threshold:.3g}")
    if log:
        ax.set_xscale("log")
    ax.set_xlabel("anomaly score")
    ax.set_ylabel("count")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def roc_curves(scores: dict[str, np.ndarray], is_anomaly: np.ndarray, path: str | os.PathLike) -> Path:
    """ROC curve of each scorer (AUC in the legend).

    Parameters
    ----------
    scores : dict of str to ndarray
        Scorer name → scores (higher = more anomalous); +inf is drawn at the float maximum.
    is_anomaly : ndarray of bool
        Ground truth.
    path : str or os.PathLike
        The PNG file.

    Returns
    -------
    pathlib.Path
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, ax = plt.subplots(figsize=(6.0, 5.0))
    for name, s in scores.items():
        s = np.nan_to_num(np.asarray(s, dtype=np.float64), posinf=np.finfo(np.float64).max)
        fpr, tpr, _ = roc_curve(is_anomaly, s)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(is_anomaly, s):.3f})")
    ax.plot([0, 1], [0, 1], color="0.6", ls=":")
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.legend(fontsize=8, loc="lower right")
    return save_figure(fig, path)
