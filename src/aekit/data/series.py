"""Time series: reading CSV, Parquet, .npy and DataFrames into C×T series with their masks
(windowing and per-channel standardization are in `aekit.data.windows`).

A series is a float32 array of shape C×T (channels × time steps); a set of them is N×C×T.
`frame` cuts (..., C, T) into (..., F, C, L) windows and `overlap_add` puts such windows back
together; `ChannelScaler` learns one mean and standard deviation per channel on training data.

Choices for inputs that are not what was asked for (all documented on `read_series`):

- a time column that does not strictly increase (a step back or a repeated time) is a
  `DataError` naming the data row;
- gaps (a time step over 1.5× the median step) are an error by default; ``gaps="mask"`` fills
  the missing steps on the regular grid as masked values, ``gaps="ignore"`` keeps the rows
  back to back with an `AekitWarning`;
- NaN is an error by default (naming the row and channel); ``nan="mask"`` keeps it as a masked
  value instead: the value becomes 0 and `SeriesData.mask` is False there, for a masked loss
  (``frame(mask, ...)`` windows the mask alongside the values). inf is always an error;
- a window longer than the series is a `DataError` (`frame`).
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aekit.errors import AekitWarning, ConfigError, DataError

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
NAN_MODES = ("error", "mask")
GAP_MODES = ("error", "mask", "ignore")
GAP_FACTOR = 1.5  # a step over 1.5× the median step is a gap
MAX_FILL_FACTOR = 10  # gaps="mask" refuses to make a series more than 10× longer


@dataclass
class SeriesData:
    """Series read by `read_series`.

    Attributes
    ----------
    values : np.ndarray
        float32, shape (N, C, T); N = 1 for a table. Masked entries hold 0.
    mask : np.ndarray or None
        bool, shape (N, C, T), True where a value was observed; None unless ``nan="mask"`` or
        ``gaps="mask"`` was asked for.
    channels : list of str
        One name per channel (the column names; "0", "1", ... for arrays).
    time : np.ndarray or None
        The time of each step, shape (T,) (datetime64[ns] or float64); None without a time column.
    step : float or None
        The regular (median) time step, in the column's unit (seconds for date-times); None
        without a time column or with fewer than two rows.
    source : str
        Where the data came from (a path, "DataFrame" or "array").
    """

    values: np.ndarray
    mask: np.ndarray | None
    channels: list[str]
    time: np.ndarray | None = None
    step: float | None = None
    source: str = "array"

    @property
    def n_channels(self) -> int:
        """C, the number of channels."""
        return int(self.values.shape[1])

    def __len__(self) -> int:
        return int(self.values.shape[0])


# ----------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------
def _check_mode(value: str, modes: tuple[str, ...], what: str) -> str:
    if value not in modes:
        raise ConfigError(f"{what} must be one of {', '.join(map(repr, modes))}, got {value!r}")
    return value


def _read_table(path: Path):
    import pandas as pd

    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: empty file") from None
    except Exception as exc:  # pandas/pyarrow raise many types for malformed files
        kind = "CSV" if suffix == ".csv" else "Parquet"
        raise DataError(f"{path}: not a readable {kind} file ({type(exc).__name__}: {exc})") from None


def _time_values(col, name: str, src: str) -> tuple[np.ndarray, bool]:
    """The time column as int64 nanoseconds (date-times) or float64 numbers; (values, is_datetime)."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        t = pd.to_datetime(col)
    elif pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        t = None
    else:
        try:
            t = pd.to_datetime(col, format="ISO8601")
        except (ValueError, TypeError):
            bad = next((i for i, v in enumerate(col) if not _parses_as_time(v)), None)
            if bad is None:
                raise DataError(f"{src}: time column {name!r} mixes numbers and date-times") from None
            raise DataError(
                f"{src}: time column {name!r} holds {col.iloc[bad]!r} at data row {bad + 1}, "
                "neither a number nor an ISO 8601 date-time"
            ) from None
    if t is None:
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = ~np.isfinite(values)
    else:
        if getattr(t.dt, "tz", None) is not None:
            t = t.dt.tz_convert("UTC").dt.tz_localize(None)
        missing = t.isna().to_numpy()
        values = t.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    if missing.any():
        i = int(np.argmax(missing))
        raise DataError(f"{src}: time column {name!r} is missing or not finite at data row {i + 1}")
    return values, t is not None


def _parses_as_time(v: Any) -> bool:
    """Whether one cell is a number or an ISO 8601 date-time (to name the first one that is not)."""
    import pandas as pd

    try:
        float(v)
        return True
    except (ValueError, TypeError):
        pass
    try:
        pd.to_datetime(v, format="ISO8601")
    except (ValueError, TypeError):
        return False
    return True


def _channel_columns(df, time_column: str | None, columns, src: str) -> list:
    import pandas as pd

    names = list(df.columns)
    if columns is None:
        chosen = [c for c in names if c != time_column]
    else:
        if isinstance(columns, (str, bytes)):
            columns = [columns]
        chosen = list(columns)
        missing = [c for c in chosen if c not in names]
        if missing:
            raise DataError(f"{src}: column(s) {missing} not found; columns are {names}")
        if time_column is not None and time_column in chosen:
            raise ConfigError(f"{src}: {time_column!r} is the time column and cannot also be a channel")
    if not chosen:
        raise DataError(f"{src}: no channel columns (columns are {names})")
    for c in chosen:
        dtype = df[c].dtype
        if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
            bad = next((v for v in df[c] if pd.isna(pd.to_numeric(v, errors="coerce")) and not pd.isna(v)), None)
            raise DataError(
                f"{src}: column {c!r} is not numeric (holds {bad!r}); fix the cell, or leave the column out (columns=[...])"
            )
    return chosen


def _fill_gaps(values: np.ndarray, mask: np.ndarray, t: np.ndarray, step: float, gap_rows: np.ndarray, src: str):
    """Put the C×T samples on the regular grid; returns (values, mask, times), unfilled steps masked."""
    diffs = np.diff(t).astype(np.float64)
    steps = np.maximum(np.rint(diffs / step), 1).astype(np.int64)
    pos = np.concatenate([[0], np.cumsum(steps)])
    total = int(pos[-1]) + 1
    if total > MAX_FILL_FACTOR * len(t):
        raise DataError(
            f"{src}: filling the gaps would make the series {total} steps long from {len(t)} rows "
            f"(the first gap follows data row {int(gap_rows[0]) + 1}); check the time column's unit"
        )
    out = np.zeros((values.shape[0], total), dtype=values.dtype)
    out[:, pos] = values
    observed = np.zeros((values.shape[0], total), dtype=bool)
    observed[:, pos] = mask
    if t.dtype.kind == "i":  # date-times in int64 ns: stay in integers (float64 loses ns)
        grid = t[0] + np.arange(total, dtype=np.int64) * np.int64(round(step))
    else:
        grid = t[0] + np.arange(total, dtype=np.float64) * step
    grid[pos] = t  # observed steps keep their own time (jitter below half a step is absorbed)
    return out, observed, grid


def _check_time(values: np.ndarray, mask: np.ndarray | None, t: np.ndarray, is_dt: bool, name: str, gaps: str,
                src: str):
    """Order and gap checks on C×T values; returns (values, mask, time, step)."""
    if len(t) < 2:
        return values, mask, t, None
    diffs = np.diff(t)
    back = diffs <= 0
    if back.any():
        i = int(np.argmax(back)) + 1
        fmt = (lambda v: str(np.datetime64(int(v), "ns"))) if is_dt else (lambda v: f"{v:g}")
        what = "repeats" if diffs[i - 1] == 0 else "goes back"
        raise DataError(
            f"{src}: time column {name!r} {what} at data row {i + 1} ({fmt(t[i - 1])} then {fmt(t[i])}); "
            "sort the rows by time and drop duplicates"
        )
    step = float(np.median(diffs.astype(np.float64)))
    gap_rows = np.flatnonzero(diffs > GAP_FACTOR * step)
    if len(gap_rows):
        unit = 1e-9 if is_dt else 1.0
        i = int(gap_rows[0])
        desc = (f"{len(gap_rows)} gap(s) in time column {name!r}, the first after data row {i + 1} "
                f"(a step of {float(diffs[i]) * unit:g} where the series steps {step * unit:g})")
        if gaps == "error":
            raise DataError(f"{src}: {desc}; pass gaps='mask' (--gaps mask) to fill them as missing "
                            "values or gaps='ignore' (--gaps ignore) to join the rows back to back")
        if gaps == "ignore":
            warnings.warn(f"{src}: {desc}; the rows are joined back to back", AekitWarning, stacklevel=4)
        else:
            values, mask, t = _fill_gaps(values, mask, t, step, gap_rows, src)
    return values, mask, t, step * (1e-9 if is_dt else 1.0)


def _nan_rule(values: np.ndarray, nan: str, want_mask: bool, channels: list[str], src: str,
              series_axis: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """values N×C×T float64: inf is an error; NaN an error or masked (value 0, mask False)."""
    nans = np.isnan(values)
    for bad, kind in ((np.isinf(values), "inf"), (nans if nan == "error" else None, "NaN")):
        if bad is None or not bad.any():
            continue
        n, c, t = (int(v[0]) for v in np.nonzero(bad))
        where = (f"series {n}, " if series_axis else "") + f"channel {channels[c]!r}, " + (
            f"step {t}" if series_axis else f"data row {t + 1}")
        hint = " (pass nan='mask' to keep NaN as masked values)" if kind == "NaN" else ""
        raise DataError(f"{src}: {int(bad.sum())} {kind} value(s), the first at {where}{hint}")
    if not want_mask:
        return values, None
    return np.where(nans, 0.0, values), ~nans


def _to_float32(values: np.ndarray, src: str) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.ascontiguousarray(values, dtype=np.float32)
    if not np.isfinite(out).all():
        raise DataError(f"{src}: value(s) too large for float32 (beyond ±3.4e38)")
    return out


def _from_frame(df, src: str, time_column, columns, nan: str, gaps: str) -> SeriesData:
    if len(df.columns) == 0 or len(df) == 0:
        raise DataError(f"{src}: empty table (shape {df.shape})")
    names = list(df.columns)
    if time_column is not None and time_column not in names:
        raise DataError(f"{src}: time column {time_column!r} not found; columns are {names}")
    chosen = _channel_columns(df, time_column, columns, src)
    channels = [str(c) for c in chosen]
    values = df[chosen].to_numpy(dtype=np.float64, na_value=np.nan).T[None]  # 1×C×T
    values, mask = _nan_rule(values, nan, nan == "mask" or gaps == "mask", channels, src, False)
    time = step = None
    if time_column is not None:
        t, is_dt = _time_values(df[time_column], str(time_column), src)
        full = np.ones(values.shape[1:], dtype=bool) if mask is None else mask[0]
        v, m, t, step = _check_time(values[0], full, t, is_dt, str(time_column), gaps, src)
        values, mask = v[None], (None if mask is None else m[None])
        time = t.astype("datetime64[ns]") if is_dt else t
    return SeriesData(_to_float32(values, src), mask, channels, time, step, src)


def _from_array(arr: np.ndarray, src: str, columns, nan: str) -> SeriesData:
    arr = np.asarray(arr)
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{src}: data must be numeric, got dtype {arr.dtype}")
    if arr.size == 0:
        raise DataError(f"{src}: empty data (shape {arr.shape})")
    if arr.ndim == 1:
        arr = arr[None, None, :]
    elif arr.ndim == 2:
        arr = arr[None]
    elif arr.ndim != 3:
        raise DataError(f"{src}: expected T, C×T or N×C×T, got shape {arr.shape}")
    channels = [str(i) for i in range(arr.shape[1])]
    if columns is not None:
        idx = [columns] if isinstance(columns, (int, np.integer)) else list(columns)
        if not idx or not all(isinstance(i, (int, np.integer)) and -len(channels) <= i < len(channels) for i in idx):
            raise ConfigError(
                f"{src}: columns of an array are channel numbers in [-{len(channels)}, {len(channels)}), "
                f"got {columns!r}"
            )
        arr = arr[:, idx]
        channels = [channels[i] for i in idx]
    values, mask = _nan_rule(arr.astype(np.float64), nan, nan == "mask", channels, src, True)
    return SeriesData(_to_float32(values, src), mask, channels, None, None, src)


def read_series(source: str | os.PathLike | Any, *, time_column: str | None = None, columns=None,
                nan: str = "error", gaps: str = "error") -> SeriesData:
    """Read time series from a CSV, Parquet or .npy file, a pandas DataFrame or a numpy array.

    Tables (CSV with a header row, Parquet, DataFrame) hold one series: one column per channel,
    one row per time step, optionally a time column (numbers or ISO 8601 date-times; time
    zones are converted to UTC). Arrays hold N×C×T series (C×T: one series; T: one channel).
    Rows in messages are data rows counted from 1, the header not counted.

    Parameters
    ----------
    source : str, path-like, pandas.DataFrame or np.ndarray
        The data. Files are chosen by suffix: .csv, .parquet / .pq, .npy.
    time_column : str or None, default None
        The name of the time column (tables only). It must strictly increase; its median step
        is the series' regular step. None: the rows are taken in order, unchecked.
    columns : list or None, default None
        The channels: column names for tables (default: every column but the time column; all
        must be numeric), channel numbers for arrays (default: all).
    nan : {"error", "mask"}, default "error"
        "error": NaN is a `DataError` naming its row and channel. "mask": NaN becomes 0 and
        `SeriesData.mask` False there, for a loss that skips masked values.
    gaps : {"error", "mask", "ignore"}, default "error"
        A gap is a time step over 1.5× the median step. "error": a `DataError` naming the first.
        "mask": the missing steps are inserted on the regular grid as masked values (steps within
        half a step of the grid snap to it; a fill over 10× the length is refused). "ignore":
        the rows are joined back to back, with an `AekitWarning`.

    Returns
    -------
    SeriesData
        values (N×C×T float32), mask, channel names, time, step and source.

    Raises
    ------
    DataError
        Unreadable or empty file, missing or non-numeric column, a time column that repeats or
        goes back, a gap (with ``gaps="error"``), NaN (with ``nan="error"``) or inf.
    ConfigError
        An unknown `nan` or `gaps` mode, a time column given for an array, bad `columns`.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"t": [0.0, 0.1, 0.2, 0.4], "a": [1, 2, 3, 5], "b": [0, 0, 1, 1]})
    >>> s = read_series(df, time_column="t", gaps="mask")
    >>> s.values.shape, s.channels, s.step
    ((1, 2, 5), ['a', 'b'], 0.1)
    >>> s.mask[0, 0].tolist()
    [True, True, True, False, True]
    """
    nan = _check_mode(nan, NAN_MODES, "nan")
    gaps = _check_mode(gaps, GAP_MODES, "gaps")
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return _from_frame(source, str(source.attrs.get("source", "DataFrame")), time_column, columns, nan, gaps)
    if isinstance(source, np.ndarray):
        if time_column is not None:
            raise ConfigError("an array has no time column; give time_column only for tables")
        return _from_array(source, "array", columns, nan)
    if not isinstance(source, (str, os.PathLike)):
        raise DataError(f"cannot read series from a {type(source).__name__}; give a path, DataFrame or array")
    path = Path(source).expanduser()
    suffix = path.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return _from_frame(_read_table(path), str(path), time_column, columns, nan, gaps)
    if suffix == ".npy":
        if time_column is not None:
            raise ConfigError(f"{path}: a .npy array has no time column; give time_column only for tables")
        try:
            arr = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise DataError(f"{path}: file not found") from None
        except Exception as exc:  # numpy raises many types for corrupt files
            raise DataError(f"{path}: not a readable .npy file ({type(exc).__name__}: {exc})") from None
        if not isinstance(arr, np.ndarray):
            raise DataError(f"{path}: not a .npy array file")
        return _from_array(arr, str(path), columns, nan)
    raise DataError(f"{path}: unknown file type {suffix or '(no suffix)'}; supported: .csv, .parquet, .pq, .npy")


__all__ = ["GAP_MODES", "NAN_MODES", "SeriesData", "read_series"]
