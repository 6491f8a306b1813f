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
    load_digits_arrays,
    load_mnist_part,
)
from aekit.data.dataset import Dataset
from aekit.data.files import load_path
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
    default_rng(seed) permutation, val = the next round(val_fraction·n), train = the rest."""
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


def mnist_train_val_indices(n: int, split: str, seed: int) -> np.ndarray:
    """Indices into the 60000 training images: val = 5000 drawn with the seed, train = the rest."""
    if split == "train+val":
        return np.arange(n)
    perm = np.random.default_rng(seed).permutation(n)
    n_val = min(MNIST_VAL, n // 10) if n < 10 * MNIST_VAL else MNIST_VAL
    idx = perm[:n_val] if split == "val" else perm[n_val:]
    return np.sort(idx)


def _mnist(name: str, split: str, data_dir, seed: int) -> Dataset:
    classes = FASHION_CLASSES if name == "fashion-mnist" else DIGIT_CLASSES

    def make(images: np.ndarray, labels: np.ndarray, index: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        if index is not None:
            images, labels = images[index], labels[index]
        X = images.astype(np.float32)
        X *= np.float32(1.0 / 255.0)
        return X[:, None, :, :], labels.astype(np.int64)

    if split == "test":
        X, y = make(*load_mnist_part(name, "test", data_dir), None)
    elif split == "all":
        Xa, ya = make(*load_mnist_part(name, "train", data_dir), None)
        Xb, yb = make(*load_mnist_part(name, "test", data_dir), None)
        X, y = np.concatenate([Xa, Xb]), np.concatenate([ya, yb])
    else:
        images, labels = load_mnist_part(name, "train", data_dir)
        X, y = make(images, labels, mnist_train_val_indices(len(images), split, seed))
    folder = Path(data_dir).expanduser() if data_dir is not None else None
    return Dataset(
        X=X, y=y, name=name, value_range=(0.0, 1.0), classes=list(classes), split=split,
        meta={"source": name, "seed": seed, "data_dir": str(folder) if folder else None},
    )


def load(
    source: str | os.PathLike = "digits",
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    label_column: str | int | None = None,
) -> Dataset:
    """Load a built-in dataset ("digits", "mnist", "fashion-mnist") or a file/folder, one split.

    split: "train", "val", "test", "train+val" or "all". Splits are fixed for a seed: MNIST and
    Fashion-MNIST use their t10k files as test and 5000 seeded training images as val; other
    sources take test_fraction of all samples as test and val_fraction as val.
    data_dir: where mnist/fashion-mnist live (`<data_dir>/<name>/`); default $AEKIT_DATA_DIR,
    else $XDG_CACHE_HOME/aekit, else ~/.cache/aekit.
    label_column: for CSV files, the header name (or index) of the label column.
    Raises DataError for anything wrong with the source.
    """
    split = _check_split(split)
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
    else:
        raise DataError(f"source must be a dataset name or a path, got {type(source).__name__}")
    name = canonical_name(text) if isinstance(source, str) and "/" not in text and os.sep not in text else None
    if name in ("mnist", "fashion-mnist"):
        return _mnist(name, split, data_dir, seed)
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
        full = load_path(p, label_column=label_column)
    idx = split_indices(len(full), split, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)
    if len(idx) == 0:
        raise DataError(
            f"{full.name}: split {split!r} is empty ({len(full)} samples, val_fraction={val_fraction}, "
            f"test_fraction={test_fraction})"
        )
    ds = full if split == "all" else full.subset(idx, split=split)
    ds.split = split
    ds.meta.update(seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)
    return ds
