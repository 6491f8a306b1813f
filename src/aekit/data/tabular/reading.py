"""Reading a table file with pandas / pyarrow, whole or in chunks, each problem ending in one
DataError that names the file."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aekit.errors import ConfigError, DataError

CSV_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
_PANDAS_MAJOR = int(pd.__version__.split(".")[0])


def table_format(path: str | Path) -> str:
    """The table format a file name implies: ``"csv"``, ``"tsv"`` or ``"parquet"``.

    Parameters
    ----------
    path : str or path-like
        A file name; only its suffix is looked at.

    Returns
    -------
    str
        ``"csv"``, ``"tsv"`` or ``"parquet"``.

    Raises
    ------
    DataError
        For any other suffix.

    Examples
    --------
    >>> table_format("data/train.csv.gz"), table_format("t.parquet")
    ('csv', 'parquet')
    """
    name = Path(path).name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith((".tsv", ".tsv.gz")):
        return "tsv"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    raise DataError(
        f"{path}: not a table file; supported: {', '.join(CSV_SUFFIXES + PARQUET_SUFFIXES)}"
    )


def _check_columns_arg(columns: Sequence[str] | None) -> list[str] | None:
    if columns is None:
        return None
    if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
        raise ConfigError(f"columns must be a list of column names, got {columns!r}")
    return list(columns)


def _require(path: Path, present: Sequence[str], wanted: list[str] | None) -> None:
    if wanted is None:
        return
    missing = [c for c in wanted if c not in present]
    if missing:
        raise DataError(f"{path}: no column(s) {', '.join(map(repr, missing))}; the file has {list(present)}")


def _csv_error(path: Path, exc: BaseException) -> DataError:
    if isinstance(exc, pd.errors.EmptyDataError):
        return DataError(f"{path}: empty file (no header row, no data)")
    if isinstance(exc, UnicodeDecodeError):
        return DataError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})")
    if isinstance(exc, pd.errors.ParserError):
        return DataError(f"{path}: malformed CSV ({str(exc).strip()})")
    if isinstance(exc, OSError):
        return DataError(f"{path}: cannot read file ({exc.strerror or exc})")
    return DataError(f"{path}: not a readable CSV file ({type(exc).__name__}: {exc})")


def _read_csv(path: Path, sep: str, chunksize: int | None, columns: list[str] | None):
    try:
        if path.stat().st_size == 0:
            raise DataError(f"{path}: empty file (0 bytes)")
        header = pd.read_csv(path, sep=sep, nrows=0)
    except DataError:
        raise
    except Exception as exc:  # pandas raises many types for unreadable files
        raise _csv_error(path, exc) from None
    _require(path, [str(c) for c in header.columns], columns)
    # low_memory=False: one dtype per column (per chunk) without DtypeWarning
    kw: dict[str, Any] = dict(sep=sep, usecols=columns, low_memory=False)
    if _PANDAS_MAJOR < 3:
        # so a float written by pandas reads back exactly (pandas 3 does so by default)
        kw["float_precision"] = "round_trip"
    header_only = DataError(f"{path}: the file has a header row but no data rows")
    if chunksize is None:
        try:
            df = pd.read_csv(path, **kw)
        except Exception as exc:
            raise _csv_error(path, exc) from None
        if len(df) == 0:
            raise header_only
        return df
    try:
        reader = pd.read_csv(path, chunksize=chunksize, **kw)
        first = next(reader, None)
    except Exception as exc:
        raise _csv_error(path, exc) from None
    if first is None or len(first) == 0:
        reader.close()
        raise header_only
    return _csv_chunks(path, reader, first)


def _csv_chunks(path: Path, reader, first: pd.DataFrame) -> Iterator[pd.DataFrame]:
    with reader:
        yield first
        while True:
            try:
                chunk = next(reader)
            except StopIteration:
                return
            except Exception as exc:  # a malformed line further down the file
                raise _csv_error(path, exc) from None
            yield chunk


def _parquet_file(path: Path):
    import pyarrow.parquet as pq

    try:
        if path.stat().st_size == 0:
            raise DataError(f"{path}: empty file (0 bytes)")
        return pq.ParquetFile(path)
    except DataError:
        raise
    except OSError as exc:
        if exc.errno is not None:
            raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
    except Exception as exc:  # pyarrow.ArrowInvalid and friends
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from None


def _read_parquet(path: Path, chunksize: int | None, columns: list[str] | None):
    pf = _parquet_file(path)
    try:
        _require(path, pf.schema_arrow.names, columns)
        if pf.metadata.num_rows == 0:
            raise DataError(f"{path}: the file has columns but no data rows")
        if chunksize is not None:
            return _parquet_chunks(path, pf, chunksize, columns)
        try:
            table = pf.read(columns=columns)
        except Exception as exc:
            raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
    except BaseException:
        pf.close()
        raise
    pf.close()
    # date_as_object=False: dates arrive as datetime64, as they would from a parsed CSV
    return table.to_pandas(date_as_object=False)


def _parquet_chunks(path: Path, pf, chunksize: int, columns: list[str] | None) -> Iterator[pd.DataFrame]:
    start = 0
    batches = pf.iter_batches(batch_size=chunksize, columns=columns)
    try:
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except Exception as exc:
                raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
            df = batch.to_pandas(date_as_object=False)
            # continue the row numbers across batches, as pandas' CSV chunks do
            df.index = pd.RangeIndex(start, start + len(df))
            start += len(df)
            yield df
    finally:
        pf.close()


def read_table(
    path: str | Path, *, chunksize: int | None = None, columns: Sequence[str] | None = None
) -> pd.DataFrame | Iterator[pd.DataFrame]:
    """Read a CSV or Parquet table with pandas / pyarrow, whole or in chunks.

    Parameters
    ----------
    path : str or path-like
        A ``.csv`` (also ``.tsv``, ``.csv.gz``, ``.csv.bz2``, ``.csv.xz``, ``.csv.zip``) or
        ``.parquet`` / ``.pq`` file. CSV must be UTF-8 with a header row.
    chunksize : int or None, default None
        None reads the whole file into one DataFrame. A positive int returns an iterator of
        DataFrames of at most that many rows, so a file larger than memory is never loaded
        whole (CSV through pandas' chunked reader, Parquet through pyarrow record batches).
    columns : list of str or None, default None
        Read only these columns (by name); None reads all.

    Returns
    -------
    pandas.DataFrame or iterator of pandas.DataFrame
        Rows are indexed 0, 1, ... from the first data row, continuing across chunks.

    Raises
    ------
    DataError
        The file is missing, unreadable, empty, has a header but no rows, lacks a requested
        column, or has an unsupported suffix. In chunked mode these are raised by the call
        itself; a malformed line further down the file raises while iterating.
    ConfigError
        For a chunksize that is not a positive int, or columns that are not names.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]}).to_csv(f"{folder}/t.csv", index=False)
    >>> read_table(f"{folder}/t.csv").shape
    (3, 2)
    >>> [len(chunk) for chunk in read_table(f"{folder}/t.csv", chunksize=2)]
    [2, 1]
    """
    path = Path(path).expanduser()
    fmt = table_format(path)
    if chunksize is not None and (
        isinstance(chunksize, bool) or not isinstance(chunksize, (int, np.integer)) or chunksize < 1
    ):
        raise ConfigError(f"chunksize must be a positive integer or None, got {chunksize!r}")
    columns = _check_columns_arg(columns)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a {fmt} file")
    chunksize = None if chunksize is None else int(chunksize)
    if fmt == "parquet":
        return _read_parquet(path, chunksize, columns)
    return _read_csv(path, "\t" if fmt == "tsv" else ",", chunksize, columns)

