"""Image grids as PNG: samples, and rows such as "noisy / denoised / clean". Written atomically."""
from __future__ import annotations

import io

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from aekit.errors import DataError
from aekit.runs import atomic_write_bytes

PAD_VALUE = 128  # grey lines between tiles, visible on black and on white images
MIN_TILE_PX = 32


def _as_nchw(images: np.ndarray) -> np.ndarray:
    a = np.asarray(images)
    if hasattr(images, "detach"):  # a torch tensor
        a = images.detach().cpu().numpy()
    if a.ndim == 2:  # one H×W image
        a = a[None, None]
    elif a.ndim == 3:  # N×H×W
        a = a[:, None]
    if a.ndim != 4:
        raise DataError(f"image grid: expected N×C×H×W images, got shape {a.shape}")
    if a.shape[1] == 4:
        a = a[:, :3]
    elif a.shape[1] == 2:
        a = a[:, :1]
    if a.shape[1] not in (1, 3):
        raise DataError(f"image grid: images need 1 or 3 channels, got {a.shape[1]}")
    return a


def _to_uint8(a: np.ndarray, value_range) -> np.ndarray:
    lo, hi = float(value_range[0]), float(value_range[1])
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    out = (np.nan_to_num(a.astype(np.float32), nan=lo) - lo) * scale
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def image_grid(
    images: np.ndarray, ncols: int | None = None, pad: int = 1, value_range=(0.0, 1.0)
) -> np.ndarray:
    """Tile N×C×H×W images (values in `value_range`) into one uint8 picture:
    H'×W' for grey (C=1), H'×W'×3 for colour (C=3). `ncols` defaults to ceil(sqrt(N)).

    Parameters
    ----------
    images : ndarray or torch.Tensor
        N×C×H×W (also N×H×W, or one H×W image); 4 channels lose the alpha, 2 keep the first.
    ncols : int or None, default None
        Tiles per row.
    pad : int, default 1
        Width of the grey (PAD_VALUE) lines between and around the tiles.
    value_range : tuple of float, default (0.0, 1.0)
        The values shown as black and white; outside values are clipped, NaN is black.

    Returns
    -------
    ndarray
        uint8; empty tiles of the last row are grey.

    Raises
    ------
    DataError
        No images, or a shape or channel count it cannot show.

    Examples
    --------
    >>> grid = image_grid(np.ones((5, 1, 4, 4)))     # 3 columns, 2 rows of 4-pixel tiles
    >>> grid.shape, grid.dtype, int(grid[1, 1]), int(grid[0, 0])
    ((11, 16), dtype('uint8'), 255, 128)
    >>> image_grid(np.zeros((2, 3, 4, 4)), ncols=2, pad=0).shape
    (4, 8, 3)
    """
    a = _as_nchw(images)
    n, c, h, w = a.shape
    if n == 0:
        raise DataError("image grid: no images")
    ncols = max(1, min(int(ncols or math.ceil(math.sqrt(n))), n))
    nrows = math.ceil(n / ncols)
    pad = max(0, int(pad))
    tiles = _to_uint8(a, value_range).transpose(0, 2, 3, 1)  # N×H×W×C
    full = np.full((nrows * ncols, h, w, c), PAD_VALUE, dtype=np.uint8)
    full[:n] = tiles
    if pad:
        full = np.pad(full, ((0, 0), (0, pad), (0, pad), (0, 0)), constant_values=PAD_VALUE)
    hh, ww = h + pad, w + pad
    grid = full.reshape(nrows, ncols, hh, ww, c).transpose(0, 2, 1, 3, 4).reshape(nrows * hh, ncols * ww, c)
    if pad:
        grid = np.pad(grid, ((pad, 0), (pad, 0), (0, 0)), constant_values=PAD_VALUE)
    return grid[..., 0] if c == 1 else grid


def save_png(im, path: Path) -> Path:
    """Write a PIL image as PNG atomically (temp file + os.replace), creating the folder.

    Parameters
    ----------
    im : PIL.Image.Image
    path : pathlib.Path

    Returns
    -------
    pathlib.Path
        `path`.
    """
    path = Path(path)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())  # the user's umask; a full disk is one message naming the file
    return path


def _auto_scale(h: int, w: int) -> int:
    return max(1, math.ceil(MIN_TILE_PX / max(1, min(h, w))))


def save_image_grid(
    images: np.ndarray, path: str | os.PathLike, ncols: int | None = None, value_range=(0.0, 1.0),
    scale: int | None = None,
) -> Path:
    """Write `image_grid(images)` as a PNG, upscaled with nearest neighbour so that each tile is
    at least 32 px (or by `scale`). Atomic: temp file + os.replace. Returns the path.

    Parameters
    ----------
    images : ndarray or torch.Tensor
        As for `image_grid`.
    path : str or os.PathLike
        The PNG file; its folder is created.
    ncols : int or None, default None
        Tiles per row.
    value_range : tuple of float, default (0.0, 1.0)
        The values shown as black and white.
    scale : int or None, default None
        Upscaling factor; None picks the least that makes tiles ≥ MIN_TILE_PX.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> path = save_image_grid(np.zeros((4, 1, 8, 8)), Path(tempfile.mkdtemp()) / "grid.png")
    >>> Image.open(path).size                            # (2·8 + 3) px × 4
    (76, 76)
    """
    from PIL import Image

    a = _as_nchw(images)
    grid = image_grid(a, ncols=ncols, pad=1, value_range=value_range)
    s = int(scale) if scale else _auto_scale(a.shape[2], a.shape[3])
    if s > 1:
        grid = np.repeat(np.repeat(grid, s, axis=0), s, axis=1)
    return save_png(Image.fromarray(grid), Path(path))


def save_image_rows(
    rows: Sequence[np.ndarray], path: str | os.PathLike, labels: Sequence[str] | None = None,
    value_range=(0.0, 1.0),
) -> Path:
    """One row of images per entry of `rows` (each N_i×C×H×W), with an optional label at the left
    of each row, e.g. rows=[noisy, denoised, clean], labels=["noisy", "denoised", "clean"].
    Grey and colour rows may be mixed (grey rows are shown in grey). Written atomically.

    Parameters
    ----------
    rows : sequence of ndarray
        One image batch per row (see `image_grid`); rows may have different lengths.
    path : str or os.PathLike
        The PNG file.
    labels : sequence of str or None, default None
        One label per row.
    value_range : tuple of float, default (0.0, 1.0)
        The values shown as black and white.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    DataError
        No rows, or a label count that does not match.

    Examples
    --------
    >>> import tempfile
    >>> rows = [np.zeros((3, 1, 8, 8)), np.ones((3, 1, 8, 8))]
    >>> path = save_image_rows(rows, Path(tempfile.mkdtemp()) / "rows.png", labels=["noisy", "clean"])
    >>> path.suffix, path.stat().st_size > 0
    ('.png', True)
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    if not rows:
        raise DataError("image rows: no rows given")
    if labels is not None and len(labels) != len(rows):
        raise DataError(f"image rows: {len(rows)} rows but {len(labels)} labels")
    strips = []
    for r in rows:
        a = _as_nchw(r)
        strip = image_grid(a, ncols=len(a), pad=1, value_range=value_range)
        if strip.ndim == 2:
            strip = np.repeat(strip[..., None], 3, axis=2)
        strips.append(strip)
    width = max(s.shape[1] for s in strips)
    strips = [np.pad(s, ((0, 0), (0, width - s.shape[1]), (0, 0)), constant_values=255) for s in strips]
    tile = min(_as_nchw(r).shape[2] for r in rows)
    s = _auto_scale(tile, tile)
    heights = [st.shape[0] * s for st in strips]
    label_px = 110 if labels else 4
    dpi = 100
    fig = Figure(figsize=((width * s + label_px) / dpi, (sum(heights) + 4 * len(rows)) / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    gs = fig.add_gridspec(len(rows), 1, height_ratios=heights, left=label_px / (width * s + label_px),
                          right=1.0, top=1.0, bottom=0.0, hspace=0.03)
    for i, st in enumerate(strips):
        ax = fig.add_subplot(gs[i])
        ax.imshow(st, interpolation="nearest", aspect="equal")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        if labels:
            ax.set_ylabel(str(labels[i]), rotation=0, ha="right", va="center", fontsize=10, labelpad=6)
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    return save_png(Image.fromarray(rgba[..., :3].copy()), Path(path))


__all__ = ["image_grid", "save_image_grid", "save_image_rows"]
