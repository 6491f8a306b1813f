"""A dataset whose samples stay on disk: what `aekit.data.load` gives for data over the memory budget.

`StreamedDataset` has the parts of `aekit.data.Dataset` that the loaders, the splits and the
training commands use (``len``, ``subset``, ``name``, ``y``, ``value_range``, ``sample_shape``,
``split``, ``meta``), but its ``X`` is a `aekit.data.sources.RowView`, read batch by batch:
the estimators train on it (`aekit.estimators.streaming`) and walk it in chunks for inference.
`in_memory` turns one into an ordinary Dataset, whole or as a seeded draw of rows, for what
needs the values at once (evaluation beside PCA, report figures).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from aekit.data.dataset import Dataset
from aekit.data.files import IMAGE_SUFFIXES, image_folder_files, read_image
from aekit.data.limits import fits_memory, open_data_file
from aekit.data.numpy_files import read_npy_header
from aekit.data.shards import ShardSource
from aekit.data.sources import MemmapSource, RowSource, RowView
from aekit.errors import DataError

SHARD_SUFFIXES = (".npy", ".parquet", ".pq")

EVALUATION_BYTES = 256 << 20  # float32 bytes of a streamed split read into RAM for evaluation
SPOOLED = "spooled"  # meta entry of a data set read from a copy in the spool folder: what it copies


class StreamedDataset:
    """Rows of a `RowSource`, with labels and names like a `Dataset`.

    Parameters
    ----------
    source : RowSource
        The data on disk (all its rows).
    rows : ndarray of int or None, default None
        The source's rows in this dataset, in order (None: all).
    name : str or None, default None
        The dataset's name (default: the source's).
    y : ndarray or None, default None
        Labels of the source's rows (all of them; default: the source's ``labels``, if any).
    classes : list of str or None, default None
        Label names (default: the source's ``classes``, if any).
    split : str, default "all"
    meta : dict or None, default None

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from aekit.data.sources import MemmapSource
    >>> path = Path(tempfile.mkdtemp()) / "a.npy"
    >>> np.save(path, np.arange(20, dtype=np.uint8).reshape(5, 2, 2))
    >>> ds = StreamedDataset(MemmapSource(path))
    >>> part = ds.subset(np.array([4, 1]), split="test")
    >>> len(part), part.sample_shape, part.split, part.X.read(np.array([0])).shape
    (2, (1, 2, 2), 'test', (1, 1, 2, 2))
    >>> in_memory(part).X.shape
    (2, 1, 2, 2)
    """

    is_streamed = True

    def __init__(self, source: RowSource, rows: np.ndarray | None = None, *, name: str | None = None, y=None,
                 classes: list[str] | None = None, split: str = "all", meta: dict | None = None) -> None:
        self.source = source
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64)
        self.name = name or source.name
        labels = y if y is not None else getattr(source, "labels", None)
        self._labels = None if labels is None else np.asarray(labels, dtype=np.int64)
        if self._labels is not None and len(self._labels) != len(source):
            raise DataError(f"{self.name}: {len(source)} samples but {len(self._labels)} labels")
        self.classes = classes if classes is not None else getattr(source, "classes", None)
        self.split = split
        self.meta = dict(meta or {})
        self.meta.setdefault("source", source.describe().get("path", self.name))
        self.meta["streamed"] = True

    @property
    def X(self) -> RowView:
        """The samples, as a view that reads them (N × sample shape)."""
        return RowView(self.source, self.rows)

    @property
    def y(self) -> np.ndarray | None:
        """The labels of this dataset's rows, or None."""
        if self._labels is None:
            return None
        return self._labels if self.rows is None else self._labels[self.rows]

    @property
    def paths(self) -> list[str] | None:
        """One file per sample, for sources that have them (image folders)."""
        paths = getattr(self.source, "paths", None)
        if paths is None:
            return None
        return list(paths) if self.rows is None else [paths[i] for i in self.rows]

    @property
    def value_range(self) -> tuple[float, float]:
        return self.source.value_range

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self.source.sample_shape

    @property
    def is_image(self) -> bool:
        return self.source.is_image

    @property
    def n_features(self) -> int:
        return self.source.n_features

    def __len__(self) -> int:
        return len(self.source) if self.rows is None else len(self.rows)

    def flat(self) -> RowView:
        """The samples as N×D rows (a view)."""
        return RowView(self.source, self.rows, flat=True)

    def describe(self) -> dict:
        """The source's description (for the run record), with this dataset's row count; of a copy
        in the spool folder, what it was a copy of (the copy is gone once the process ends)."""
        spooled = self.meta.get(SPOOLED)
        return {**self.source.describe(), "rows_used": len(self),
                **({SPOOLED: f"a copy of {spooled}, removed when the process ended"} if spooled else {})}

    def subset(self, index: np.ndarray, split: str | None = None) -> "StreamedDataset":
        """The samples at `index` (integer or boolean), as a new StreamedDataset named `split`."""
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        rows = index if self.rows is None else self.rows[index]
        return StreamedDataset(self.source, rows, name=self.name, y=self._labels, classes=self.classes,
                               split=split or self.split, meta=dict(self.meta))


def is_streamed(ds) -> bool:
    """True for a `StreamedDataset`."""
    return isinstance(ds, StreamedDataset)


def in_memory(ds, max_bytes: int = EVALUATION_BYTES, seed: int = 0) -> Dataset:
    """`ds` as an in-memory Dataset: a Dataset is returned as it is; a StreamedDataset is read
    whole when its float32 values fit `max_bytes`, else as a seeded draw of rows that does (in
    their order; ``meta["drawn_from"]`` says from how many)."""
    if not is_streamed(ds):
        return ds
    per_row = max(1, ds.n_features * 4)
    keep = max(1, min(len(ds), max_bytes // per_row))
    meta = dict(ds.meta)
    meta.pop("streamed", None)
    index = np.arange(len(ds))
    if keep < len(ds):
        index = np.sort(np.random.default_rng(seed).permutation(len(ds))[:keep])
        meta["drawn_from"] = len(ds)
    rows = index if ds.rows is None else ds.rows[index]
    order = np.argsort(rows, kind="stable")  # read in file order
    X = np.empty((len(rows), *ds.sample_shape), np.float32)
    X[order] = ds.source.read(rows[order])
    y = ds.y
    return Dataset(X=X, y=None if y is None else y[index], name=ds.name, value_range=ds.value_range,
                   classes=ds.classes, split=ds.split,
                   paths=None if ds.paths is None else [ds.paths[i] for i in index], meta=meta)


def load_streamed(path: Path, name: str, memory_budget=None, label_column=None):
    """What `aekit.data.files.load_path` gives for data that stays on disk, or None to load it as before.

    - a ``.npy`` file whose float32 values are over the memory budget: a `StreamedDataset` over a
      `MemmapSource` (the header is read first; nothing is decoded);
    - a folder of ``.npy`` or Parquet shards (`ShardSource`): in memory when it fits, else streamed;
    - a folder of images over the budget: streamed, decoded per batch
      (`aekit.data.image_source.ImageFolderSource`);
    - a CSV file larger than the budget: read once in chunks into a float32 ``.npy`` in the
      cache (`spool_folder`, deleted when the process ends) and streamed from there; its labels
      (`label_column`) are held in memory;
    - anything else (and anything that fits): None.

    Parameters
    ----------
    path : pathlib.Path
        The file or folder (already checked to exist).
    name : str
        The dataset's name.
    memory_budget : int, float, str or None
        See `aekit.data.limits.resolve_memory_budget`.
    """
    if path.is_dir():
        from aekit.data.audio import holds_wav_files

        if holds_wav_files(path):
            return None
        entries = [p for p in path.iterdir() if not p.name.startswith(".")]
        if any(p.is_file() and p.suffix.lower() in SHARD_SUFFIXES for p in entries) and not any(
                p.is_dir() or p.suffix.lower() in IMAGE_SUFFIXES for p in entries):
            source = ShardSource(path, name=name)
            if fits_memory(source.float_nbytes, memory_budget):
                return Dataset(X=source.read_all(), y=None, name=name, value_range=source.value_range,
                               meta={"source": str(path)})
            return StreamedDataset(source, name=name)
        return _image_folder(path, name, memory_budget)
    if path.suffix.lower() == ".csv":
        return _spooled_csv(path, name, label_column, memory_budget)
    if path.suffix.lower() != ".npy":
        return None
    with open_data_file(path) as f:
        dtype, shape, _ = read_npy_header(f, str(path))
    if fits_memory(int(np.prod(shape, dtype=np.int64)) * 4, memory_budget):
        return None  # in memory, as before
    return StreamedDataset(MemmapSource(path, name=name), name=name)


def spool_folder() -> Path:
    """Where CSV files too large for memory are written as float32 ``.npy`` while a process uses
    them: ``<data dir>/spool`` (`aekit.data.builtin.default_data_dir`: $AEKIT_DATA_DIR, else the
    user's cache; not /tmp, which is often in memory)."""
    from aekit.data.builtin import default_data_dir

    return default_data_dir() / "spool"


def _spool_file(stem: str, what: str) -> str:
    """A new empty ``.npy`` file in `spool_folder`, removed when the process ends; a DataError that
    names `what` when the folder cannot be written."""
    import atexit
    import tempfile

    folder = spool_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, target = tempfile.mkstemp(prefix=f"{stem}-", suffix=".npy", dir=folder)
        os.close(fd)
    except OSError as exc:
        raise DataError(f"{what}: over the memory budget, and {folder} (where it would be read to) is not "
                        f"writable ({exc.strerror or exc}); set AEKIT_DATA_DIR to a folder with space") from None
    atexit.register(lambda: Path(target).unlink(missing_ok=True))
    return target


def _spool_failed(target: str, what: str, copy: str, exc: OSError) -> DataError:
    Path(target).unlink(missing_ok=True)
    return DataError(f"{what}: could not write its {copy} to {spool_folder()} ({exc.strerror or exc}); "
                     "free space there or set AEKIT_DATA_DIR")


def spooled_images(images: np.ndarray, name: str, **dataset) -> StreamedDataset:
    """uint8 images read into memory (a built-in data set's split) whose float32 values would be over
    the memory budget: written once, as uint8, to a ``.npy`` in `spool_folder` (removed when the
    process ends) and streamed from there, divided by 255 per batch as the loaders divide them (the
    same float32 values). `dataset`: `StreamedDataset`'s y, classes, split and meta."""
    target = _spool_file(name, name)
    try:
        with open(target, "wb") as f:
            np.save(f, np.ascontiguousarray(images), allow_pickle=False)
    except OSError as exc:  # a full disk, for one
        raise _spool_failed(target, name, "uint8 copy", exc) from None
    meta = {**dataset.pop("meta", {}), SPOOLED: name}
    return StreamedDataset(MemmapSource(target, name=name), name=name, meta=meta, **dataset)


def _spooled_csv(path: Path, name: str, label_column, memory_budget):
    from aekit.data.csv_reader import spool_csv_arrays

    if fits_memory(os.stat(path).st_size, memory_budget):
        return None  # in memory, as before
    target = _spool_file(path.stem, str(path))
    try:
        arrays = spool_csv_arrays(path, target, label_column)
    except OSError as exc:  # a full disk, for one
        raise _spool_failed(target, str(path), "float32 copy", exc) from None
    meta = {"source": str(path), SPOOLED: str(path), **({"columns": arrays.columns} if arrays.columns is not None else {})}
    return StreamedDataset(MemmapSource(target, name=name), name=name, y=arrays.y, classes=arrays.classes,
                           meta=meta)


def _image_folder(path: Path, name: str, memory_budget):
    from aekit.data.image_source import ImageFolderSource

    files, _, _ = image_folder_files(path)
    first = read_image(files[0])
    if fits_memory(len(files) * first.size * 4, memory_budget):
        return None
    return StreamedDataset(ImageFolderSource(path, name=name, num_workers=default_workers()), name=name)


def image_dataset(folder, split: str = "all", memory_budget=None):
    """An `aekit.data.image_source.ImageFolderSource` (a folder with its decoding options, or a split
    of one) as a data set: decoded into memory when it fits the memory budget, else a
    `StreamedDataset` decoded per batch (in the source's DataLoader workers)."""
    if fits_memory(folder.float_nbytes, memory_budget):
        return folder.to_dataset(split)
    return StreamedDataset(folder, split=split, meta={"image_options": folder.options()})


def default_workers() -> int:
    """DataLoader workers for sources that decode: one per core but one, at most 4."""
    return max(0, min(4, (os.cpu_count() or 1) - 1))


__all__ = ["EVALUATION_BYTES", "StreamedDataset", "default_workers", "image_dataset", "in_memory", "is_streamed",
           "load_streamed", "spool_folder", "spooled_images"]
