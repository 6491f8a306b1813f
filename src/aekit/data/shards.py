"""A folder of shards read as one array: ``.npy`` shards (each a `MemmapSource`) or Parquet shards.

Shards are taken in name order and indexed across as one array; every shard must match the first
(sample shape and dtype, or Parquet columns), else one DataError names the shard.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

from aekit.data.limits import check_data_path
from aekit.data.sources import MemmapSource, RowSource, check_index
from aekit.errors import DataError

PARQUET_CACHE_BYTES = 256 << 20  # decoded Parquet row groups kept in memory, per process


class _ParquetShard:
    """One Parquet file read by row group, decoded groups kept in a small per-process cache."""

    def __init__(self, path: Path, columns: list[str] | None) -> None:
        import pyarrow.parquet as pq

        self.path = path
        try:
            meta = pq.ParquetFile(path).metadata
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError... for a bad file
            raise DataError(f"{path}: not a readable Parquet file ({type(exc).__name__}: {exc})") from None
        self.columns = [meta.schema.column(i).name for i in range(meta.num_columns)]
        if columns is not None and self.columns != columns:
            raise DataError(
                f"{path}: columns {self.columns} differ from the first shard's {columns}; every shard must "
                "have the same columns in the same order"
            )
        arrow = meta.schema.to_arrow_schema()
        for field in arrow:
            if not (str(field.type).startswith(("int", "uint", "float", "double", "halffloat", "bool"))):
                raise DataError(f"{path}: column {field.name!r} is {field.type}, not numeric")
        self.group_rows = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
        self.group_starts = np.concatenate([[0], np.cumsum(self.group_rows)]).astype(np.int64)
        self.rows = int(self.group_starts[-1])
        self.file_size = path.stat().st_size
        self.stats_range = self._stats_range(meta)

    @staticmethod
    def _stats_range(meta) -> tuple[float, float] | None:
        lo, hi = np.inf, -np.inf
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for c in range(group.num_columns):
                st = group.column(c).statistics
                if st is None or not st.has_min_max:
                    return None
                lo, hi = min(lo, float(np.float32(st.min))), max(hi, float(np.float32(st.max)))  # as read
        return (lo, hi) if lo <= hi else None

    def read_group(self, group: int) -> np.ndarray:
        import pyarrow.parquet as pq

        try:
            table = pq.ParquetFile(self.path).read_row_group(group)
            block = np.column_stack([table.column(i).to_numpy(zero_copy_only=False).astype(np.float32)
                                     for i in range(table.num_columns)])
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"{self.path}: cannot read row group {group} ({type(exc).__name__}: {exc})") from None
        if not np.isfinite(block).all():
            row = int(np.argmax(~np.isfinite(block).all(axis=1)))
            raise DataError(f"{self.path}: NaN, inf or a missing value in row {int(self.group_starts[group]) + row}")
        return np.ascontiguousarray(block)


class ShardSource(RowSource):
    """A folder of ``.npy`` shards or of Parquet shards, read as one array (shards in name order).

    ``.npy`` shards are `MemmapSource` s and must share the first shard's sample shape and
    dtype. Parquet shards must have the first shard's columns, in the same order, all numeric
    (no missing values); they are read one row group at a time, decoded groups kept in a small
    cache (`PARQUET_CACHE_BYTES` per process), so batches in a random order over many row groups
    read more than they use: write Parquet shards with small row groups for streaming.

    Parameters
    ----------
    folder : str or os.PathLike
        The folder; it holds ``*.npy`` files or ``*.parquet`` files (not both).
    name : str or None, default None
        The source's name (default: the folder's name).
    num_workers : int, default 0
        See `RowSource.num_workers`.

    Raises
    ------
    DataError
        No shards, both kinds, a shard that does not match the first, or a bad shard.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> np.save(folder / "part-0.npy", np.zeros((2, 3), np.float32))
    >>> np.save(folder / "part-1.npy", np.ones((1, 3), np.float32))
    >>> src = ShardSource(folder)
    >>> src.shape, src.read(np.array([2, 0])).tolist()
    ((3, 3), [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    """

    def __init__(self, folder: str | os.PathLike, *, name: str | None = None, num_workers: int = 0) -> None:
        self.folder = check_data_path(folder)
        if not self.folder.is_dir():
            raise DataError(f"{self.folder}: expected a folder of .npy or Parquet shards")
        self.name = name or self.folder.name
        self.num_workers = int(num_workers)
        npy = sorted(p for p in self.folder.iterdir() if p.suffix.lower() == ".npy" and p.is_file())
        parquet = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in (".parquet", ".pq") and p.is_file())
        if npy and parquet:
            raise DataError(f"{self.folder}: holds both .npy and Parquet files; keep one kind of shard per folder")
        if not npy and not parquet:
            raise DataError(f"{self.folder}: no .npy or .parquet shards in the folder")
        self.kind = "npy-shards" if npy else "parquet-shards"
        self.columns: list[str] | None = None
        if npy:
            self.shards = [MemmapSource(p) for p in npy]
            first = self.shards[0]
            for shard in self.shards[1:]:
                if shard.sample_shape != first.sample_shape or shard.dtype != first.dtype:
                    raise DataError(
                        f"{shard.path}: samples of shape {shard.sample_shape} ({shard.dtype}) differ from the first "
                        f"shard's {first.sample_shape} ({first.dtype}) in {first.path.name}"
                    )
            sizes = [len(s) for s in self.shards]
            sample_shape = first.sample_shape
        else:
            self.shards = []
            for p in parquet:
                self.shards.append(_ParquetShard(p, self.shards[0].columns if self.shards else None))
            self.columns = self.shards[0].columns
            sizes = [s.rows for s in self.shards]
            sample_shape = (len(self.columns),)
        if sum(sizes) == 0:
            raise DataError(f"{self.folder}: the shards hold no rows")
        self.starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.shape = (int(self.starts[-1]), *sample_shape)
        self._range: tuple[float, float] | None = None
        self._cache: OrderedDict = OrderedDict()
        self._cache_bytes = 0

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(_cache=OrderedDict(), _cache_bytes=0)
        return state

    def _group(self, shard: int, group: int) -> np.ndarray:
        key = (shard, group)
        block = self._cache.get(key)
        if block is not None:
            self._cache.move_to_end(key)
            return block
        block = self.shards[shard].read_group(group)
        self._cache[key] = block
        self._cache_bytes += block.nbytes
        while self._cache_bytes > PARQUET_CACHE_BYTES and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cache_bytes -= old.nbytes
        return block

    def read(self, index: np.ndarray) -> np.ndarray:
        """See `RowSource.read`."""
        index = check_index(index, len(self), str(self.folder))
        out = np.empty((len(index), *self.sample_shape), dtype=np.float32)
        which = np.searchsorted(self.starts, index, side="right") - 1
        for s in np.unique(which):
            pos = np.flatnonzero(which == s)
            local = index[pos] - self.starts[s]
            shard = self.shards[s]
            if isinstance(shard, MemmapSource):
                out[pos] = shard.read(local)
                continue
            groups = np.searchsorted(shard.group_starts, local, side="right") - 1
            for g in np.unique(groups):
                at = np.flatnonzero(groups == g)
                out[pos[at]] = self._group(int(s), int(g))[local[at] - shard.group_starts[g]]
        return out

    @property
    def value_range(self) -> tuple[float, float]:
        """(0, 1) for uint8 .npy shards; else (min, max) from Parquet statistics when every
        row group has them, otherwise from one chunked scan."""
        if self._range is None:
            if self.kind == "npy-shards" and self.shards[0].dtype == np.uint8:
                self._range = (0.0, 1.0)
            elif self.kind == "npy-shards":
                ranges = [s.value_range for s in self.shards]
                self._range = (min(r[0] for r in ranges), max(r[1] for r in ranges))
            else:
                stats = [s.stats_range for s in self.shards]
                if all(r is not None for r in stats):
                    self._range = (min(r[0] for r in stats), max(r[1] for r in stats))
                else:
                    lo, hi = np.inf, -np.inf
                    for _, block in self.iter_chunks():
                        lo, hi = min(lo, float(block.min())), max(hi, float(block.max()))
                    self._range = (lo, hi)
        return self._range

    def describe(self) -> dict:
        """See `RowSource.describe`."""
        paths = [str(s.path) for s in self.shards]
        record = {
            "kind": self.kind, "path": str(self.folder), "paths": paths, "rows": len(self),
            "sample_shape": list(self.sample_shape), "bytes_on_disk": int(sum(s.file_size for s in self.shards)),
        }
        if self.columns is not None:
            record["columns"] = list(self.columns)
        return record


__all__ = ["PARQUET_CACHE_BYTES", "ShardSource"]
