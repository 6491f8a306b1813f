"""Pictures and the report section of a colorizer."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from aekit.report import figures
from aekit.report.facts import facts_table
from aekit.report.grid import save_image_rows
from aekit.report.html import Section, Table


def save_colorize_grid(rows: list[tuple[np.ndarray, ...]], path, names: list[str], height: int = 128,
                       columns: str = "grey / colorized / original") -> Path:
    """One row per photo: grey, colorized, original (each H×W×3 in [0, 1]), scaled to `height`.

    Parameters
    ----------
    rows : list of tuple of ndarray
        Per photo, its images (H×W×3 floats in [0, 1]), all of one size.
    path : str or os.PathLike
        The PNG file.
    names : list of str
        One row label per photo (cut to 16 characters).
    height : int, default 128
        Height the images are scaled to, keeping their aspect.
    columns : str, default "grey / colorized / original"
        What the columns are (for the caller's caption; not drawn).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile
    >>> photo = np.random.default_rng(0).random((16, 24, 3))
    >>> save_colorize_grid([(photo, photo, photo)], Path(tempfile.mkdtemp()) / "grid.png", ["coffee"], height=16).name
    'grid.png'
    """
    from skimage.transform import resize

    strips = []
    for row in rows:
        h, w = row[0].shape[:2]
        f = height / h
        size = (height, max(1, round(w * f)))
        strips.append(np.stack([resize(im, size, order=1, anti_aliasing=f < 1).transpose(2, 0, 1) for im in row]))
    # row labels are the photo names (the label margin is narrow); the columns are `columns`
    return save_image_rows(strips, path, labels=[str(n)[:16] for n in names])


def colorizer_tables(m: dict) -> list[Table]:
    """PSNR of each held-out photo, colorized and grey, against the original.

    Parameters
    ----------
    m : dict
        A colorizer's metrics: "photos" (each with "name", "psnr_grey", "psnr_model"), their
        means "psnr_grey" and "psnr_model", "n_photos", "max_side" and optionally "held_out".

    Returns
    -------
    list of Table

    Examples
    --------
    >>> m = {"photos": [{"name": "coffee", "psnr_grey": 24.0, "psnr_model": 25.5}], "psnr_grey": 24.0,
    ...      "psnr_model": 25.5, "n_photos": 1, "max_side": 256}
    >>> colorizer_tables(m)[0].rows
    [['coffee', 24.0, 25.5], ['mean', 24.0, 25.5]]
    >>> m.update(ab_gain=0.5, psnr_full_strength=26.0)
    >>> m["photos"][0]["psnr_full_strength"] = 26.0
    >>> colorizer_tables(m)[0].headers[2:]
    ['colorized, the output (α = 0.50) (dB)', 'network at full strength (α = 1) (dB)']
    """
    full, mean = "psnr_full_strength" in m, "psnr_mean_colour" in m
    keys = ["psnr_grey", *(["psnr_mean_colour"] if mean else []), "psnr_model", *(["psnr_full_strength"] if full else [])]
    rows = [[p["name"], *[p[k] for k in keys]] for p in m["photos"]]
    rows.append(["mean" if not m.get("images") else "mean (all)", *[m[k] for k in keys]])
    where = "held-out" if m.get("held_out", True) else "training (no photo held out)"
    columns = ["photo", "grey input (dB)", *(["training mean colour (dB)"] if mean else [])]
    columns += ([f"colorized, the output (α = {m['ab_gain']:.2f}) (dB)", "network at full strength (α = 1) (dB)"]
                if full else ["colorized (dB)"])
    baselines = ("the grey input and the training data's mean colour (every pixel its L with the mean a, b) are "
                 "the baselines" if mean else "the grey input is the baseline")
    caption = (f"Colorization PSNR (RGB) on {m['n_photos']} {where} photos, longer side ≤ {m['max_side']}; "
               f"{baselines} a colorizer must beat.")
    if m.get("images"):
        caption = (f"Colorization PSNR (RGB) on {m['n_photos']} held-out images of {m['width']}×{m['height']}, "
                   f"the first {len(m['photos'])} listed, the last row the mean of all; {baselines} a colorizer "
                   "must beat.")
    if full:
        better = m["psnr_full_strength"] > m["psnr_model"]
        caption += (f" The output is the network's colour scaled by the gain α = {m['ab_gain']:.2f} fitted on photos "
                    "set aside from training (how far its colour held on photos it never trained on); the last "
                    "column is the network's own colour, for comparison"
                    + (": here full strength would have done better, so the set-aside photos were not like these "
                       "(a gain fitted on one or two photos reflects their colours; a larger validation set or "
                       "--no-calibrate)." if better else "."))
    what = "images" if m.get("images") else "photos"
    return [Table(columns, rows, caption=caption, title=f"colorization PSNR on {m['n_photos']} {where} {what}")]


def colorizer_section(name: str, est, metrics: dict, fig_dir, slug: str) -> Section:
    """PSNR table beside the grey input, loss curves, and the grey / colorized / original grid.

    Parameters
    ----------
    name : str
        The section's heading.
    est : object
        A fitted Colorizer (model_config_, n_epochs_, best_epoch_; history_ and last_images_
        when present).
    metrics : dict
        Its metrics, as `colorizer_tables` reads them.
    fig_dir : str or os.PathLike
        Where the figures are written.
    slug : str
        File-name stem of the loss figure.

    Returns
    -------
    Section
    """
    fig_dir = Path(fig_dir)
    gain = est.model_config_.ab_gain
    sec = Section(name, text=[f"Fully convolutional L → ab model, blocks {list(est.model_config_.hidden)}; "
                              f"trained {est.n_epochs_} epochs (best {est.best_epoch_}); "
                              + (f"colour confidence gain α = {gain:.2f} fitted on photos set aside (the output is "
                                 "offset + α·network; the table shows the network's own colour beside it)."
                                 if gain != 1.0 else "the output is the network's own colour (α = 1).")],
                  tables=[facts_table(est, metrics), *colorizer_tables(metrics)])
    if getattr(est, "history_", None):
        sec.figures.append((figures.loss_curves(est.history_, fig_dir / f"{slug}-loss.png", name),
                            "Colour loss per epoch (solid: training, dashed: validation)."))
    rows = getattr(est, "last_images_", None)
    if rows:
        names = [p["name"] for p in metrics["photos"]]
        sec.figures.append((save_colorize_grid(rows, fig_dir / "colorize-grid.png", names),
                            f"Each held-out {'image' if metrics.get('images') else 'photo'} listed: grey input, "
                            "colorized, original."))
    return sec


__all__ = ["colorizer_section", "colorizer_tables", "save_colorize_grid"]
