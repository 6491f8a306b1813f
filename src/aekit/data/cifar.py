"""Reading CIFAR-10 and CIFAR-100 from their binary releases (never the pickled Python release).

A binary batch file is a run of fixed-size records with no header: the label byte(s), then
3,072 pixel bytes: the 32×32 red plane, then green, then blue, each row-major. CIFAR-10 has one
label byte (0..9); CIFAR-100 has two, the coarse label (0..19) then the fine label (0..99). The
class names are one per line in text files next to the batches. Every file is read with one
``readinto`` into a single buffer (no per-record Python loop) and every problem ends in one
`DataError` naming the file.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aekit.errors import DataError

IMAGE_SHAPE = (3, 32, 32)
PIXEL_BYTES = 3 * 32 * 32


@dataclass(frozen=True)
class LabelField:
    """One label byte of a CIFAR record: its name, the file of its class names, its class count.

    Parameters
    ----------
    name : str
        "label" (CIFAR-10), "coarse" or "fine" (CIFAR-100).
    names_file : str
        The release's text file of class names, one a line.
    n_classes : int
        Number of classes; a label byte at or above it is refused.

    Examples
    --------
    >>> [f.name for f in CIFAR100.labels]
    ['coarse', 'fine']
    """

    name: str
    names_file: str
    n_classes: int


@dataclass(frozen=True)
class CifarSpec:
    """The layout of one CIFAR binary release.

    Parameters
    ----------
    name : str
        The source's name in aekit ("cifar10", "cifar100").
    folder : str
        The folder the release's archive unpacks to.
    train_files, test_files : tuple of str
        The batch files of the fixed training and test parts, in order.
    labels : tuple of LabelField
        The label bytes at the start of each record, in file order.
    class_label : str
        The `LabelField.name` that is the class (``Dataset.y``).
    """

    name: str
    folder: str
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    labels: tuple[LabelField, ...]
    class_label: str

    @property
    def record_bytes(self) -> int:
        """Bytes per record: the label bytes plus 3,072 pixel bytes."""
        return len(self.labels) + PIXEL_BYTES

    @property
    def required_files(self) -> tuple[str, ...]:
        """Every file a complete folder holds: the batches, then the class-name files."""
        return self.train_files + self.test_files + tuple(f.names_file for f in self.labels)

    def part_files(self, part: str) -> tuple[str, ...]:
        """The batch files of `part` ("train" or "test")."""
        if part not in ("train", "test"):
            raise DataError(f"{self.name}: unknown part {part!r}; the binary release has 'train' and 'test'")
        return self.train_files if part == "train" else self.test_files

    def field(self, label: str | None = None) -> int:
        """Column of label field `label` (default: the class label) in the record's label bytes."""
        key = self.class_label if label is None else label
        for i, f in enumerate(self.labels):
            if f.name == key:
                return i
        known = ", ".join(f.name for f in self.labels)
        raise DataError(f"{self.name}: unknown label {label!r}; its records carry: {known}")


CIFAR10 = CifarSpec(
    name="cifar10",
    folder="cifar-10-batches-bin",
    train_files=tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
    test_files=("test_batch.bin",),
    labels=(LabelField("label", "batches.meta.txt", 10),),
    class_label="label",
)
CIFAR100 = CifarSpec(
    name="cifar100",
    folder="cifar-100-binary",
    train_files=("train.bin",),
    test_files=("test.bin",),
    labels=(LabelField("coarse", "coarse_label_names.txt", 20), LabelField("fine", "fine_label_names.txt", 100)),
    class_label="fine",
)
SPECS: dict[str, CifarSpec] = {s.name: s for s in (CIFAR10, CIFAR100)}


def candidate_folders(root: Path, spec: CifarSpec) -> list[Path]:
    """Where a CIFAR folder may sit under the data folder `root`, in the order they are tried:
    ``<root>/<name>/<release folder>`` (what `aekit data download` unpacks), the files straight in
    ``<root>/<name>/``, and ``<root>/<release folder>`` (the archive unpacked into `root`)."""
    return [root / spec.name / spec.folder, root / spec.name, root / spec.folder]


def find_folder(root: Path, spec: CifarSpec) -> Path | None:
    """The first of `candidate_folders` that holds any of the release's files, or None.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> find_folder(root, CIFAR10) is None
    True
    >>> (root / "cifar10" / "cifar-10-batches-bin").mkdir(parents=True)
    >>> _ = (root / "cifar10" / "cifar-10-batches-bin" / "test_batch.bin").write_bytes(b"")
    >>> find_folder(root, CIFAR10).name
    'cifar-10-batches-bin'
    """
    for folder in candidate_folders(root, spec):
        if folder.is_dir() and any((folder / f).is_file() for f in spec.required_files):
            return folder
    return None


def missing_files(folder: Path, spec: CifarSpec) -> list[str]:
    """Names of the release's files (`CifarSpec.required_files`) that `folder` lacks."""
    return [f for f in spec.required_files if not (folder / f).is_file()]


def read_records(paths: list[Path], spec: CifarSpec) -> tuple[np.ndarray, np.ndarray]:
    """Read CIFAR binary batch files, concatenated in the order given.

    Parameters
    ----------
    paths : list of Path
        Batch files of `spec`'s layout.
    spec : CifarSpec
        The layout (label bytes and their class counts).

    Returns
    -------
    images : np.ndarray
        uint8, shape (N, 3, 32, 32), channels R, G, B (a view into one buffer).
    labels : np.ndarray
        uint8, shape (N, len(spec.labels)), the label bytes in `spec.labels` order.

    Raises
    ------
    DataError
        A file is missing, empty, not a whole number of records, or holds a label byte out of
        range; the message names the file.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "test_batch.bin"
    >>> _ = p.write_bytes(bytes([7]) + bytes(range(256)) * 12)
    >>> images, labels = read_records([p], CIFAR10)
    >>> images.shape, labels.tolist(), int(images[0, 0, 0, 5]), int(images[0, 2, 31, 31])
    ((1, 3, 32, 32), [[7]], 5, 255)
    """
    rec = spec.record_bytes
    sizes = []
    for p in paths:
        try:
            size = p.stat().st_size
        except FileNotFoundError:
            raise DataError(f"{p}: file not found (a {spec.name} batch file)") from None
        except OSError as exc:
            raise DataError(f"{p}: cannot read file ({exc.strerror or exc})") from None
        if not p.is_file():
            raise DataError(f"{p}: is not a regular file, expected a {spec.name} batch file")
        if size == 0:
            raise DataError(f"{p}: empty file, expected {spec.name} records of {rec} bytes")
        if size % rec:
            raise DataError(
                f"{p}: {size} bytes is not a whole number of {rec}-byte {spec.name} records "
                f"({len(spec.labels)} label byte(s) + {PIXEL_BYTES} pixel bytes; "
                f"{size // rec} records and {size % rec} bytes over): truncated or not a {spec.name} batch file"
            )
        sizes.append(size)
    buf = np.empty(sum(sizes), dtype=np.uint8)
    offset = 0
    for p, size in zip(paths, sizes):
        try:
            with open(p, "rb") as f:
                got = f.readinto(memoryview(buf[offset : offset + size]))
        except OSError as exc:
            raise DataError(f"{p}: cannot read file ({exc.strerror or exc})") from None
        if got != size:  # the file shrank between stat and read
            raise DataError(f"{p}: read {got} of {size} bytes (the file changed while being read)")
        offset += size
    records = buf.reshape(-1, rec)
    labels = records[:, : len(spec.labels)]
    # Check each label column against its class count, naming the file of the first bad record.
    bounds = np.cumsum([0] + [s // rec for s in sizes])
    for col, field in enumerate(spec.labels):
        bad = np.flatnonzero(labels[:, col] >= field.n_classes)
        if bad.size:
            i = int(bad[0])
            k = int(np.searchsorted(bounds, i, side="right")) - 1
            raise DataError(
                f"{paths[k]}: record {i - int(bounds[k])} has {field.name} label byte {int(labels[i, col])}, "
                f"out of range 0..{field.n_classes - 1} ({int(bad.size)} such record(s) in all); "
                f"not a {spec.name} batch file or corrupt"
            )
    images = records[:, len(spec.labels) :].reshape((-1,) + IMAGE_SHAPE)
    return images, np.ascontiguousarray(labels)


def read_class_names(path: Path, n_classes: int) -> list[str]:
    """Class names, one a line, from a CIFAR metadata file (blank lines and edge spaces dropped).

    Parameters
    ----------
    path : Path
        ``batches.meta.txt``, ``fine_label_names.txt`` or ``coarse_label_names.txt``.
    n_classes : int
        How many names the file must hold.

    Returns
    -------
    list of str
        The names, index = label.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "batches.meta.txt"
    >>> _ = p.write_text("airplane\\nautomobile \\n\\n")
    >>> read_class_names(p, 2)
    ['airplane', 'automobile']
    """
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found (the class names of the CIFAR release)") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file of class names (not UTF-8)") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if len(names) != n_classes:
        raise DataError(f"{path}: expected {n_classes} class names, one a line, found {len(names)}")
    return names


def file_key(paths: list[Path]) -> tuple:
    """A cache key that changes when any of `paths` is rewritten: (path, mtime, size) of each."""
    key = []
    for p in paths:
        try:
            st = p.stat()
        except OSError:
            return ()  # unreadable: no key, so nothing is cached and the reader reports it
        key.append((os.path.realpath(p), st.st_mtime_ns, st.st_size))
    return tuple(key)


__all__ = [
    "CIFAR10", "CIFAR100", "IMAGE_SHAPE", "PIXEL_BYTES", "SPECS", "CifarSpec", "LabelField",
    "candidate_folders", "file_key", "find_folder", "missing_files", "read_class_names", "read_records",
]
