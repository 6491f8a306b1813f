"""Built-in datasets: scikit-learn's digits, MNIST and Fashion-MNIST (original IDX files)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aekit.data.idx import read_idx
from aekit.errors import DataError

FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
DIGIT_CLASSES = [str(i) for i in range(10)]

IDX_FILES = {
    "train-images": "train-images-idx3-ubyte",
    "train-labels": "train-labels-idx1-ubyte",
    "test-images": "t10k-images-idx3-ubyte",
    "test-labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class BuiltinInfo:
    name: str
    description: str
    downloadable: bool
    classes: list[str]


BUILTINS: dict[str, BuiltinInfo] = {
    "digits": BuiltinInfo("digits", "scikit-learn's 1797 handwritten digits, 8×8 grey", False, DIGIT_CLASSES),
    "mnist": BuiltinInfo("mnist", "MNIST handwritten digits, 70000 × 28×28 grey", True, DIGIT_CLASSES),
    "fashion-mnist": BuiltinInfo("fashion-mnist", "Zalando Fashion-MNIST, 70000 × 28×28 grey", True, FASHION_CLASSES),
}
ALIASES = {
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "fmnist": "fashion-mnist",
    "sklearn-digits": "digits",
}


def canonical_name(name: str) -> str | None:
    """The built-in dataset's canonical name, or None when `name` is not one."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    return key if key in BUILTINS else None


def list_datasets() -> list[str]:
    """Names of the built-in datasets."""
    return list(BUILTINS)


def default_data_dir() -> Path:
    """$AEKIT_DATA_DIR, else $XDG_CACHE_HOME/aekit, else ~/.cache/aekit."""
    env = os.environ.get("AEKIT_DATA_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "aekit"
    return Path.home() / ".cache" / "aekit"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """`data_dir` when given, else the default (see `default_data_dir`)."""
    return Path(data_dir).expanduser() if data_dir is not None else default_data_dir()


def _data_dir_origin(data_dir: str | os.PathLike | None) -> str:
    if data_dir is not None:
        return "the data_dir argument"
    if os.environ.get("AEKIT_DATA_DIR"):
        return "$AEKIT_DATA_DIR"
    if os.environ.get("XDG_CACHE_HOME"):
        return "$XDG_CACHE_HOME/aekit"
    return "the default cache"


def find_idx_file(folder: Path, stem: str) -> Path | None:
    """`<stem>.gz` or `<stem>` (also the `train-images.idx3-ubyte` spelling) in `folder`."""
    alt = stem.replace("-idx", ".idx")
    for cand in (stem + ".gz", stem, alt + ".gz", alt):
        p = folder / cand
        if p.is_file():
            return p
    return None


def missing_files(name: str, data_dir: str | os.PathLike | None = None) -> list[str]:
    folder = resolve_data_dir(data_dir) / name
    return [stem for stem in IDX_FILES.values() if find_idx_file(folder, stem) is None]


# Small in-process cache of parsed IDX arrays, keyed by (path, mtime, size).
_IDX_CACHE: dict[tuple, np.ndarray] = {}
_IDX_CACHE_MAX = 8


def _cached_idx(path: Path) -> np.ndarray:
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    arr = _IDX_CACHE.get(key)
    if arr is None:
        arr = read_idx(path)
        arr.setflags(write=False)
        if len(_IDX_CACHE) >= _IDX_CACHE_MAX:
            _IDX_CACHE.pop(next(iter(_IDX_CACHE)))
        _IDX_CACHE[key] = arr
    return arr


def load_mnist_part(name: str, part: str, data_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 N×28×28, labels uint8 N) of `part` ('train' or 'test') of mnist / fashion-mnist."""
    folder = resolve_data_dir(data_dir) / name
    img_stem, lab_stem = IDX_FILES[f"{part}-images"], IDX_FILES[f"{part}-labels"]
    img_path, lab_path = find_idx_file(folder, img_stem), find_idx_file(folder, lab_stem)
    if img_path is None or lab_path is None:
        missing = [s for s, p in ((img_stem, img_path), (lab_stem, lab_path)) if p is None]
        raise DataError(
            f"{name}: {', '.join(m + '[.gz]' for m in missing)} not found in {folder} "
            f"(data folder from {_data_dir_origin(data_dir)}). Get the files with "
            f"`aekit data download {name}`, or point aekit at a folder that has a {name}/ "
            f"sub-folder with `--data-dir ../shared/data` or AEKIT_DATA_DIR=../shared/data"
        )
    images = _cached_idx(img_path)
    labels = _cached_idx(lab_path)
    if images.ndim != 3:
        raise DataError(f"{img_path}: expected N×H×W images, got shape {images.shape}")
    if labels.ndim != 1:
        raise DataError(f"{lab_path}: expected a 1-D labels file, got shape {labels.shape}")
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise DataError(f"{img_path}: expected uint8 IDX files, got {images.dtype} images and {labels.dtype} labels")
    if len(images) != len(labels):
        raise DataError(f"{img_path} has {len(images)} images but {lab_path} has {len(labels)} labels")
    if labels.size and int(labels.max()) > 9:
        raise DataError(f"{lab_path}: labels must be 0..9, found {int(labels.max())}")
    return images, labels


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as (N×1×8×8 float32 in [0, 1], labels)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    X = (d.images.astype(np.float32) / np.float32(16.0))[:, None, :, :]
    return X, d.target.astype(np.int64)
