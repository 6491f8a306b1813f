"""Row sources: data that stays on disk and is read one batch of rows at a time.

A `RowSource` is what the trainer and the estimators take instead of an in-memory array when
the data does not fit the memory budget (`aekit.data.limits`). It knows its shape and value
range up front and reads the rows at any index array, converted to float32 and scaled exactly
as the in-RAM loader (`aekit.data.files.array_to_dataset`) would scale them, so a streaming
run and an in-RAM run with the same seed see the same numbers.

- `MemmapSource`: one ``.npy`` file read in place, by row; uint8 stays uint8 on disk and is
  converted per batch. Rows are read with ``os.preadv`` (runs of consecutive rows in one call),
  not through a memory mapping: a mapping's touched pages count in the process's resident set,
  and one fault maps the pages around a row too (fault-around, large page-cache folios: up to
  megabytes for a 784-byte row), which made a random-order epoch over a 1.5 GB file resident.
  With pread only the batch is resident. (A Fortran-order file, whose rows are strided, is read
  through a read-only mapping whose pages are dropped with ``madvise(MADV_DONTNEED)`` every
  `DROP_EVERY` bytes they may map.)
- `RowView`: some rows of another source, in a given order, optionally flat (N×D).

A folder of ``.npy`` or Parquet shards is `aekit.data.shards.ShardSource`.

Other sources (lazily decoded image folders: `aekit.data.image_source`) subclass `RowSource`.
"""
from __future__ import annotations

import abc
import mmap
import os
import threading
from pathlib import Path

import numpy as np

from aekit.data.dataset import scale_pixels
from aekit.data.limits import check_memory, fits_memory, format_size, open_data_file, resolve_memory_budget
from aekit.data.numpy_files import read_npy_header
from aekit.errors import DataError

DROP_EVERY = 256 << 20  # resident bytes reads may add to a mapping between two drops of its pages
FAULT_AROUND = 64 << 10  # what one page fault on a file mapping may map (Linux's fault_around_bytes)
SCAN_ROWS_BYTES = 64 << 20  # bytes per chunk when a whole source is scanned (value range, NaN check)
BUDGET_SHARE = 8  # a block read in order takes at most this part of the memory budget (room for its work)


class RowSource(abc.ABC):
    """Base class of data that stays on disk and is read by row index.

    Subclasses set `shape` (``(n_rows, *sample_shape)``), `value_range` and `name`, and
    implement `read` and `describe`. A source must be picklable (DataLoader workers may be
    spawned): keep open files out of the pickled state and reopen them lazily.

    Attributes
    ----------
    shape : tuple of int
        ``(n_rows, *sample_shape)`` of what `read` returns for all rows: (N, D) for tables,
        (N, C, H, W) for images.
    value_range : tuple of float
        (low, high) the values `read` returns lie in, as `aekit.data.Dataset.value_range`.
    num_workers : int
        0: the trainer reads batches in its own process; > 0: in a ``torch.utils.data.DataLoader``
        with that many worker processes (for sources whose reading costs CPU, e.g. image decoding).
    name : str
        The source's name, for messages and the run record.
    """

    shape: tuple[int, ...] = (0,)
    value_range: tuple[float, float] = (0.0, 1.0)
    num_workers: int = 0
    name: str = "source"

    def __len__(self) -> int:
        return int(self.shape[0])

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """``shape[1:]``: (D,) or (C, H, W)."""
        return tuple(self.shape[1:])

    @property
    def n_features(self) -> int:
        """Values per sample."""
        return int(np.prod(self.sample_shape))

    @property
    def is_image(self) -> bool:
        """True for N×C×H×W data."""
        return len(self.shape) == 4

    @property
    def ndim(self) -> int:
        """``len(shape)``, as an array's."""
        return len(self.shape)

    @property
    def float_nbytes(self) -> int:
        """Bytes the whole source would take decoded into RAM as float32."""
        return len(self) * self.n_features * 4

    @abc.abstractmethod
    def read(self, index: np.ndarray) -> np.ndarray:
        """The rows at `index`, in that order, as a float32 array ``(len(index), *sample_shape)``.

        Parameters
        ----------
        index : ndarray of int
            Row numbers in ``[0, len(self))``; repeats allowed.

        Returns
        -------
        ndarray
            float32, C-contiguous, scaled as the in-RAM loader scales (uint8 / 255).

        Raises
        ------
        DataError
            Bad data on disk (naming the file), or an index out of range.
        """

    @abc.abstractmethod
    def describe(self) -> dict:
        """What the run record keeps about the source: kind, path(s), rows, sample shape, bytes on disk."""

    def read_all(self) -> np.ndarray:
        """Every row, in order, as one float32 array (only for sources that fit in memory)."""
        return self.read(np.arange(len(self)))

    def iter_chunks(self, rows: int | None = None):
        """Yield ``(start, float32 block)`` over all rows in order, `rows` at a time
        (default: `block_rows`, within the memory budget)."""
        rows = rows or block_rows(self.n_features)
        for start in range(0, len(self), rows):
            yield start, self.read(np.arange(start, min(len(self), start + rows)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, shape={self.shape})"


def is_row_source(x) -> bool:
    """True when `x` is a `RowSource` (data that stays on disk).

    Examples
    --------
    >>> is_row_source(np.zeros((2, 3)))
    False
    """
    return isinstance(x, RowSource)


def check_index(index, n: int, name: str) -> np.ndarray:
    """`index` as an int64 array, every entry in ``[0, n)``; DataError naming `name` otherwise."""
    index = np.asarray(index)
    if index.dtype.kind not in "iu":
        raise DataError(f"{name}: row indices must be integers, got dtype {index.dtype}")
    index = index.astype(np.int64, copy=False).reshape(-1)
    if index.size and (int(index.min()) < 0 or int(index.max()) >= n):
        raise DataError(f"{name}: row index out of range (the source has {n} rows)")
    return index


def _scale_rows(rows: np.ndarray) -> np.ndarray:
    """Rows as float32, uint8 scaled by 1/255 with the very operations `array_to_dataset` uses."""
    if rows.dtype == np.uint8:
        return scale_pixels(rows)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.ascontiguousarray(rows, dtype=np.float32)


def _check_rows_finite(out: np.ndarray, index: np.ndarray, source: str) -> None:
    if out.size and not np.isfinite(out).all():
        bad = ~np.isfinite(out.reshape(len(out), -1)).all(axis=1)
        row = int(index[int(np.argmax(bad))])
        raise DataError(f"{source}: NaN, inf or a value too large for float32 in row {row}")


# ----------------------------------------------------------------------------------------
# one memory-mapped .npy file
# ----------------------------------------------------------------------------------------
class MemmapSource(RowSource):
    """One ``.npy`` file read by row where it lies (``os.preadv``; see the module's text).

    The header is read and checked against the file's size before anything is mapped: a file
    shorter than its header declares (truncated) or longer (a header that lies about its shape)
    is refused. The layout follows `aekit.data.files.array_to_dataset`: 1-D becomes N×1, 3-D
    (N×H×W) becomes N×1×H×W, 4-D N×H×W×C (last axis 1 or 3, second not) is transposed per batch
    to N×C×H×W; uint8 is scaled to [0, 1].

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npy`` file (format 1.0 or 2.0, numeric, C or Fortran order).
    name : str or None, default None
        The source's name (default: the file's stem).
    num_workers : int, default 0
        See `RowSource.num_workers` (reading a mapping is cheap: 0 is usually fastest).
    drop_every : int, default DROP_EVERY
        Resident bytes the reads may add (counted as whole pages per row) before the mapping's
        pages are dropped.

    Raises
    ------
    DataError
        Not a .npy file, an object or non-numeric dtype, empty, a size that does not match the
        header, or (for float data, when the value range is first needed) NaN or inf.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "a.npy"
    >>> np.save(path, np.array([[0, 255], [51, 102]], np.uint8))
    >>> src = MemmapSource(path)
    >>> src.shape, src.value_range, np.rint(src.read(np.array([1, 0])) * 255).tolist()
    ((2, 2), (0.0, 1.0), [[51.0, 102.0], [0.0, 255.0]])
    """

    def __init__(self, path: str | os.PathLike, *, name: str | None = None, num_workers: int = 0,
                 drop_every: int = DROP_EVERY) -> None:
        self.path = Path(path)
        self.name = name or self.path.stem
        self.num_workers = int(num_workers)
        self.drop_every = int(drop_every)
        with open_data_file(self.path) as f:
            dtype, shape, fortran = read_npy_header(f, str(self.path))
            self.offset = f.tell()
            self.file_size = os.fstat(f.fileno()).st_size
        if dtype.kind not in "biuf":
            raise DataError(f"{self.path}: data must be numeric, got dtype {dtype}")
        if len(shape) == 0 or shape[0] == 0 or 0 in shape:
            raise DataError(f"{self.path}: empty data (shape {shape})")
        if len(shape) > 4 or len(shape) == 0:
            raise DataError(f"{self.path}: expected 2-D (N×D), 3-D (N×H×W) or 4-D (N×C×H×W) data, got shape {shape}")
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        held = self.file_size - self.offset
        if nbytes != held:
            why = "truncated" if nbytes > held else "the header does not match the data"
            raise DataError(
                f"{self.path}: the .npy header declares shape {shape} of {dtype} ({nbytes} bytes of data) but holds "
                f"{held} bytes after the header ({why}); rewrite it with numpy.save"
            )
        self.dtype, self.disk_shape, self.fortran = dtype, shape, fortran
        n = shape[0]
        self.channels_last = len(shape) == 4 and shape[-1] in (1, 3) and shape[1] not in (1, 3)
        if len(shape) == 1:
            self.shape = (n, 1)
        elif len(shape) == 3:
            self.shape = (n, 1, shape[1], shape[2])
        elif self.channels_last:
            self.shape = (n, shape[3], shape[1], shape[2])
        else:
            self.shape = tuple(shape)
        # resident bytes one row read can add: the page fault of a scattered row maps the pages
        # around it too (Linux's fault-around, 64 KiB), a long row its own bytes; a Fortran-order
        # row has one value in each column's run, a fault per value
        values = int(np.prod(shape[1:], dtype=np.int64))
        per_fault = FAULT_AROUND + mmap.PAGESIZE
        self._row_cost = values * per_fault if fortran and len(shape) > 1 else nbytes // n + per_fault
        self._range: tuple[float, float] | None = (0.0, 1.0) if dtype == np.uint8 else None
        self._array: np.ndarray | None = None
        self._mmap: mmap.mmap | None = None
        self._fd: int | None = None
        self._row_bytes = nbytes // n
        self._pid: int | None = None
        self._since_drop = 0
        self._lock = threading.Lock()

    # pickling (DataLoader workers started by spawn): the mapping is reopened in the worker
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(_array=None, _mmap=None, _fd=None, _pid=None, _since_drop=0, _lock=None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None and self._pid == os.getpid():
            os.close(self._fd)

    def _mapped(self) -> np.ndarray:
        # a forked worker must not share the parent's page accounting: map again per process
        if self._array is None or self._pid != os.getpid():
            with open_data_file(self.path) as f:
                if os.fstat(f.fileno()).st_size != self.file_size:
                    raise DataError(f"{self.path}: the file changed size since it was opened")
                try:
                    self._mmap = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                except (OSError, ValueError) as exc:
                    raise DataError(f"{self.path}: cannot map the file ({exc})") from None
            if hasattr(self._mmap, "madvise"):
                self._mmap.madvise(mmap.MADV_RANDOM)  # batches jump around: no read-ahead
            count = int(np.prod(self.disk_shape, dtype=np.int64))
            flat = np.frombuffer(self._mmap, dtype=self.dtype, count=count, offset=self.offset)
            self._array = flat.reshape(self.disk_shape, order="F" if self.fortran else "C")
            self._pid = os.getpid()
            self._since_drop = 0
        return self._array

    def drop_pages(self) -> None:
        """Drop the mapping's pages from this process's resident set (they stay in the page
        cache; the next read faults them back in)."""
        if self._mmap is not None and self._pid == os.getpid() and hasattr(self._mmap, "madvise"):
            self._mmap.madvise(mmap.MADV_DONTNEED)
        self._since_drop = 0

    def _descriptor(self) -> int:
        # one descriptor per process (a forked DataLoader worker opens its own)
        if self._fd is None or self._pid != os.getpid():
            with open_data_file(self.path) as f:
                if os.fstat(f.fileno()).st_size != self.file_size:
                    raise DataError(f"{self.path}: the file changed size since it was opened")
                self._fd, self._pid = os.dup(f.fileno()), os.getpid()
        return self._fd

    def _pread_rows(self, index: np.ndarray) -> np.ndarray:
        """The rows at `index` read with pread, in index order: runs of consecutive rows in one
        call each. Nothing is mapped, so reading adds nothing to the resident set but the batch."""
        fd, row_bytes = self._descriptor(), self._row_bytes
        order = np.argsort(index, kind="stable")
        rows = index[order]
        buf = np.empty(len(index) * row_bytes, np.uint8)
        view = memoryview(buf)
        cuts = np.flatnonzero(np.diff(rows) != 1) + 1
        for start, end in zip([0, *cuts.tolist()], [*cuts.tolist(), len(rows)]):
            at, stop = start * row_bytes, end * row_bytes
            offset = self.offset + int(rows[start]) * row_bytes
            while at < stop:
                try:
                    got = os.preadv(fd, [view[at:stop]], offset)
                except OSError as exc:
                    raise DataError(f"{self.path}: cannot read rows ({exc.strerror or exc})") from None
                if got <= 0:
                    raise DataError(f"{self.path}: the file ended before row {int(rows[start])} (truncated since "
                                    "it was opened)")
                at, offset = at + got, offset + got
        sorted_rows = buf.view(self.dtype).reshape(len(index), *self.disk_shape[1:])
        out = np.empty_like(sorted_rows)
        out[order] = sorted_rows
        return out

    def _raw_rows(self, index: np.ndarray) -> np.ndarray:
        if not self.fortran or len(self.disk_shape) == 1:
            return self._pread_rows(index)
        array = self._mapped()  # a Fortran-order file's rows are strided: read through a mapping
        try:
            rows = array[index]
        except (OSError, ValueError) as exc:  # an I/O error under the mapping surfaces here (SIGBUS aside)
            raise DataError(f"{self.path}: cannot read rows ({exc})") from None
        with self._lock:
            # count what the faults can map, not the row bytes: a 784-byte row scattered in the
            # file brings up to 64 KiB of mapped pages with it
            self._since_drop += len(index) * self._row_cost
            if self._since_drop >= self.drop_every:
                self.drop_pages()
        return rows

    def _layout(self, rows: np.ndarray) -> np.ndarray:
        if rows.ndim == 1:
            return rows[:, None]
        if rows.ndim == 3:
            return rows[:, None, :, :]
        if self.channels_last:
            return np.transpose(rows, (0, 3, 1, 2))
        return rows

    def read(self, index: np.ndarray) -> np.ndarray:
        """See `RowSource.read`."""
        index = check_index(index, len(self), str(self.path))
        out = np.ascontiguousarray(_scale_rows(self._layout(self._raw_rows(index))))
        if self.dtype.kind == "f":
            _check_rows_finite(out, index, str(self.path))
        return out

    @property
    def value_range(self) -> tuple[float, float]:
        """(0, 1) for uint8; otherwise the observed (min, max), found by one chunked scan
        (which also refuses NaN and inf); images already in [0, 1] give (0, 1)."""
        if self._range is None:
            lo, hi = np.inf, -np.inf
            for _, block in self.iter_chunks():
                lo, hi = min(lo, float(block.min())), max(hi, float(block.max()))
            self.drop_pages()
            if self.is_image and lo >= 0.0 and hi <= 1.0:
                self._range = (0.0, 1.0)
            else:
                self._range = (lo, hi)
        return self._range

    def describe(self) -> dict:
        """See `RowSource.describe`."""
        return {
            "kind": "memmap", "path": str(self.path.resolve()), "rows": len(self), "sample_shape": list(self.sample_shape),
            "dtype": str(self.dtype), "bytes_on_disk": int(self.file_size),
        }


ARRAY_ONLY = frozenset({"astype", "reshape", "mean", "sum", "min", "max", "std", "dtype", "flags", "T", "copy"})


class RowView(RowSource):
    """Some rows of another source (in the given order), optionally flattened to N×D.

    Reading row i reads row ``rows[i]`` of the parent; slicing (``view[a:b]``) reads that range
    as an array, so code written for arrays can walk a view in chunks.

    Parameters
    ----------
    parent : RowSource
        The source read.
    rows : ndarray of int or None, default None
        The parent's rows, in this view's order; None: all of them.
    flat : bool, default False
        Return rows as N×D (the estimators' layout) instead of the parent's sample shape.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "a.npy"
    >>> np.save(path, np.arange(12, dtype=np.float32).reshape(3, 2, 2))
    >>> view = RowView(MemmapSource(path), rows=np.array([2, 0]), flat=True)
    >>> view.shape, view[0:2][:, 0].tolist()
    ((2, 4), [8.0, 0.0])
    """

    def __init__(self, parent: RowSource, rows: np.ndarray | None = None, *, flat: bool = False) -> None:
        self.parent = parent
        self.rows = None if rows is None else check_index(rows, len(parent), parent.name)
        self.flat = bool(flat)
        self.name = parent.name
        self.num_workers = parent.num_workers
        n = len(parent) if self.rows is None else len(self.rows)
        self.shape = (n, parent.n_features) if self.flat else (n, *parent.sample_shape)

    @property
    def value_range(self) -> tuple[float, float]:
        """The parent's value range."""
        return self.parent.value_range

    def read(self, index: np.ndarray) -> np.ndarray:
        """See `RowSource.read`."""
        index = check_index(index, len(self), self.name)
        out = self.parent.read(index if self.rows is None else self.rows[index])
        return out.reshape(len(index), -1) if self.flat else out

    def __getitem__(self, key) -> np.ndarray:
        if not isinstance(key, slice):
            raise TypeError("a RowView is sliced (view[a:b]) or read by an index array (view.read(index))")
        return self.read(np.arange(len(self))[key])

    def __getattr__(self, name: str):
        # code written for arrays reaching a view: one clear message instead of an AttributeError
        if name in ARRAY_ONLY:
            raise DataError(f"{self.name}: the data stays on disk and is read batch by batch, but this operation "
                            f"needs it in memory (it uses .{name}); pass an array, or a part read with .read(index)")
        raise AttributeError(name)

    def describe(self) -> dict:
        """The parent's description, with this view's row count."""
        return {**self.parent.describe(), "rows_used": len(self)}


def read_into_memory(source: RowSource, who: str) -> np.ndarray:
    """All of a source's rows as one array (its sample shape), for code that needs them in memory,
    when their float32 values fit the memory budget; otherwise `check_memory`'s DataError, which
    says both sizes and how to raise the budget, with `who` naming what needs the rows.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "a.npy"
    >>> np.save(path, np.arange(6, dtype=np.float32).reshape(3, 2))
    >>> read_into_memory(MemmapSource(path), "a test").tolist()
    [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    >>> from aekit.data.limits import memory_budget_scope
    >>> with memory_budget_scope(16):
    ...     read_into_memory(MemmapSource(path), "a test")
    Traceback (most recent call last):
    ...
    aekit.errors.DataError: a: a test reads its data into memory: 3 samples of 2 values as float32 are 24 bytes, over the memory budget of 16 bytes (--memory-budget 16); raise it with --memory-budget, the memory_budget argument or AEKIT_MEMORY_BUDGET (e.g. 1GiB)
    """
    check_memory(source.float_nbytes, source.name,
                 f"{who} reads its data into memory: {len(source)} samples of {source.n_features} values as float32 are")
    return source.read(np.arange(len(source)))


def over_budget(x) -> bool:
    """Whether `x` is data left on disk (a row source) whose float32 values are over the memory
    budget: what is then read a block at a time instead of by `read_into_memory`."""
    return is_row_source(x) and not fits_memory(x.float_nbytes)


def block_rows(n_features: int, *, multiple: int = 1) -> int:
    """Rows per block when data on disk is walked in order: at most `SCAN_ROWS_BYTES` of float32 and
    at most 1/`BUDGET_SHARE` of the memory budget, a whole number of `multiple` (at least one).

    Examples
    --------
    >>> from aekit.data.limits import memory_budget_scope
    >>> with memory_budget_scope("1MiB"):
    ...     block_rows(784), block_rows(784, multiple=16)
    (41, 32)
    """
    limit = resolve_memory_budget().limit
    block_bytes = SCAN_ROWS_BYTES if limit is None else min(SCAN_ROWS_BYTES, limit // BUDGET_SHARE)
    rows = block_bytes // max(1, 4 * int(n_features))
    return max(1, rows // int(multiple)) * int(multiple)


def map_chunks(fn, source: RowSource, *, multiple: int = 1) -> np.ndarray:
    """``fn(block)`` over a source's rows in order, a block of `block_rows` at a time (leaving `fn`
    room in the budget for its temporaries; a whole number of `multiple` rows, so that batches of
    that size fall as they would in memory), the results concatenated: work on data that does not
    fit in memory.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "a.npy"
    >>> np.save(path, np.arange(10, dtype=np.float32).reshape(5, 2))
    >>> from aekit.data.limits import memory_budget_scope
    >>> with memory_budget_scope(64):  # 8 bytes per block: one row at a time
    ...     map_chunks(lambda block: block.sum(1), MemmapSource(path)).tolist()
    [1.0, 5.0, 9.0, 13.0, 17.0]
    """
    parts = [np.asarray(fn(block)) for _, block in source.iter_chunks(block_rows(source.n_features, multiple=multiple))]
    if hasattr(source, "drop_pages"):  # the scan's pages are not worth keeping resident
        source.drop_pages()
    return np.concatenate(parts) if parts else np.empty(0)


def source_summary(source: RowSource) -> str:
    """One line about a source for logs: name, rows, sample shape and size on disk."""
    info = source.describe()
    return (f"{source.name}: {info.get('rows')} rows of {tuple(info.get('sample_shape', ()))}, "
            f"{format_size(int(info.get('bytes_on_disk', 0)))} on disk ({info.get('kind')})")


__all__ = [
    "DROP_EVERY", "MemmapSource", "RowSource", "RowView", "block_rows", "check_index", "is_row_source", "map_chunks",
    "over_budget", "read_into_memory",
    "source_summary",
]
