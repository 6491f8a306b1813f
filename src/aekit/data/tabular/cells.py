"""Reading one column's cells as its kind needs them: numbers, one-hot level codes, dates,
the parts of a date, and inferring a column's kind. Bad cells raise one DataError naming the
row and column, or become missing values with errors="coerce"."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from aekit.errors import DataError

# A text column is numeric when at least this share of its non-missing cells parse as numbers;
# the rest are then bad cells (an error, or missing values with errors="coerce").
NUMERIC_TEXT_SHARE = 0.9
_BOOL_WORDS = {
    "true": "True", "t": "True", "yes": "True", "y": "True", "1": "True",
    "false": "False", "f": "False", "no": "False", "n": "False", "0": "False",
}
_EPOCH = pd.Timestamp("1970-01-01")


def _row(s: pd.Series, i: int):
    label = s.index[i]
    return label.item() if isinstance(label, np.generic) else label


def bad_cells(s: pd.Series, name: str, bad: np.ndarray, what: str, errors: str) -> None:
    """Raise one DataError for the first bad cell, naming its row and column.

    Parameters
    ----------
    s : pandas.Series
        The column (its index labels are the rows named).
    name : str
        The column's name.
    bad : numpy.ndarray of bool
        The bad cells.
    what : str
        What a cell should be, e.g. "a finite number".
    errors : {"raise", "coerce"}
        With "coerce" nothing is raised: the caller reads the cells as missing.
    """
    if errors == "raise" and bad.any():
        i = int(np.argmax(bad))
        value = s.iloc[i]
        value = value.item() if isinstance(value, np.generic) else value
        n = int(bad.sum())
        more = f" ({n} such cells in this column)" if n > 1 else ""
        raise DataError(
            f"column {name!r}, row {_row(s, i)}: {value!r} is not {what}{more}; "
            "pass errors='coerce' to read such cells as missing values"
        )


def text_cells(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Cells of an object/str column with surrounding blanks stripped, and the missing mask.

    Parameters
    ----------
    s : pandas.Series
        An object or string column.

    Returns
    -------
    (pandas.Series, numpy.ndarray of bool)
        The stripped cells (non-strings unchanged) and where they are missing: NaN, None, NA
        or blank.
    """
    if ptypes.infer_dtype(s, skipna=True) in ("string", "mixed", "mixed-integer"):
        stripped = s.str.strip()
        s = stripped.where(stripped.notna(), s)  # non-strings in a mixed column stay as they are
        miss = (s.isna() | (s == "")).to_numpy(dtype=bool)
    else:
        miss = s.isna().to_numpy(dtype=bool)
    return s, miss


def _is_datetime(s: pd.Series) -> bool:
    return ptypes.is_datetime64_any_dtype(s.dtype)


def numeric_cells(s: pd.Series, name: str, errors: str) -> tuple[np.ndarray, np.ndarray]:
    """A numeric column's cells as float64, whatever dtype they arrive in.

    Parameters
    ----------
    s : pandas.Series
        The column: numbers, booleans, or text (a CSV column with one text cell).
    name : str
        The column's name, for messages.
    errors : {"raise", "coerce"}
        A cell that is no finite number (text, inf) raises, or is read as missing.

    Returns
    -------
    (numpy.ndarray of float64, numpy.ndarray of bool)
        The values (NaN where missing) and the missing mask.
    """
    if _is_datetime(s) or ptypes.is_timedelta64_dtype(s.dtype):
        raise DataError(f"column {name!r} holds dates/times ({s.dtype}), not numbers")
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if ptypes.is_bool_dtype(s.dtype) or (ptypes.is_numeric_dtype(s.dtype) and not ptypes.is_complex_dtype(s.dtype)):
        v = s.to_numpy(dtype=np.float64, na_value=np.nan)
        miss = np.isnan(v)
        bad = np.isinf(v)
    else:
        s, miss = text_cells(s)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            v = pd.to_numeric(s.where(~miss), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~miss & ~np.isfinite(v)
    if bad.any():
        bad_cells(s, name, bad, "a finite number", errors)
        v = v.copy()
        v[bad] = np.nan
        miss = miss | bad
    return v, miss


def _canon_scalar(v: Any) -> str | None:
    """A level's canonical text: blanks stripped (None when blank), booleans as True/False,
    integral floats without '.0' (so 3, 3.0 and " 3" are one level)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, str):
        return v.strip() or None
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return str(int(v))
    return str(v)


def category_codes(s: pd.Series, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A categorical or boolean column's cells as codes into its distinct canonical levels.

    Only the distinct values are canonicalized (in Python); the per-row work is pandas'
    hashing, so long tables stay fast.

    Parameters
    ----------
    s : pandas.Series
        The column, of any dtype.
    kind : {"categorical", "boolean"}
        "boolean" also reads yes/no, t/f and 1/0 as True/False.

    Returns
    -------
    codes : numpy.ndarray of int
        Per row, the index of its distinct value; -1 where missing (blanks included).
    values : numpy.ndarray of object
        The distinct values as they came.
    levels : numpy.ndarray of object
        Their canonical text (3, 3.0 and " 3" all give "3"); None for blanks.
    """
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    values = np.asarray(uniques, dtype=object)
    levels = np.array([_canon_scalar(v) for v in values], dtype=object)
    if kind == "boolean":
        # yes/no, t/f, 1/0 read as booleans; other text stays and lands in the unseen slot
        levels = np.array([None if lv is None else _BOOL_WORDS.get(lv.lower(), lv) for lv in levels], dtype=object)
    blank = np.array([lv is None for lv in levels], dtype=bool)
    if blank.any():
        hit = codes >= 0
        hit[hit] = blank[codes[hit]]
        codes = np.where(hit, -1, codes)
    return codes, values, levels


def datetime_cells(s: pd.Series, name: str, errors: str) -> tuple[pd.Series, np.ndarray]:
    """A datetime column's cells as naive UTC datetimes.

    Parameters
    ----------
    s : pandas.Series
        Datetimes (time-zone-aware ones are converted to UTC), or ISO 8601 text.
    name : str
        The column's name, for messages.
    errors : {"raise", "coerce"}
        A cell that is no date/time raises, or is read as missing.

    Returns
    -------
    (pandas.Series, numpy.ndarray of bool)
        datetime64 values (NaT where missing) and the missing mask.
    """
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        t = s.dt.tz_convert("UTC").dt.tz_localize(None)
        return t, t.isna().to_numpy(dtype=bool)
    if _is_datetime(s):
        return s, s.isna().to_numpy(dtype=bool)
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if ptypes.is_numeric_dtype(s.dtype) or ptypes.is_bool_dtype(s.dtype):
        # numbers are no dates; an all-missing column read as float is only missing cells
        miss = s.isna().to_numpy(dtype=bool)
        t = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
        bad = ~miss
    else:
        s, miss = text_cells(s)
        # non-strings (datetime.date objects, numbers) go in as text: to_datetime with a format
        # takes strings and datetime objects alike, and text keeps numbers from being epochs
        cells = s.where(~miss)
        if ptypes.infer_dtype(cells, skipna=True) != "string":
            cells = cells.map(lambda v: v if isinstance(v, (str, pd.Timestamp)) else str(v), na_action="ignore")
        t = pd.to_datetime(cells, format="ISO8601", utc=True, errors="coerce").dt.tz_localize(None)
        bad = ~miss & t.isna().to_numpy(dtype=bool)
    if bad.any():
        bad_cells(s, name, bad, "a date/time (ISO 8601, like 2024-01-31 or 2024-01-31T12:00)", errors)
        miss = miss | bad
        t = t.where(~bad)
    return t, miss


def datetime_parts(t: pd.Series) -> dict[str, np.ndarray]:
    """The numeric parts of datetimes, in `DATETIME_PARTS` order.

    Parameters
    ----------
    t : pandas.Series of datetime64
        Naive datetimes (NaT where missing).

    Returns
    -------
    dict of str to numpy.ndarray
        Days since 1970 and the sine/cosine of the day of the year, the weekday and the time
        of day; NaN where `t` is NaT.
    """
    def arr(x) -> np.ndarray:
        return x.to_numpy(dtype=np.float64, na_value=np.nan)

    days = arr((t - _EPOCH) / pd.Timedelta(days=1))
    year = 2 * np.pi * (arr(t.dt.day_of_year) - 1.0) / 365.25
    week = 2 * np.pi * arr(t.dt.day_of_week) / 7.0
    secs = arr(t.dt.hour) * 3600.0 + arr(t.dt.minute) * 60.0 + arr(t.dt.second) + arr(t.dt.microsecond) * 1e-6
    day = 2 * np.pi * secs / 86400.0
    return {
        "elapsed_days": days, "year_sin": np.sin(year), "year_cos": np.cos(year),
        "week_sin": np.sin(week), "week_cos": np.cos(week), "day_sin": np.sin(day), "day_cos": np.cos(day),
    }


def infer_kind(s: pd.Series, name: str) -> str | None:
    """The kind of a column, from its dtype and (for text) its distinct values.

    Parameters
    ----------
    s : pandas.Series
        The column.
    name : str
        The column's name, for messages.

    Returns
    -------
    str or None
        "numeric", "categorical", "boolean" or "datetime"; None when every cell is missing.
        Text is numeric when `NUMERIC_TEXT_SHARE` of its cells parse as numbers, boolean when
        all are true/false, datetime when all are ISO 8601.

    Examples
    --------
    >>> import pandas as pd
    >>> [infer_kind(pd.Series(v), "c") for v in (["1", "2.5", "x", "4", "5", "6", "7", "8", "9", "10"],
    ...                                          ["TRUE", "false"], ["2024-01-31", "2024-02-01T10:00"], ["a", "1"])]
    ['numeric', 'boolean', 'datetime', 'categorical']
    """
    dtype = s.dtype
    if ptypes.is_complex_dtype(dtype) or ptypes.is_timedelta64_dtype(dtype):
        raise DataError(
            f"column {name!r} has dtype {dtype}, which cannot be encoded; name it in ignore_columns"
        )
    if s.isna().all():
        return None
    if ptypes.is_bool_dtype(dtype):
        return "boolean"
    if ptypes.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if ptypes.is_numeric_dtype(dtype):
        return "numeric"
    codes, values, levels = category_codes(s, "categorical")
    present = codes >= 0
    if not present.any():
        return None
    weight = np.bincount(codes[present], minlength=len(levels))
    keep = weight > 0
    values, levels, weight = values[keep], levels[keep].astype(str), weight[keep]
    inferred = ptypes.infer_dtype(values, skipna=True)
    if inferred == "boolean":
        return "boolean"
    if inferred in ("datetime", "datetime64", "date"):
        return "datetime"
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
        return "numeric"
    if inferred == "string" and {lv.lower() for lv in levels} <= {"true", "false"}:
        return "boolean"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        numbers = pd.to_numeric(pd.Series(levels, dtype=object), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    if weight[np.isfinite(numbers)].sum() >= NUMERIC_TEXT_SHARE * weight.sum():
        return "numeric"
    if inferred == "string":
        # a cheap look at a few values before parsing them all
        head = pd.to_datetime(pd.Series(levels[:100]), format="ISO8601", errors="coerce", utc=True)
        if head.notna().all() and pd.to_datetime(pd.Series(levels), format="ISO8601", errors="coerce", utc=True).notna().all():
            return "datetime"
    return "categorical"

