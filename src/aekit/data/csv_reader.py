"""Reading a numeric CSV file into arrays: pandas for speed, the csv module for exact messages.

`read_csv_arrays` is what `aekit.data.files.load_csv` stands on. Two readers share one set of
rules (header detection, the label column, whole-number or named labels, no NaN or inf):

- the fast reader hands the rows to pandas' C parser in chunks of about `CHUNK_BYTES` of float32,
  each converted straight into one preallocated float32 array (no whole-file float64 table, no
  per-cell Python objects: on 100,000 × 785 MNIST-like rows it ran at pandas' own speed in
  less than half its memory, see benchmarks/csv_read.py and RESULTS.md);
- anything the fast reader does not accept as it stands (a non-numeric or empty cell, a ragged
  row, NaN or inf, bytes that are not UTF-8, a quoted line break in the first row, an unknown
  label column) is read again by the csv module, which applies the same rules cell by cell and
  names the line and column of the first problem in its DataError. Files it reads are read the
  same by both readers; it is slower, and only ever runs on files the fast reader refused.
"""
from __future__ import annotations

import codecs
import csv
import io
import os
from typing import BinaryIO, NamedTuple

import numpy as np

from aekit.data.limits import check_memory, open_data_file
from aekit.errors import DataError

CHUNK_BYTES = 32 << 20  # float32 bytes of rows per chunk handed to pandas (fewer, larger chunks were faster)


class CsvArrays(NamedTuple):
    """What `read_csv_arrays` returns.

    Attributes
    ----------
    X : numpy.ndarray
        The feature columns, N × D, float32 (fast reader) or float64 (csv module).
    y : numpy.ndarray or None
        The label column as float64 numbers (whole numbers are checked by the caller) or int64
        class indices; None without a label column.
    classes : list of str or None
        Sorted class names when the labels are not numbers.
    columns : list of str or None
        The feature columns' names when the file has a header row.
    """

    X: np.ndarray
    y: np.ndarray | None
    classes: list[str] | None
    columns: list[str] | None


def is_number(cell: str) -> bool:
    """Whether Python's float() reads the cell (what makes a first row data rather than a header).

    Examples
    --------
    >>> is_number(" 1e3 "), is_number("nan"), is_number("label")
    (True, True, False)
    """
    try:
        float(cell)
    except ValueError:
        return False
    return True


def read_csv_arrays(path, label_column: str | int | None = None,
                    memory_budget: int | float | str | None = None) -> CsvArrays:
    """The arrays of a numeric CSV file, optionally with a header row; `label_column` is y.

    Parameters
    ----------
    path : pathlib.Path
        The file, UTF-8 (a byte-order mark is allowed).
    label_column : str or int or None, default None
        The label column: a header name, or a column number (negative from the end).
    memory_budget : int, float, str or None, default None
        The most bytes the file may have (`aekit.data.limits.check_memory`).

    Returns
    -------
    CsvArrays

    Raises
    ------
    DataError
        Over the budget, unreadable, not UTF-8, malformed, empty, ragged, a non-numeric cell,
        NaN or inf, or an unknown label column; the message names the file (and the line and
        column where there is one).

    Examples
    --------
    >>> import tempfile; from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text("a,b,kind\\n1,2,cat\\n3,4,dog\\n")
    >>> out = read_csv_arrays(path, "kind")
    >>> out.X.tolist(), out.y.tolist(), out.classes, out.columns
    ([[1.0, 2.0], [3.0, 4.0]], [0, 1], ['cat', 'dog'], ['a', 'b'])
    """
    with open_data_file(path) as f:
        size = os.fstat(f.fileno()).st_size
        check_memory(size, str(path), "the file is", memory_budget)
        fast = _read_with_pandas(f, size, label_column)
        if fast is not None:
            return fast
        f.seek(0)
        try:
            raw = f.read()
        except OSError as exc:
            raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    return _read_with_csv_module(raw, path, label_column)


def spool_csv_arrays(path, target, label_column: str | int | None = None) -> CsvArrays:
    """A numeric CSV file too large for memory, read in chunks into the float32 ``.npy`` file
    `target` (its X is that file, memory-mapped); the labels are held in memory.

    Only the fast reader can do this: a file it refuses (see the module) is a DataError that says
    how to get the csv module's message naming the line (read it in memory: raise the budget).

    Examples
    --------
    >>> import tempfile; from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "t.csv").write_text("a,b,y\\n1,2,0\\n3,4,1\\n")
    >>> out = spool_csv_arrays(folder / "t.csv", folder / "t.npy", "y")
    >>> np.load(folder / "t.npy").tolist(), out.y.tolist() == [0, 1]
    ([[1.0, 2.0], [3.0, 4.0]], True)
    """
    sink = NpySink(target)
    with open_data_file(path) as f:
        size = os.fstat(f.fileno()).st_size
        try:
            arrays = _read_with_pandas(f, size, label_column, sink)
        except BaseException:
            if hasattr(sink, "file"):
                sink.abandon()
            raise
    if arrays is None:
        if hasattr(sink, "file"):
            sink.abandon()
        raise DataError(f"{path}: the file is over the memory budget, and its fast reading stopped at something "
                        "it does not take (a non-numeric or empty cell, NaN or inf, a ragged row, a quoted line "
                        "break, an unknown label column); raise --memory-budget to read it in memory for a "
                        "message naming the line")
    return arrays


# -- the fast reader ----------------------------------------------------------------------------
def _first_row(f: BinaryIO) -> tuple[list[str], int, bool] | None:
    """(cells, byte offset where the row starts, whether it is a header) of the first non-blank
    row, the file left just after it; None where the fast reader should not go on."""
    while True:
        start = f.tell()
        line = f.readline()
        if not line:
            return None
        if start == 0 and line.startswith(codecs.BOM_UTF8):
            line, start = line[len(codecs.BOM_UTF8):], len(codecs.BOM_UTF8)
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if text.count('"') % 2:  # a quoted field runs on to the next line: leave it to the csv module
            return None
        try:
            row = next(csv.reader([text]), [])
        except csv.Error:
            return None
        cells = [c.strip() for c in row]
        if cells and any(cells):
            return cells, start, not all(is_number(c) for c in cells)


def _label_index(label_column, header: list[str] | None, width: int) -> int | None:
    """The label column's number, or None when it cannot be resolved (the csv module then says why)."""
    try:
        return _checked_label_index("", label_column, header, width)
    except DataError:
        return None


class _ArraySink:
    """Where the fast reader puts its float32 rows: one preallocated array in memory (pages never
    written are never resident), shrunk in place at the end."""

    def allocate(self, capacity: int, width: int) -> None:
        self.X = np.empty((capacity, width), dtype=np.float32)

    def put(self, start: int, block: np.ndarray) -> None:
        self.X[start : start + len(block)] = block

    def finish(self, n: int) -> np.ndarray:
        self.X.resize((n, self.X.shape[1]), refcheck=False)  # in place: gives back the rows not used
        return self.X


class NpySink(_ArraySink):
    """The rows written to a float32 ``.npy`` file instead (for a file over the memory budget),
    opened memory-mapped at the end; its header is written first for the largest possible row
    count and rewritten, padded to the same length, for the rows read."""

    def __init__(self, path) -> None:
        self.path = path

    def _header(self, rows: int, width: int) -> bytes:
        return repr({"descr": "<f4", "fortran_order": False, "shape": (rows, width)}).encode("latin1")

    def allocate(self, capacity: int, width: int) -> None:
        self.width = width
        self.length = -(-(10 + len(self._header(capacity, width)) + 1) // 64) * 64 - 10  # aligned to 64
        self.file = open(self.path, "wb")
        self.file.write(self._framed(capacity))

    def _framed(self, rows: int) -> bytes:
        text = self._header(rows, self.width)
        return b"\x93NUMPY\x01\x00" + self.length.to_bytes(2, "little") + text + b" " * (self.length - len(text) - 1) + b"\n"

    def put(self, start: int, block: np.ndarray) -> None:
        self.file.write(np.ascontiguousarray(block, dtype="<f4").tobytes())

    def finish(self, n: int) -> np.ndarray:
        self.file.seek(0)
        self.file.write(self._framed(n))
        self.file.close()
        return np.load(self.path, mmap_mode="r")

    def abandon(self) -> None:
        """Close and remove the partial file (the reader refused the CSV)."""
        if not self.file.closed:
            self.file.close()
        os.unlink(self.path)


def _read_with_pandas(f: BinaryIO, size: int, label_column, sink: _ArraySink | None = None) -> CsvArrays | None:
    """The fast reader (see the module); None when the file needs the csv module. `sink` takes
    the rows (default: an array in memory)."""
    import pandas as pd

    first = _first_row(f)
    if first is None:
        return None
    cells, start, has_header = first
    header = cells if has_header else None
    width = len(cells)
    lab = _label_index(label_column, header, width)
    if label_column is not None and lab is None:
        return None
    features = [j for j in range(width) if j != lab]
    if not features:
        return None
    if not has_header:
        f.seek(start)
    # Every valid row has at least one character a cell and a separator after each: an upper
    # bound on the rows, allocated once (pages never written are never resident) and shrunk.
    capacity = (size - f.tell() + 1) // (2 * width) + 1
    sink = sink if sink is not None else _ArraySink()
    sink.allocate(capacity, len(features))
    labels: list[np.ndarray] = []
    # Parsed as float64 (pandas parses doubles; asking it for float32 was 15-26 % slower on an
    # MNIST-like file, RESULTS.md), then each chunk cast to float32, as the csv module's float() values are.
    dtypes = {j: (str if j == lab else np.float64) for j in range(width)}
    n = 0
    try:
        reader = pd.read_csv(f, header=None, sep=",", engine="c", dtype=dtypes, na_filter=False,
                             skip_blank_lines=True, index_col=False, encoding="utf-8",
                             chunksize=max(64, CHUNK_BYTES // (4 * width)))
        with reader, np.errstate(over="ignore", invalid="ignore"):  # beyond float32: inf, refused below
            for chunk in reader:
                m = len(chunk)
                if chunk.shape[1] != width or n + m > capacity:
                    return None
                block = chunk.iloc[:, features].to_numpy(dtype=np.float32)
                if not np.isfinite(block).all():  # NaN, inf, or beyond float32's range
                    return None
                sink.put(n, block)
                if lab is not None:
                    labels.append(chunk.iloc[:, lab].to_numpy(dtype=object))
                n += m
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - any refusal by pandas: the csv module reads it and says why
        return None
    if n == 0:
        return None
    X = sink.finish(n)
    y = classes = None
    if lab is not None:
        cells = [c.strip() for c in np.concatenate(labels)]
        if not all(cells):  # pandas pads a short (ragged) row with empty cells: let the csv module say
            return None
        y, classes = _labels(cells)
    return CsvArrays(X, y, classes, None if header is None else [header[j] for j in features])


def _labels(cells: list[str]) -> tuple[np.ndarray, list[str] | None]:
    """Numbers when every label cell is one, else class indices into the sorted names."""
    if all(is_number(c) for c in cells):
        return np.array(cells, dtype=np.float64), None
    names = sorted(set(cells))
    index = {c: i for i, c in enumerate(names)}
    return np.array([index[c] for c in cells], dtype=np.int64), [str(c) for c in names]


# -- the csv module: every rule checked cell by cell, with the line and column --------------------
def _read_with_csv_module(raw: bytes, path, label_column) -> CsvArrays:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    rows: list[list[str]] = []
    lines: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            rows.append([c.strip() for c in row])
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise DataError(f"{path}, line {reader.line_num}: malformed CSV ({exc})") from None
    if not rows:
        raise DataError(f"{path}: empty CSV file")
    header: list[str] | None = None
    if not all(is_number(c) for c in rows[0]):
        header = rows[0]
        rows, lines = rows[1:], lines[1:]
    if not rows:
        raise DataError(f"{path}: CSV has a header row but no data rows")
    width = len(header) if header is not None else len(rows[0])
    for row, line in zip(rows, lines):
        if len(row) != width:
            raise DataError(
                f"{path}, line {line}: ragged CSV: {len(row)} columns where the "
                f"{'header' if header is not None else 'first row'} has {width}"
            )
    lab = _checked_label_index(path, label_column, header, width)
    feature_cols = [j for j in range(width) if j != lab]
    if not feature_cols:
        raise DataError(f"{path}: no feature columns left besides the label column")
    cells = np.array(rows, dtype=object)
    feats = cells[:, feature_cols]
    try:
        X = np.array(feats, dtype=np.float64)
    except (ValueError, TypeError, OverflowError):
        for i, row in enumerate(feats):
            for jj, cell in enumerate(row):
                if not is_number(cell):
                    j = feature_cols[jj]
                    col = f"column {j + 1}" + (f" ({header[j]!r})" if header is not None else "")
                    raise DataError(f"{path}, line {lines[i]}, {col}: non-numeric value {cell!r}") from None
        raise DataError(f"{path}: non-numeric values") from None
    y, classes = (None, None) if lab is None else _labels(cells[:, lab].tolist())
    bad = ~np.isfinite(X)
    if bad.any():
        i = int(np.argmax(bad.any(axis=1)))
        raise DataError(f"{path}: {int(bad.sum())} NaN or inf value(s), the first on line {lines[i]}")
    return CsvArrays(X, y, classes, None if header is None else [header[j] for j in feature_cols])


def _checked_label_index(path, label_column, header: list[str] | None, width: int) -> int | None:
    """The label column's number; DataError saying why it is not a column."""
    if label_column is None:
        return None
    if header is not None and str(label_column) in header:
        return header.index(str(label_column))
    try:
        lab = int(label_column)
    except (TypeError, ValueError):
        if header is None:
            raise DataError(
                f"{path}: label column {label_column!r} not found: the file has no header row "
                "(give the column's number instead)"
            ) from None
        raise DataError(f"{path}: label column {label_column!r} not found; columns are {header}") from None
    if not -width <= lab < width:
        raise DataError(f"{path}: label column {label_column!r} out of range ({width} columns)")
    return lab % width


# -- Parquet: one table file, read whole (a folder of Parquet shards streams: aekit.data.shards) ----------
def read_parquet_arrays(path, label_column: str | int | None = None,
                        memory_budget: int | float | str | None = None) -> CsvArrays:
    """The arrays of a numeric Parquet file, as `read_csv_arrays` gives a CSV's: every column but
    `label_column` a feature (numbers or booleans), the label column as y (class indices into
    sorted names when its values are not all numbers).

    Raises
    ------
    DataError
        Not a readable Parquet file, over the memory budget (its values as float32), no rows,
        an unknown label column, a column that is not numeric (named; a table of mixed columns
        is for ``aekit detect fit``), or NaN, inf or a missing value (its column and row named).

    Examples
    --------
    >>> import tempfile, pandas as pd; from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "t.parquet"
    >>> pd.DataFrame({"a": [1, 3], "b": [2.0, 4.0], "kind": ["cat", "dog"]}).to_parquet(path)
    >>> out = read_parquet_arrays(path, "kind")
    >>> out.X.tolist(), out.y.tolist(), out.classes, out.columns
    ([[1.0, 2.0], [3.0, 4.0]], [0, 1], ['cat', 'dog'], ['a', 'b'])
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table_file = pq.ParquetFile(path)
        meta = table_file.metadata
        check_memory(int(meta.num_rows) * int(meta.num_columns) * 4, str(path),
                     f"{meta.num_rows} rows × {meta.num_columns} columns as float32 are", memory_budget)
        df = table_file.read().to_pandas()
    except DataError as exc:  # over the budget: a folder of shards is the way that streams
        raise DataError(f"{exc}; or put the file in a folder of its own and give the folder: Parquet shards "
                        "stream from disk") from None
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{path}: not a readable Parquet file ({type(exc).__name__}: {exc})") from None
    header = [str(c) for c in df.columns]
    if len(df) == 0 or not header:
        raise DataError(f"{path}: the table has no rows")
    lab = _checked_label_index(path, label_column, header, len(header))
    features = [j for j in range(len(header)) if j != lab]
    other = [header[j] for j in features if df.dtypes.iloc[j].kind not in "biuf"]
    if other:
        raise DataError(f"{path}: column(s) {other} are not numeric; a model trains on numeric columns (give a "
                        "label column with --label-column); `aekit detect fit` reads tables of mixed columns")
    X = df.iloc[:, features].to_numpy(dtype=np.float32)
    bad = ~np.isfinite(X)
    if bad.any():
        row, col = (int(v[0]) for v in np.nonzero(bad))
        raise DataError(f"{path}: NaN, inf or a missing value in column {header[features[col]]!r}, row {row} "
                        "(from 0)")
    y, classes = (None, None) if lab is None else _labels([str(v) for v in df.iloc[:, lab].tolist()])
    return CsvArrays(X, y, classes, [header[j] for j in features])


__all__ = ["CHUNK_BYTES", "CsvArrays", "NpySink", "is_number", "read_csv_arrays", "read_parquet_arrays",
           "spool_csv_arrays"]
