"""Built-in datasets: scikit-learn's digits, MNIST and Fashion-MNIST (original IDX files), CIFAR-10
and CIFAR-100 (binary releases, see `aekit.data.cifar`)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aekit.data.cifar import SPECS as CIFAR_SPECS
from aekit.data.cifar import file_key, find_folder, read_class_names, read_records
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
    """What `aekit data list` says about a built-in dataset.

    Parameters
    ----------
    name : str
        Canonical name.
    description : str
        One line: what it is, how many samples of what shape.
    downloadable : bool
        True when its files come from `aekit data download` (digits ships with scikit-learn).
    classes : list of str or None
        Class names (index = label); None when read from the dataset's metadata file (CIFAR).

    Examples
    --------
    >>> BUILTINS["mnist"].downloadable, BUILTINS["digits"].classes[:3]
    (True, ['0', '1', '2'])
    """

    name: str
    description: str
    downloadable: bool
    classes: list[str] | None  # None: read from the dataset's own metadata file (CIFAR)


BUILTINS: dict[str, BuiltinInfo] = {
    "digits": BuiltinInfo("digits", "scikit-learn's 1797 handwritten digits, 8×8 grey", False, DIGIT_CLASSES),
    "mnist": BuiltinInfo("mnist", "MNIST handwritten digits, 70000 × 28×28 grey", True, DIGIT_CLASSES),
    "fashion-mnist": BuiltinInfo("fashion-mnist", "Zalando Fashion-MNIST, 70000 × 28×28 grey", True, FASHION_CLASSES),
    "cifar10": BuiltinInfo("cifar10", "CIFAR-10 tiny photos, 60000 × 3×32×32 colour, 10 classes", True, None),
    "cifar100": BuiltinInfo(
        "cifar100", "CIFAR-100 tiny photos, 60000 × 3×32×32 colour, 100 classes (20 superclasses)", True, None
    ),
}
ALIASES = {
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "fmnist": "fashion-mnist",
    "sklearn-digits": "digits",
    "cifar-10": "cifar10",
    "cifar_10": "cifar10",
    "cifar-100": "cifar100",
    "cifar_100": "cifar100",
}


def canonical_name(name: str) -> str | None:
    """The built-in dataset's canonical name, or None when `name` is not one.

    Parameters
    ----------
    name : str
        A name or alias, in any case ("FMNIST", "cifar-10", ...).

    Returns
    -------
    str or None

    Examples
    --------
    >>> canonical_name(" FMNIST "), canonical_name("cifar-10"), canonical_name("imagenet")
    ('fashion-mnist', 'cifar10', None)
    """
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    return key if key in BUILTINS else None


def list_datasets() -> list[str]:
    """Names of the built-in datasets.

    Returns
    -------
    list of str

    Examples
    --------
    >>> list_datasets()
    ['digits', 'mnist', 'fashion-mnist', 'cifar10', 'cifar100']
    """
    return list(BUILTINS)


def default_data_dir() -> Path:
    """$AEKIT_DATA_DIR, else $XDG_CACHE_HOME/aekit, else ~/.cache/aekit.

    Returns
    -------
    pathlib.Path
        The folder (not created).

    Examples
    --------
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"AEKIT_DATA_DIR": "/data/aekit"}):
    ...     default_data_dir().as_posix()
    '/data/aekit'
    """
    env = os.environ.get("AEKIT_DATA_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "aekit"
    return Path.home() / ".cache" / "aekit"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """`data_dir` when given (with ~ expanded), else the default (see `default_data_dir`).

    Parameters
    ----------
    data_dir : str or os.PathLike or None, default None

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> resolve_data_dir("/tmp/data").as_posix()
    '/tmp/data'
    """
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
    """`<stem>.gz` or `<stem>` (also the `train-images.idx3-ubyte` spelling) in `folder`.

    Parameters
    ----------
    folder : pathlib.Path
        Where to look.
    stem : str
        The file's name without .gz, e.g. "t10k-labels-idx1-ubyte".

    Returns
    -------
    pathlib.Path or None
        The first of the spellings that is a file, or None.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "t10k-labels.idx1-ubyte").write_bytes(b"")
    >>> find_idx_file(folder, "t10k-labels-idx1-ubyte").name
    't10k-labels.idx1-ubyte'
    """
    alt = stem.replace("-idx", ".idx")
    for cand in (stem + ".gz", stem, alt + ".gz", alt):
        p = folder / cand
        if p.is_file():
            return p
    return None


def required_files(name: str) -> list[str]:
    """The files a downloadable dataset's folder must hold ("mnist", "fashion-mnist", "cifar10", "cifar100").

    Examples
    --------
    >>> required_files("cifar100")
    ['train.bin', 'test.bin', 'coarse_label_names.txt', 'fine_label_names.txt']
    """
    if name in CIFAR_SPECS:
        return list(CIFAR_SPECS[name].required_files)
    return list(IDX_FILES.values())


def dataset_folder(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """The folder a downloadable dataset's files are read from: `<data_dir>/<name>/`, or for CIFAR
    the first folder that holds its files (see `aekit.data.cifar.candidate_folders`).

    Parameters
    ----------
    name : str
        A canonical downloadable name.
    data_dir : str or os.PathLike or None, default None
        The data folder (default: `default_data_dir`).

    Returns
    -------
    pathlib.Path
        The folder, which may not exist yet.

    Examples
    --------
    >>> dataset_folder("mnist", "/tmp/data").as_posix()
    '/tmp/data/mnist'
    """
    root = resolve_data_dir(data_dir)
    if name in CIFAR_SPECS:
        found = find_folder(root, CIFAR_SPECS[name])
        return found if found is not None else root / name
    # --data-dir may name the dataset's own folder (.../mnist) as well as its parent; only a folder
    # of the dataset's name counts, so MNIST's files are never read as Fashion-MNIST's
    if root.name == name and not (root / name).is_dir() and find_idx_file(root, IDX_FILES["train-images"]):
        return root
    return root / name


def missing_files(name: str, data_dir: str | os.PathLike | None = None) -> list[str]:
    """Which of `required_files(name)` are not found under the data folder (all of them when no
    folder is found).

    Parameters
    ----------
    name : str
        A canonical downloadable name.
    data_dir : str or os.PathLike or None, default None
        The data folder (default: `default_data_dir`).

    Returns
    -------
    list of str

    Examples
    --------
    >>> import tempfile
    >>> missing_files("mnist", tempfile.mkdtemp())
    ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']
    """
    root = resolve_data_dir(data_dir)
    if name in CIFAR_SPECS:
        spec = CIFAR_SPECS[name]
        folder = find_folder(root, spec)
        return [f for f in spec.required_files if folder is None or not (folder / f).is_file()]
    folder = root / name
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
    """(images uint8 N×28×28, labels uint8 N) of `part` ('train' or 'test') of mnist / fashion-mnist.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist"}
        The dataset; its files are read from ``<data_dir>/<name>/`` (gzip or raw IDX).
    part : {"train", "test"}
        The training files or the t10k files.
    data_dir : str or os.PathLike or None, default None
        The data folder (default: `default_data_dir`).

    Returns
    -------
    images : ndarray
        uint8, shape (N, H, W), read-only (cached while the files do not change).
    labels : ndarray
        uint8, shape (N,), values 0…9, read-only.

    Raises
    ------
    DataError
        A missing file (the message says how to get it), or files that are not MNIST's layout.

    Examples
    --------
    >>> import gzip, tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "mnist").mkdir()
    >>> header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (2, 28, 28))
    >>> _ = (root / "mnist" / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + bytes(2 * 784)))
    >>> _ = (root / "mnist" / "t10k-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 2]))
    >>> images, labels = load_mnist_part("mnist", "test", root)
    >>> images.shape, labels.tolist()
    ((2, 28, 28), [7, 2])
    """
    folder = dataset_folder(name, data_dir)
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


# Parsed CIFAR parts, keyed by (path, mtime, size) of their files; small, as a part is up to 154 MB.
_CIFAR_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
_CIFAR_CACHE_MAX = 2


def _cifar_folder(name: str, data_dir: str | os.PathLike | None) -> Path:
    spec = CIFAR_SPECS[name]
    root = resolve_data_dir(data_dir)
    folder = find_folder(root, spec)
    if folder is None:
        tried = " or ".join(str(p) for p in (root / name / spec.folder, root / name))
        raise DataError(
            f"{name}: no {spec.name} files found in {tried} (data folder from {_data_dir_origin(data_dir)}). "
            f"Get them with `aekit data download {name}`, or point aekit at a folder that has a {name}/ "
            f"sub-folder with `--data-dir DIR` or AEKIT_DATA_DIR=DIR"
        )
    return folder


def load_cifar_part(
    name: str, part: str, data_dir: str | os.PathLike | None = None, *, label: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One fixed part of CIFAR-10 or CIFAR-100, as stored (uint8).

    Parameters
    ----------
    name : str
        "cifar10" or "cifar100".
    part : str
        "train" (CIFAR-10: data_batch_1..5.bin; CIFAR-100: train.bin) or "test" (test_batch.bin;
        test.bin).
    data_dir : str or PathLike, optional
        The data folder (default: see `default_data_dir`); the files are looked for in
        ``<data_dir>/<name>/<release folder>/``, ``<data_dir>/<name>/`` and ``<data_dir>/<release folder>/``.
    label : str, optional
        Which label byte to return: None (default) for the class label; CIFAR-100 records carry
        "coarse" (the 20 superclasses) and "fine" (the 100 classes, the default), CIFAR-10 only "label".

    Returns
    -------
    images : np.ndarray
        uint8, shape (N, 3, 32, 32), read-only.
    labels : np.ndarray
        uint8, shape (N,), read-only.

    Raises
    ------
    DataError
        No folder, a missing batch file, a size that is not a whole number of records or a label
        byte out of range; the message names the file.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "cifar100").mkdir()
    >>> _ = (root / "cifar100" / "test.bin").write_bytes(bytes([3, 42]) + bytes(3072))
    >>> images, fine = load_cifar_part("cifar100", "test", root)
    >>> images.shape, fine.tolist(), load_cifar_part("cifar100", "test", root, label="coarse")[1].tolist()
    ((1, 3, 32, 32), [42], [3])
    """
    if name not in CIFAR_SPECS:
        raise DataError(f"{name!r} is not a CIFAR source; choose one of {', '.join(CIFAR_SPECS)}")
    spec = CIFAR_SPECS[name]
    col = spec.field(label)
    folder = _cifar_folder(name, data_dir)
    files = spec.part_files(part)
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise DataError(
            f"{name}: {', '.join(str(folder / f) for f in missing)} not found; the {part} part needs "
            f"{', '.join(files)}. Get the complete release with `aekit data download {name}`"
        )
    paths = [folder / f for f in files]
    key = file_key(paths)
    hit = _CIFAR_CACHE.get(key) if key else None
    if hit is None:
        hit = read_records(paths, spec)
        for arr in hit:
            arr.setflags(write=False)
        if key:
            if len(_CIFAR_CACHE) >= _CIFAR_CACHE_MAX:
                _CIFAR_CACHE.pop(next(iter(_CIFAR_CACHE)))
            _CIFAR_CACHE[key] = hit
    images, labels = hit
    return images, labels[:, col]


def cifar_classes(name: str, data_dir: str | os.PathLike | None = None, *, label: str | None = None) -> list[str]:
    """Class names of "cifar10" or "cifar100" from the release's metadata file (index = label).

    Parameters
    ----------
    name : str
        "cifar10" (batches.meta.txt) or "cifar100" (fine_label_names.txt, or
        coarse_label_names.txt with ``label="coarse"``).
    data_dir : str or PathLike, optional
        The data folder, as for `load_cifar_part`.
    label : str, optional
        The label field, as for `load_cifar_part`; None for the class label.

    Returns
    -------
    list of str

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "cifar100").mkdir()
    >>> names = "\\n".join(f"super{i}" for i in range(20))
    >>> _ = (root / "cifar100" / "coarse_label_names.txt").write_text(names)
    >>> cifar_classes("cifar100", root, label="coarse")[:2]
    ['super0', 'super1']
    """
    if name not in CIFAR_SPECS:
        raise DataError(f"{name!r} is not a CIFAR source; choose one of {', '.join(CIFAR_SPECS)}")
    spec = CIFAR_SPECS[name]
    field = spec.labels[spec.field(label)]
    return read_class_names(_cifar_folder(name, data_dir) / field.names_file, field.n_classes)


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as (N×1×8×8 float32 in [0, 1], labels).

    Returns
    -------
    X : ndarray
        float32, shape (1797, 1, 8, 8): the 0…16 pixel counts divided by 16.
    y : ndarray
        int64, shape (1797,), the digits 0…9.

    Examples
    --------
    >>> X, y = load_digits_arrays()
    >>> X.shape, float(X.max()), y[:5].tolist()
    ((1797, 1, 8, 8), 1.0, [0, 1, 2, 3, 4])
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    X = (d.images.astype(np.float32) / np.float32(16.0))[:, None, :, :]
    return X, d.target.astype(np.int64)
