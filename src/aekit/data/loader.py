"""`load`: one entry point for built-in datasets and files, with fixed, seeded splits."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from aekit.data.builtin import (
    BUILTINS,
    DIGIT_CLASSES,
    FASHION_CLASSES,
    canonical_name,
    cifar_classes,
    load_cifar_part,
    load_digits_arrays,
    load_mnist_part,
)
from aekit.data.audio import MIN_GROUPS_TO_SPLIT
from aekit.data.dataset import Dataset, scale_pixels
from aekit.data.files import load_path
from aekit.data.limits import fits_memory
from aekit.data.streamed import spooled_images
from aekit.errors import DataError

SPLITS = ("train", "val", "test", "train+val", "all")
MNIST_VAL = 5000


def _check_split(split: str) -> str:
    s = str(split).strip().lower()
    if s not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    return s


def split_indices(
    n: int, split: str, *, seed: int = 0, val_fraction: float = 0.1, test_fraction: float = 0.2
) -> np.ndarray:
    """Sorted indices of `split` among n samples: test = the first round(test_fraction·n) of a
    default_rng(seed) permutation, val = the next round(val_fraction·n), train = the rest.

    Parameters
    ----------
    n : int
        Number of samples.
    split : {"train", "val", "test", "train+val", "all"}
        The part wanted.
    seed : int, default 0
        Seed of the permutation.
    val_fraction : float, default 0.1
        Share of the samples in val, in [0, 1).
    test_fraction : float, default 0.2
        Share of the samples in test, in [0, 1); the two together stay below 1.

    Returns
    -------
    ndarray of int
        Sorted indices; the parts are disjoint and together give 0 … n−1.

    Raises
    ------
    DataError
        An unknown split or fractions out of range.

    Examples
    --------
    >>> split_indices(10, "test"), split_indices(10, "val"), split_indices(10, "train")
    (array([4, 6]), array([2]), array([0, 1, 3, 5, 7, 8, 9]))
    """
    split = _check_split(split)
    for label, f in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not (isinstance(f, (int, float)) and 0.0 <= float(f) < 1.0):
            raise DataError(f"{label} must be in [0, 1), got {f!r}")
    if val_fraction + test_fraction >= 1.0:
        raise DataError(
            f"val_fraction + test_fraction must be below 1 (got {val_fraction} + {test_fraction}), "
            "or nothing is left to train on"
        )
    if split == "all":
        return np.arange(n)
    perm = np.random.default_rng(seed).permutation(n)
    n_test = int(round(test_fraction * n))
    n_val = int(round(val_fraction * n))
    parts = {
        "test": perm[:n_test],
        "val": perm[n_test : n_test + n_val],
        "train": perm[n_test + n_val :],
        "train+val": perm[n_test:],
    }
    return np.sort(parts[split])


def train_val_indices(n: int, split: str, seed: int) -> np.ndarray:
    """Indices into a fixed training part (MNIST's 60000 images, CIFAR's 50000) for "train",
    "val" or "train+val": val = 5000 drawn with the seed (a tenth when the part has fewer than
    50000), train = the rest, train+val = all of them in file order.

    Examples
    --------
    >>> len(train_val_indices(50000, "val", 0)), len(train_val_indices(50000, "train", 0))
    (5000, 45000)
    """
    if split == "train+val":
        return np.arange(n)
    perm = np.random.default_rng(seed).permutation(n)
    n_val = min(MNIST_VAL, n // 10) if n < 10 * MNIST_VAL else MNIST_VAL
    idx = perm[:n_val] if split == "val" else perm[n_val:]
    return np.sort(idx)


mnist_train_val_indices = train_val_indices  # the name it had before CIFAR shared it


def _fixed_split(name: str, split: str, data_dir, seed: int, read_part, classes: list[str], memory_budget=None):
    """A Dataset of one split of a source that ships a fixed train and test part of uint8 images.

    read_part(part) -> (uint8 images N×H×W or N×C×H×W, labels N); test is the test part, val
    and train come from the training part (`train_val_indices`), all is train then test. A split
    whose float32 values are over the memory budget is streamed from a uint8 copy on disk
    (`aekit.data.streamed.spooled_images`): the same values, read batch by batch.
    """

    def take(part: str, index: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        images, labels = read_part(part)
        if index is not None:
            images, labels = images[index], labels[index]
        return images, labels

    if split == "test":
        images, labels = take("test")
    elif split == "all":
        # join the uint8 parts, then convert once: no float32 copy of the whole set is made twice
        (ia, la), (ib, lb) = take("train"), take("test")
        images, labels = np.concatenate([ia, ib]), np.concatenate([la, lb])
    else:
        n = len(read_part("train")[1])
        images, labels = take("train", train_val_indices(n, split, seed))
    images = images[:, None, :, :] if images.ndim == 3 else images
    folder = Path(data_dir).expanduser() if data_dir is not None else None
    meta = {"source": name, "seed": seed, "data_dir": str(folder) if folder else None}
    if not fits_memory(4 * images.size, memory_budget):
        return spooled_images(images, name, y=labels, classes=list(classes), split=split, meta=meta)
    return Dataset(X=scale_pixels(images), y=labels.astype(np.int64), name=name, value_range=(0.0, 1.0),
                   classes=list(classes), split=split, meta=meta)


def _mnist(name: str, split: str, data_dir, seed: int, memory_budget=None):
    classes = FASHION_CLASSES if name == "fashion-mnist" else DIGIT_CLASSES
    return _fixed_split(name, split, data_dir, seed, lambda part: load_mnist_part(name, part, data_dir), classes,
                        memory_budget)


def _cifar(name: str, split: str, data_dir, seed: int, memory_budget=None):
    # Class names first: a folder without its metadata file fails before 150 MB are read.
    classes = cifar_classes(name, data_dir)
    ds = _fixed_split(name, split, data_dir, seed, lambda part: load_cifar_part(name, part, data_dir), classes,
                      memory_budget)
    if name == "cifar100":
        # Dataset holds one label array: y is the fine label; the coarse one is one call away.
        ds.meta["label"] = "fine"
    return ds


def load(
    source: str | os.PathLike = "digits",
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    label_column: str | int | None = None,
    memory_budget: int | float | str | None = None,
) -> Dataset:
    """Load a built-in dataset ("digits", "mnist", "fashion-mnist", "cifar10", "cifar100") or a
    file/folder, one split.

    Splits are fixed for a seed: MNIST and Fashion-MNIST use their t10k files as test, CIFAR-10
    its test_batch.bin and CIFAR-100 its test.bin, and each takes 5000 seeded images of its
    training part as val; other sources take test_fraction of all samples as test and
    val_fraction as val (`split_indices`).
    CIFAR images are N×3×32×32 (RGB) in [0, 1], class names from the release's metadata file.
    CIFAR-100's y is the fine label (100 classes); the coarse label (20 superclasses) is not in
    the Dataset: `aekit.data.builtin.load_cifar_part("cifar100", part, label="coarse")` and
    `cifar_classes("cifar100", label="coarse")` read it, in the file order of the train and test parts.

    Parameters
    ----------
    source : str or os.PathLike, default "digits"
        A built-in name, or a file or folder (`aekit.data.files.load_path`); a folder of WAV
        files gives N×C×T windows (`aekit.data.audio.load_wav_windows`), split by file.
    split : {"train", "val", "test", "train+val", "all"}, default "train"
        The part wanted.
    data_dir : str or os.PathLike or None, default None
        Where the downloadable datasets live (`<data_dir>/<name>/`); default $AEKIT_DATA_DIR,
        else $XDG_CACHE_HOME/aekit, else ~/.cache/aekit.
    seed : int, default 0
        Seed of the split.
    val_fraction, test_fraction : float, default 0.1, 0.2
        Shares of val and test, for sources without a fixed test part.
    label_column : str or int or None, default None
        For CSV files, the header name (or index) of the label column.
    memory_budget : int, float, str or None, default None
        For files and folders, the most bytes one decoded array may take (bytes, or a size such
        as "2GiB"); None reads $AEKIT_MEMORY_BUDGET, else half the available memory
        (`aekit.data.limits`). A file that declares more is refused before it is decoded; the
        built-in MNIST files follow $AEKIT_MEMORY_BUDGET.

    Returns
    -------
    Dataset
        float32 data; ``meta`` records the seed and fractions.

    Raises
    ------
    DataError
        Anything wrong with the source (including a FIFO or device given as a path, or a file
        that declares more than the memory budget), or an empty split.

    Examples
    --------
    >>> ds = load("digits", split="test")
    >>> ds.X.shape, ds.value_range, ds.classes[:3], ds.split
    ((359, 1, 8, 8), (0.0, 1.0), ['0', '1', '2'], 'test')
    """
    split = _check_split(split)
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
    else:
        raise DataError(f"source must be a dataset name or a path, got {type(source).__name__}")
    name = canonical_name(text) if isinstance(source, str) and "/" not in text and os.sep not in text else None
    if name in ("mnist", "fashion-mnist"):
        return _mnist(name, split, data_dir, seed, memory_budget)
    if name in ("cifar10", "cifar100"):
        return _cifar(name, split, data_dir, seed, memory_budget)
    if name == "digits":
        X, y = load_digits_arrays()
        full = Dataset(X=X, y=y, name="digits", value_range=(0.0, 1.0), classes=list(DIGIT_CLASSES),
                       meta={"source": "sklearn.datasets.load_digits"})
    else:
        p = Path(text).expanduser()
        if not p.exists():
            if isinstance(source, str) and "/" not in text and os.sep not in text and not p.suffix:
                raise DataError(
                    f"unknown dataset {text!r}: not a built-in name ({', '.join(BUILTINS)}) "
                    "and no such file or folder"
                )
            raise DataError(f"{p}: no such file or folder")
        full = load_path(p, label_column=label_column, memory_budget=memory_budget)
    groups = full.meta.pop("groups", None)
    idx = split_indices(len(full), split, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)
    if groups is not None and split != "all" and len(np.unique(groups)) >= MIN_GROUPS_TO_SPLIT:
        # windows of one recording overlap: split by recording, so no test window was trained on
        files = np.unique(groups)
        keep = files[split_indices(len(files), split, seed=seed, val_fraction=val_fraction,
                                   test_fraction=test_fraction)]
        idx = np.flatnonzero(np.isin(groups, keep))
        full.meta["split_by"] = "file"
    if len(idx) == 0:
        raise DataError(
            f"{full.name}: split {split!r} is empty ({len(full)} samples, val_fraction={val_fraction}, "
            f"test_fraction={test_fraction})"
        )
    ds = full if split == "all" else full.subset(idx, split=split)
    ds.split = split
    ds.meta.update(seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)
    return ds
