"""Loading data from files: .npz, .npy, .csv, single IDX files and folders of images.

Every problem ends in one `DataError` whose message names the file and what is wrong. A data
path must be a regular file or a folder (a FIFO or device is refused before it is opened), and
the size a file declares is checked against the memory budget before it is decoded
(`aekit.data.limits`; the numpy formats are read by `aekit.data.numpy_files`).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from aekit.data.csv_reader import read_csv_arrays, read_parquet_arrays
from aekit.data.dataset import Dataset, scale_pixels
from aekit.data.idx import GZIP_MAGIC, looks_like_idx, read_idx
from aekit.data.limits import check_data_path, check_memory, open_data_file
from aekit.data.numpy_files import load_npy_array, load_npz_arrays
from aekit.errors import AekitWarning, ConfigError, DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


# ----------------------------------------------------------------------------------------
# array -> Dataset
# ----------------------------------------------------------------------------------------
def check_finite(X: np.ndarray, source: str) -> None:
    """Raise DataError when X holds NaN or inf (names how many and the first row).

    Parameters
    ----------
    X : ndarray
        Data; non-float arrays always pass.
    source : str
        The file or argument, for the message.

    Examples
    --------
    >>> check_finite(np.array([[0.0, 1.0], [np.nan, np.inf]]), "x.npy")
    Traceback (most recent call last):
    ...
    aekit.errors.DataError: x.npy: 2 NaN or inf value(s), the first in row 1
    """
    if X.dtype.kind != "f" or X.size == 0:
        return
    finite = np.isfinite(X)
    if finite.all():
        return
    bad = int(X.size - np.count_nonzero(finite))
    first_row = int(np.argmin(finite.reshape(len(X), -1).all(axis=1))) if X.ndim > 1 else int(np.argmin(finite))
    raise DataError(f"{source}: {bad} NaN or inf value(s), the first in row {first_row}")


def _labels(y: np.ndarray | None, n: int, source: str) -> np.ndarray | None:
    if y is None:
        return None
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{source}: labels must be 1-D, got shape {y.shape}")
    if y.shape[0] != n:
        raise DataError(f"{source}: {n} samples but {y.shape[0]} labels")
    if y.dtype.kind in "iub":
        return y.astype(np.int64)
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or not np.array_equal(y, np.round(y)):
            raise DataError(f"{source}: labels must be whole numbers (found non-integer, NaN or inf labels)")
        if y.size and float(np.abs(y).max()) >= 2.0**62:
            raise DataError(f"{source}: labels too large ({float(np.abs(y).max()):g})")
        return y.astype(np.int64)
    raise DataError(f"{source}: labels must be integers, got dtype {y.dtype}")


def array_to_dataset(
    X: np.ndarray,
    y: np.ndarray | None,
    *,
    name: str,
    source: str,
    classes: list[str] | None = None,
    paths: list[str] | None = None,
) -> Dataset:
    """Turn a loaded array into a Dataset (shape rules, uint8 scaling, NaN check, value range).

    2-D: a table (values kept, value_range = observed). 1-D: N×1 table. 3-D: N×H×W -> N×1×H×W.
    4-D: N×C×H×W, or N×H×W×C (transposed) when the last axis is 1 or 3 and the second is not.
    uint8 data is scaled by 1/255 to [0, 1].

    Parameters
    ----------
    X : ndarray
        Numeric data, N first.
    y : ndarray or None
        Whole-number labels, N of them (an N×1 column is accepted).
    name, source : str
        The dataset's name, and the file it came from (for messages and ``meta``).
    classes, paths : list of str or None, default None
        Class names and per-sample file paths, passed on to the Dataset.

    Returns
    -------
    Dataset

    Examples
    --------
    >>> ds = array_to_dataset(np.full((2, 4, 4, 3), 255, np.uint8), None, name="toy", source="toy.npy")
    >>> ds.X.shape, ds.value_range, float(ds.X.max())          # N×H×W×C turned to N×C×H×W
    ((2, 3, 4, 4), (0.0, 1.0), 1.0)
    """
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise DataError(f"{source}: data must be numeric, got dtype {X.dtype}")
    if X.ndim == 0 or X.shape[0] == 0 or X.size == 0:
        raise DataError(f"{source}: empty data (shape {X.shape})")
    if X.ndim == 1:
        X = X[:, None]
    elif X.ndim == 3:
        X = X[:, None, :, :]
    elif X.ndim == 4:
        if X.shape[-1] in (1, 3) and X.shape[1] not in (1, 3):
            X = np.transpose(X, (0, 3, 1, 2))
    elif X.ndim != 2:
        raise DataError(f"{source}: expected 2-D (N×D), 3-D (N×H×W) or 4-D (N×C×H×W) data, got shape {X.shape}")
    check_finite(X, source)
    image = X.ndim == 4
    if X.dtype == np.uint8:
        Xf = scale_pixels(X)
        value_range = (0.0, 1.0)
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            Xf = np.ascontiguousarray(X, dtype=np.float32)
        if not np.isfinite(Xf).all():
            big = int(np.count_nonzero(~np.isfinite(Xf)))
            raise DataError(f"{source}: {big} value(s) too large for float32 (beyond ±3.4e38)")
        lo, hi = float(Xf.min()), float(Xf.max())
        if image and lo >= 0.0 and hi <= 1.0:
            value_range = (0.0, 1.0)
        else:
            value_range = (lo, hi)
    y = _labels(y, X.shape[0], source)
    return Dataset(
        X=np.ascontiguousarray(Xf),
        y=y,
        name=name,
        value_range=value_range,
        classes=classes,
        split="all",
        paths=paths,
        meta={"source": source},
    )


# ----------------------------------------------------------------------------------------
# numpy files
# ----------------------------------------------------------------------------------------
def load_npy(path: Path, name: str, memory_budget: int | float | str | None = None) -> Dataset:
    """A .npy array file (no labels, memory-mapped) as a Dataset named `name`, through
    `array_to_dataset`; `memory_budget` as in `aekit.data.numpy_files.load_npy_array`."""
    return array_to_dataset(load_npy_array(path, memory_budget=memory_budget), None, name=name, source=str(path))


def load_npz(path: Path, name: str, memory_budget: int | float | str | None = None) -> Dataset:
    """A .npz archive as a Dataset named `name`: the data is the array named X, x or data (or the
    only array), the labels the one named y or labels, if any (`load_npz_arrays`)."""
    X, y = load_npz_arrays(path, memory_budget=memory_budget)
    return array_to_dataset(X, y, name=name, source=str(path))


# ----------------------------------------------------------------------------------------
# CSV
# ----------------------------------------------------------------------------------------
def load_csv(
    path: Path, name: str, label_column: str | int | None = None, memory_budget: int | float | str | None = None
) -> Dataset:
    """A numeric CSV, optionally with a header row; `label_column` (header name or index) is y.

    Read by pandas' C parser in chunks straight into float32; a file it refuses is read again
    by the csv module, whose DataError names the line and column of the first bad cell
    (`aekit.data.csv_reader`).

    Parameters
    ----------
    path : pathlib.Path
        The file, UTF-8.
    name : str
        The dataset's name.
    label_column : str or int or None, default None
        The label column; non-numeric labels become classes (sorted names).
    memory_budget : int, float, str or None, default None
        The most bytes the file may have (`aekit.data.limits`).

    Returns
    -------
    Dataset
        A table; ``meta["columns"]`` holds the feature names when there is a header.

    Examples
    --------
    >>> import tempfile; path = Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text("a,b,kind\\n1,2,cat\\n3,4,dog\\n")
    >>> ds = load_csv(path, "t", label_column="kind")
    >>> ds.X.tolist(), ds.y.tolist(), ds.classes, ds.meta["columns"]
    ([[1.0, 2.0], [3.0, 4.0]], [0, 1], ['cat', 'dog'], ['a', 'b'])
    """
    X, y, classes, columns = read_csv_arrays(path, label_column, memory_budget)
    ds = array_to_dataset(X, y, name=name, source=str(path), classes=classes)
    if columns is not None:
        ds.meta["columns"] = columns
    return ds


def load_parquet(path: Path, name: str, label_column: str | int | None = None,
                 memory_budget: int | float | str | None = None) -> Dataset:
    """A numeric Parquet file, read whole with pyarrow (`aekit.data.csv_reader.read_parquet_arrays`);
    `label_column` is y. A folder of Parquet shards streams instead (`aekit.data.shards`)."""
    X, y, classes, columns = read_parquet_arrays(path, label_column, memory_budget)
    ds = array_to_dataset(X, y, name=name, source=str(path), classes=classes)
    ds.meta["columns"] = columns
    return ds


# ----------------------------------------------------------------------------------------
# single IDX file
# ----------------------------------------------------------------------------------------
def _sibling_labels(path: Path) -> Path | None:
    n = path.name
    if "images" not in n:
        return None
    cand = n.replace("images", "labels").replace("idx3", "idx1")
    for c in (cand, cand[:-3] if cand.endswith(".gz") else cand + ".gz"):
        p = path.with_name(c)
        if p != path and p.is_file():
            return p
    return None


def load_idx_file(path: Path, name: str, memory_budget: int | float | str | None = None) -> Dataset:
    """One IDX file as a Dataset named `name`; an images file picks up its labels file next to
    it (…images… -> …labels…, idx3 -> idx1, with or without .gz). Both are read by
    `aekit.data.idx.read_idx` with `memory_budget`."""
    X = read_idx(path, memory_budget=memory_budget)
    y = None
    lp = _sibling_labels(path)
    if lp is not None and X.ndim >= 3:
        y = read_idx(lp, memory_budget=memory_budget)
        if y.ndim != 1:
            raise DataError(f"{lp}: a labels file must be 1-D, got shape {y.shape}")
        if len(y) != len(X):
            raise DataError(f"{path} has {len(X)} images but {lp} has {len(y)} labels")
    return array_to_dataset(X, y, name=name, source=str(path))


# ----------------------------------------------------------------------------------------
# image folders
# ----------------------------------------------------------------------------------------
def image_files(folder: Path) -> list[Path]:
    """The image files under `folder` (recursive, hidden files and folders skipped), sorted."""
    return sorted(
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def read_image(path: str | os.PathLike, channels: int | None = None, *, as_float: bool = False) -> np.ndarray:
    """Read one image file as an H×W (grey) or H×W×3 (colour) array.

    Grey files (modes 1, L, LA, 16-bit and float) give H×W; colour files (RGB, RGBA, palette,
    CMYK, YCbCr, ...) give H×W×3, converted to RGB with any alpha channel dropped. 8-bit files
    are uint8; 16-bit integer files float32 in [0, 1] (÷ 65535); 32-bit float files as stored.

    Parameters
    ----------
    path : str or path-like
        The image file (any format Pillow reads: PNG, JPEG, BMP, GIF, TIFF, WebP...).
    channels : {None, 1, 3}, default None
        The channel count the caller needs; an image with the other count is refused (no silent
        conversion: the message says to convert it first). None accepts both.
    as_float : bool, default False
        Return float32 with 8-bit files scaled to [0, 1] (÷ 255).

    Returns
    -------
    np.ndarray
        H×W or H×W×3, uint8 or float32 (always float32 with ``as_float=True``).

    Raises
    ------
    DataError
        The file is missing, not a regular file (a FIFO, a device), unreadable as an image, or
        has the wrong channel count; the message names it.
    ConfigError
        `channels` is not None, 1 or 3.

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> path = Path(tempfile.mkdtemp()) / "dot.png"
    >>> Image.fromarray(np.full((2, 3), 255, np.uint8)).save(path)
    >>> a = read_image(path)
    >>> a.shape, a.dtype
    ((2, 3), dtype('uint8'))
    >>> float(read_image(path, channels=1, as_float=True).max())
    1.0
    """
    from PIL import Image

    if channels not in (None, 1, 3):
        raise ConfigError(f"channels must be None, 1 or 3, got {channels!r}")
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such image file")
    try:
        with open_data_file(path) as f, Image.open(f) as im:
            im.load()
            mode = im.mode
            arr = _image_array(im)
    except DataError:
        raise
    except Exception as exc:  # PIL raises UnidentifiedImageError, OSError, SyntaxError, ValueError...
        raise DataError(f"{path}: unreadable image ({type(exc).__name__}: {exc})") from None
    have = 1 if arr.ndim == 2 else 3
    if channels is not None and have != channels:
        raise DataError(
            f"{path}: the image has {have} channel{'s' if have > 1 else ''} ({mode}) but {channels} "
            f"{'is' if channels == 1 else 'are'} expected; convert it first (for example to "
            f"{'grey' if channels == 1 else 'RGB'})"
        )
    if as_float and arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    return arr


def _image_array(im) -> np.ndarray:
    """A loaded PIL image as H×W or H×W×3 (uint8, or float32 for 16-bit and float modes)."""
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        a = np.asarray(im).astype(np.float32)
        if mode != "F":
            a /= 65535.0
        return a
    if mode in ("P", "PA"):
        # Palette colours may carry transparency: through RGBA, whose alpha is dropped below.
        im = im.convert("RGBA" if "transparency" in im.info or mode == "PA" else "RGB")
        mode = im.mode
    if mode in ("1", "LA", "La"):
        im = im.convert("L")
    elif mode not in ("L", "RGB"):
        im = im.convert("RGB")
    return np.asarray(im, dtype=np.uint8)


def image_folder_files(folder: Path) -> tuple[list[Path], list[int], list[str] | None]:
    """(files, labels, classes) of an image folder: each sub-folder is a class (sorted names, its
    images found recursively); loose files when there are none (classes None); DataError if empty."""
    subdirs = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    files: list[Path] = []
    labels: list[int] = []
    classes: list[str] | None = None
    per_class = [(d.name, image_files(d)) for d in subdirs]
    per_class = [(n, f) for n, f in per_class if f]
    if per_class:
        classes = [n for n, _ in per_class]
        for i, (_, fs) in enumerate(per_class):
            files.extend(fs)
            labels.extend([i] * len(fs))
        loose = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if loose:
            warnings.warn(
                f"{folder}: {len(loose)} image(s) directly in the folder are ignored because it has class sub-folders",
                AekitWarning,
                stacklevel=3,
            )
    else:
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{folder}: no images found (looked for {', '.join(IMAGE_SUFFIXES)} files)")
    return files, labels, classes


def load_image_folder(folder: Path, name: str, memory_budget: int | float | str | None = None) -> Dataset:
    """Images in a folder (`image_folder_files`: sub-folders are classes); all of one size; grey
    and colour mixed give 3 channels. The first image's size times the number of files must fit
    `memory_budget` before the rest are decoded."""
    files, labels, classes = image_folder_files(folder)
    first = read_image(files[0])
    shape = "×".join(str(d) for d in first.shape)
    check_memory(len(files) * first.nbytes, str(folder), f"{len(files)} images of {shape} {first.dtype} take",
                 memory_budget)
    images = [first] + [read_image(p) for p in files[1:]]
    first_hw = images[0].shape[:2]
    for p, im in zip(files, images):
        if im.shape[:2] != first_hw:
            raise DataError(
                f"{folder}: images of different sizes: {files[0]} is {first_hw[1]}×{first_hw[0]} but "
                f"{p} is {im.shape[1]}×{im.shape[0]} (resize them to one size first, or read them resized: "
                "aekit train --image-size S --image-crop center)"
            )
    colour = any(im.ndim == 3 for im in images)
    floaty = any(im.dtype != np.uint8 for im in images)
    n, (h, w) = len(images), first_hw
    c = 3 if colour else 1
    out = np.empty((n, h, w, c), dtype=np.float32 if floaty else np.uint8)
    for i, im in enumerate(images):
        if floaty and im.dtype == np.uint8:
            im = im.astype(np.float32) / 255.0
        out[i] = im[..., None] if im.ndim == 2 else im
    X = np.transpose(out, (0, 3, 1, 2))
    ds = array_to_dataset(
        X,
        np.asarray(labels, dtype=np.int64) if classes is not None else None,
        name=name,
        source=str(folder),
        classes=classes,
        paths=[str(p) for p in files],
    )
    return ds


# ----------------------------------------------------------------------------------------
# dispatch
# ----------------------------------------------------------------------------------------
def load_path(
    path: str | os.PathLike,
    label_column: str | int | None = None,
    *,
    memory_budget: int | float | str | None = None,
) -> Dataset:
    """Load any supported file or folder; the dataset is named after the file's stem.

    The path must be a regular file or a folder; the size a file declares is checked against
    the memory budget before it is decoded, and running out of memory anyway ends in a
    DataError.

    Parameters
    ----------
    path : str or os.PathLike
        A .npz, .npy or .csv file, an IDX file (by name or magic bytes), a folder of images, or
        a folder of WAV files (windows: `aekit.data.audio.load_wav_windows`).
    label_column : str or int or None, default None
        For CSV files, the label column.
    memory_budget : int, float, str or None, default None
        The most bytes one decoded array may take: bytes or a size such as "2GiB"; None reads
        $AEKIT_MEMORY_BUDGET, else half the available memory (`aekit.data.limits`).

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        Missing, a FIFO, socket or device, an unsupported or malformed file, or a declared size
        over the memory budget.

    Examples
    --------
    >>> import tempfile; path = Path(tempfile.mkdtemp()) / "points.npz"
    >>> np.savez(path, X=np.zeros((3, 2)), y=np.array([0, 1, 1]))
    >>> ds = load_path(path)
    >>> ds.name, ds.X.shape, ds.y.tolist()
    ('points', (3, 2), [0, 1, 1])
    """
    path = Path(path).expanduser()
    name = path.name
    for suf in (".gz", ".npz", ".npy", ".csv", ".parquet", ".pq"):
        if name.endswith(suf):
            name = name[: -len(suf)]
    name = name or str(path)
    check_data_path(path)
    try:
        return _dispatch(path, name, label_column, memory_budget)
    except MemoryError:
        # the budget let it through but the memory ran out (e.g. in the float32 copy)
        raise DataError(f"{path}: not enough memory to load it; free some, or load a smaller part") from None


def _dispatch(path: Path, name: str, label_column, memory_budget) -> Dataset:
    from aekit.data.streamed import load_streamed  # here: it builds on this module's readers

    streamed = load_streamed(path, name, memory_budget, label_column)  # over the budget: stays on disk (or shards)
    if streamed is not None:
        return streamed
    if path.is_dir():
        from aekit.data.audio import holds_wav_files, load_wav_windows

        if holds_wav_files(path):
            return load_wav_windows(path, name)
        return load_image_folder(path, name, memory_budget)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return load_npz(path, name, memory_budget)
    if suffix == ".npy":
        return load_npy(path, name, memory_budget)
    if suffix == ".csv":
        return load_csv(path, name, label_column, memory_budget)
    if suffix in (".parquet", ".pq"):
        return load_parquet(path, name, label_column, memory_budget)
    lname = path.name.lower()
    if "idx" in lname or "ubyte" in lname:
        return load_idx_file(path, name, memory_budget)
    with open_data_file(path) as f:
        try:
            head = f.read(4)
        except OSError as exc:
            raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if head[:2] == GZIP_MAGIC or looks_like_idx(head):
        return load_idx_file(path, name, memory_budget)
    if suffix in IMAGE_SUFFIXES:
        raise DataError(f"{path}: a single image; give the folder that holds the images instead")
    raise DataError(
        f"{path}: unknown file type {suffix or '(no suffix)'}; supported: .npz, .npy, .csv, .parquet, IDX "
        "(e.g. train-images-idx3-ubyte[.gz]) and folders of PNG/JPEG images"
    )
