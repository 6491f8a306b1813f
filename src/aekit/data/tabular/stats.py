"""Statistics a `TableEncoder` accumulates over the chunks of its training data, and the
checks on what it is given to fit."""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from aekit.errors import DataError

# Robust scaling takes its quantiles from at most this many values per column (a seeded uniform
# sample beyond that), so fitting on chunks of a very large file keeps memory bounded.
QUANTILE_SAMPLE = 100_000


def column_names(df: pd.DataFrame, where: str) -> list[str]:
    """A frame's column names as strings (how they are matched), refusing duplicates.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    where : str
        Names the table in the error message.

    Returns
    -------
    list of str

    Examples
    --------
    >>> import pandas as pd
    >>> column_names(pd.DataFrame([[1, 2]], columns=["a", 7]), "data")
    ['a', '7']
    """
    names = [str(c) for c in df.columns]
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise DataError(f"{where}: duplicate column name {n!r}")
        seen.add(n)
    return names


def training_chunks(data: Any) -> Iterator[pd.DataFrame]:
    """The DataFrames `TableEncoder.fit` reads: one frame, or each of an iterable of frames.

    Parameters
    ----------
    data : pandas.DataFrame or iterable of pandas.DataFrame
        The training table or its chunks.

    Yields
    ------
    pandas.DataFrame
        Each chunk; a DataError (when iterated) for anything that is not a DataFrame.
    """
    if isinstance(data, pd.DataFrame):
        yield data
        return
    if isinstance(data, (str, bytes, dict, np.ndarray, pd.Series)) or not isinstance(data, Iterable):
        raise DataError(
            f"expected a pandas DataFrame or an iterable of DataFrames (e.g. read_table(path, chunksize=...)), "
            f"got {type(data).__name__}"
        )
    for k, chunk in enumerate(data):
        if not isinstance(chunk, pd.DataFrame):
            raise DataError(f"training chunk {k + 1} is a {type(chunk).__name__}, not a pandas DataFrame")
        yield chunk


class Moments:
    """Running statistics of one numeric column over chunks: count, mean, M2 (merged as in
    Chan et al.), min, max, and for robust scaling a bottom-k sample by per-row random keys,
    which is the same sample whatever the chunking.

    Parameters
    ----------
    robust : bool
        Keep the sample robust scaling takes its quantiles from.

    Examples
    --------
    >>> import numpy as np
    >>> m = Moments(robust=False)
    >>> m.add(np.array([1.0, 2.0]), None); m.add(np.array([3.0]), None)
    >>> m.center_scale("x")
    (2.0, 0.816496580927726, False)
    """

    def __init__(self, robust: bool) -> None:
        self.robust = robust
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.lo = math.inf
        self.hi = -math.inf
        self.keys = np.empty(0)
        self.vals = np.empty(0)

    def add(self, v: np.ndarray, keys: np.ndarray | None) -> None:
        """Add a chunk's observed values (float64) and, for robust scaling, their rows' keys."""
        if v.size == 0:
            return
        with np.errstate(over="ignore", invalid="ignore"):
            nb = v.size
            mb = float(v.mean())
            m2b = float(np.square(v - mb).sum())
            n = self.n + nb
            delta = mb - self.mean
            self.mean += delta * nb / n
            self.m2 += m2b + delta * delta * self.n * nb / n
        self.n = n
        self.lo = min(self.lo, float(v.min()))
        self.hi = max(self.hi, float(v.max()))
        if self.robust:
            self.keys = np.concatenate([self.keys, keys])
            self.vals = np.concatenate([self.vals, v])
            if self.keys.size > QUANTILE_SAMPLE:
                keep = np.argpartition(self.keys, QUANTILE_SAMPLE - 1)[:QUANTILE_SAMPLE]
                self.keys, self.vals = self.keys[keep], self.vals[keep]

    def center_scale(self, name: str) -> tuple[float, float, bool]:
        """The column's ``(center, scale, constant)``.

        Standard: mean and standard deviation; robust: median and IQR (the standard deviation
        when the IQR is 0). A constant column gets center = its value, scale = ``|value|``
        (1 for 0) and constant = True. A DataError names `name` when values overflow.
        """
        if self.lo == self.hi:
            return self.lo, abs(self.lo) or 1.0, True
        std = math.sqrt(self.m2 / self.n) if math.isfinite(self.m2) else math.inf
        center, scale = self.mean, std
        if self.robust:
            q25, q50, q75 = np.quantile(self.vals, [0.25, 0.5, 0.75])
            center = float(q50)
            if q75 > q25:
                scale = float(q75 - q25)
        if not (math.isfinite(center) and math.isfinite(scale) and scale > 0):
            big = max(abs(self.lo), abs(self.hi))
            raise DataError(f"column {name!r}: values too large to scale (largest magnitude {big:g})")
        return center, scale, False


class ColumnStats:
    """What fitting has learned so far about one input column: its kind (None until a chunk
    shows a value), missing cells, numeric moments (per datetime part) or level counts.

    Parameters
    ----------
    name : str
        The column's name.
    robust : bool
        Scale numeric values by median and IQR instead of mean and standard deviation.
    """

    def __init__(self, name: str, robust: bool) -> None:
        self.name = name
        self.kind: str | None = None  # decided by the first chunk with values
        self.robust = robust
        self.n_missing = 0
        self.moments: dict[str, Moments] = {}
        self.counts: pd.Series | None = None

