"""`TableEncoder`: the column encoding of a table, learned on training data (see the package
docstring of `aekit.data.tabular` for the output layout and the observed mask)."""
from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from aekit.data.tabular.cells import (
    bad_cells,
    category_codes,
    datetime_cells,
    datetime_parts,
    infer_kind,
    numeric_cells,
)
from aekit.data.tabular.specs import (
    BOOL_LEVELS,
    DATETIME_PARTS,
    ERROR_MODES,
    FORMAT,
    MAX_POOLED_STORED,
    OTHER,
    UNSEEN,
    VERSION,
    CategoricalSpec,
    ColumnSpec,
    DatetimeSpec,
    DroppedSpec,
    EncodedTable,
    NumericSpec,
    StateCheck,
    check_options,
)
from aekit.data.tabular.stats import ColumnStats, Moments, column_names, training_chunks
from aekit.errors import AekitWarning, ConfigError, DataError, RunFolderError

_F32_MAX = float(np.finfo(np.float32).max)


def _warn(message: str) -> None:
    # stacklevel 4: _warn <- _finish <- fit <- the caller of fit
    warnings.warn(message, AekitWarning, stacklevel=4)


class TableEncoder:
    """The column encoding of a table, learned on training data: numeric columns scaled,
    categorical and boolean columns one-hot, datetimes refused or expanded, missing cells
    imputed with indicators, and an observed mask for masked losses.

    The layout of the output and the meaning of the observed mask are described in the
    package docstring of `aekit.data.tabular`.

    Parameters
    ----------
    scaling : {"standard", "robust"}, default "standard"
        Numeric columns: ``(x - mean) / std``, or ``(x - median) / IQR`` (the standard
        deviation when the IQR is 0). Missing cells are imputed with the center (mean or
        median), so they encode as 0.
    max_categories : int or None, default 32
        The most levels a categorical column keeps (the most frequent); the rest are pooled
        into one ``other`` feature. None: no cap.
    min_frequency : int or float, default 5
        Levels seen fewer times than this (an int count, or a float in (0, 1): a share of
        the column's non-missing cells) are pooled into ``other``. Boolean columns are never
        pooled.
    datetime : {"refuse", "expand"}, default "refuse"
        A date/time column (datetime dtype, or text that is all ISO 8601) raises a DataError
        naming it, or is expanded into numeric parts (see `DatetimeSpec`).
    errors : {"raise", "coerce"}, default "raise"
        A cell that does not parse as its column's kind (text in a numeric column, inf, an
        unparseable date) raises a DataError naming its row and column, or is read as missing.
    label_column : str or None, default None
        A column left out by name (the label or an id); required in the training data,
        ignored if present when scoring.
    ignore_columns : list of str, default ()
        More columns left out by name, like `label_column`.
    numeric_columns, categorical_columns : list of str, default ()
        Force these columns' kinds instead of inferring them (for example codes written as
        numbers that are categories, like zip codes).
    random_state : int, default 0
        Seeds the sample robust scaling takes its quantiles from when a column has more than
        `aekit.data.tabular.stats.QUANTILE_SAMPLE` values (below that they are exact).

    Attributes
    ----------
    columns_ : tuple of column specs
        One spec per input column seen in training (excluded columns left out), in order.
    encoded_columns_ : tuple of str
        The columns that give features, in output order.
    feature_names_out_ : tuple of str
        One name per output feature.
    feature_roles_ : tuple of str
        ``"value"``, ``"level"``, ``"other"``, ``"unseen"`` or ``"missing"`` per feature.
    feature_columns_ : tuple of str
        The input column each feature comes from (sum one-hot groups back with
        `sum_by_column`).
    column_slices_ : dict of str to slice
        Each encoded column's contiguous block of features.
    n_features_out_ : int
        The width of the encoded matrix.
    n_rows_ : int
        The number of training rows.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"size": [1.0, 2.0, None, 3.0], "colour": ["red", "blue", "red", "red"],
    ...                    "id": [10, 11, 12, 13]})
    >>> enc = TableEncoder(min_frequency=1, label_column="id").fit(df)
    >>> enc.feature_names_out_
    ('size', 'size__missing', 'colour=red', 'colour=blue', 'colour=__unseen__')
    >>> X, observed = enc.transform(pd.DataFrame({"colour": ["green"], "size": [2.0]}))
    >>> X.tolist(), observed.tolist()
    ([[0.0, 0.0, 0.0, 0.0, 1.0]], [[True, False, True, True, True]])
    >>> enc2 = TableEncoder.from_json(enc.to_json())
    >>> bool((enc2.transform(df).X == enc.transform(df).X).all())
    True
    """

    def __init__(
        self,
        *,
        scaling: str = "standard",
        max_categories: int | None = 32,
        min_frequency: int | float = 5,
        datetime: str = "refuse",
        errors: str = "raise",
        label_column: str | None = None,
        ignore_columns: Sequence[str] = (),
        numeric_columns: Sequence[str] = (),
        categorical_columns: Sequence[str] = (),
        random_state: int = 0,
    ) -> None:
        opts = check_options(
            scaling=scaling, max_categories=max_categories, min_frequency=min_frequency, datetime=datetime,
            errors=errors, label_column=label_column, ignore_columns=ignore_columns,
            numeric_columns=numeric_columns, categorical_columns=categorical_columns, random_state=random_state,
        )
        for key, value in opts.items():  # sklearn style: one attribute per argument
            setattr(self, key, value)

    # ---------------------------------------------------------------- options
    def options(self) -> dict:
        """The constructor's arguments as a JSON-able dict.

        Returns
        -------
        dict
            ``TableEncoder(**encoder.options())`` builds an unfitted twin.
        """
        return {
            "scaling": self.scaling, "max_categories": self.max_categories,
            "min_frequency": self.min_frequency, "datetime": self.datetime, "errors": self.errors,
            "label_column": self.label_column, "ignore_columns": list(self.ignore_columns),
            "numeric_columns": list(self.numeric_columns),
            "categorical_columns": list(self.categorical_columns), "random_state": self.random_state,
        }

    def _excluded(self) -> set[str]:
        return set(self.ignore_columns) | ({self.label_column} if self.label_column else set())

    # ---------------------------------------------------------------- fit
    def fit(self, data: pd.DataFrame | Iterable[pd.DataFrame]) -> "TableEncoder":
        """Learn each column's encoding.

        Parameters
        ----------
        data : pandas.DataFrame or iterable of pandas.DataFrame
            The training table, or its chunks (e.g. ``read_table(path, chunksize=...)``), so
            a table larger than memory is never loaded whole. With chunks, a column's kind is
            decided by the first chunk in which it has values; statistics cover all chunks.

        Returns
        -------
        TableEncoder
            self, fitted.

        Raises
        ------
        DataError
            No rows, no columns left to encode, duplicate or missing named columns, chunks
            with different columns, a datetime column with ``datetime="refuse"``, or a bad
            cell with ``errors="raise"``.
        """
        chunks = training_chunks(data)
        robust = self.scaling == "robust"
        rng = np.random.default_rng(self.random_state)
        forced = {**{c: "numeric" for c in self.numeric_columns}, **{c: "categorical" for c in self.categorical_columns}}
        stats: dict[str, ColumnStats] | None = None
        all_names: list[str] = []
        n_rows = 0
        for k, chunk in enumerate(chunks):
            names = column_names(chunk, "training data" if k == 0 else f"training chunk {k + 1}")
            if stats is None:
                all_names = names
                wanted = {self.label_column: "label_column"} if self.label_column else {}
                wanted.update({c: "ignore_columns" for c in self.ignore_columns})
                wanted.update({c: "numeric_columns" for c in self.numeric_columns})
                wanted.update({c: "categorical_columns" for c in self.categorical_columns})
                for col, opt in wanted.items():
                    if col not in names:
                        raise DataError(f"{opt}: no column {col!r} in the training data; columns are {names}")
                excluded = self._excluded()
                stats = {n: ColumnStats(n, robust) for n in names if n not in excluded}
                if not stats:
                    raise DataError(f"training data: no columns left to encode (columns are {names})")
            elif set(names) != set(all_names):
                raise DataError(
                    f"training chunk {k + 1} has columns {names}, but the first chunk has {all_names}"
                )
            if len(chunk) == 0:
                continue
            keys = rng.random(len(chunk)) if robust else None
            positions = {n: j for j, n in enumerate(names)}
            for st in stats.values():
                self._accumulate(st, chunk.iloc[:, positions[st.name]], keys, forced.get(st.name))
            n_rows += len(chunk)
        if stats is None or n_rows == 0:
            raise DataError("training data: no rows")
        specs = []
        for st in stats.values():  # a loop, not a generator, so warnings point at fit's caller
            specs.append(self._finish(st))
        self.columns_ = tuple(specs)
        self.n_rows_ = n_rows
        self._layout()
        return self

    def _accumulate(self, st: ColumnStats, s: pd.Series, keys: np.ndarray | None, forced: str | None) -> None:
        if st.kind is None:
            kind = forced or infer_kind(s, st.name)
            if kind is None:
                st.n_missing += len(s)
                return
            if kind == "datetime" and self.datetime == "refuse":
                raise DataError(
                    f"column {st.name!r} holds dates/times; pass datetime='expand' to encode it as "
                    "numbers (elapsed days, season, weekday, time of day), or name it in ignore_columns"
                )
            st.kind = kind
        if st.kind == "numeric":
            v, miss = numeric_cells(s, st.name, self.errors)
            st.moments.setdefault("value", Moments(st.robust)).add(v[~miss], None if keys is None else keys[~miss])
        elif st.kind == "datetime":
            t, miss = datetime_cells(s, st.name, self.errors)
            for part, v in datetime_parts(t).items():
                st.moments.setdefault(part, Moments(st.robust)).add(v[~miss], None if keys is None else keys[~miss])
        else:
            codes, _, levels = category_codes(s, st.kind)
            if st.kind == "boolean":
                # a boolean column learns only the two booleans; other text is a bad cell here
                # (at scoring it lands in the unseen slot)
                other = np.array([lv not in BOOL_LEVELS for lv in levels], dtype=bool)
                bad = codes >= 0
                bad[bad] = other[codes[bad]]
                if bad.any():
                    bad_cells(s, st.name, bad, "a boolean (true/false)", self.errors)
                    codes = np.where(bad, -1, codes)
            miss = codes < 0
            n = np.bincount(codes[~miss], minlength=len(levels))
            counts = pd.Series(n, index=pd.Index(levels, dtype=object))
            counts = counts[n > 0].groupby(level=0, sort=False).sum()  # " a" and "a": one level
            st.counts = counts if st.counts is None else st.counts.add(counts, fill_value=0)
        st.n_missing += int(miss.sum())

    def _finish(self, st: ColumnStats) -> ColumnSpec:
        name, has_missing = st.name, st.n_missing > 0
        if st.kind is None or (st.kind in ("numeric", "datetime") and not any(m.n for m in st.moments.values())) or (
            st.kind in ("categorical", "boolean") and (st.counts is None or len(st.counts) == 0)
        ):
            _warn(f"column {name!r} has no values (every cell is missing); it is left out")
            return DroppedSpec(name, "all cells missing")
        if st.kind == "numeric":
            m = st.moments["value"]
            center, scale, constant = m.center_scale(name)
            if constant:
                _warn(
                    f"column {name!r} has one value only ({center:g}); it carries no information in "
                    "training, and a different value when scoring will stand out"
                )
            return NumericSpec(name, center, scale, center, has_missing)
        if st.kind == "datetime":
            parts = []
            for part in DATETIME_PARTS:
                center, scale, constant = st.moments[part].center_scale(f"{name}.{part}")
                if part == "elapsed_days" and constant:
                    _warn(f"column {name!r} has one date/time only; it carries no information in training")
                if part == "elapsed_days" or not constant:
                    parts.append(NumericSpec(part, center, scale, center, False))
            return DatetimeSpec(name, tuple(parts), has_missing)
        counts = st.counts.astype(np.int64)
        table = pd.DataFrame({"level": counts.index.astype(str), "count": counts.to_numpy()})
        table = table.sort_values(["count", "level"], ascending=[False, True], kind="stable")
        levels = table["level"].tolist()
        n_seen = int(table["count"].sum())
        if len(levels) == 1:
            _warn(f"column {name!r} has one category only ({levels[0]!r}); it carries no information in training")
        if st.kind == "boolean":
            return CategoricalSpec(name, "boolean", tuple(lv for lv in BOOL_LEVELS if lv in levels), (), has_missing)
        threshold = self.min_frequency if isinstance(self.min_frequency, int) else self.min_frequency * n_seen
        frequent = (table["count"] >= threshold).to_numpy()
        cap = len(levels) if self.max_categories is None else self.max_categories
        keep = np.zeros(len(levels), dtype=bool)
        keep[np.flatnonzero(frequent)[:cap]] = True
        kept = [lv for lv, k in zip(levels, keep) if k]
        pooled = [lv for lv, k in zip(levels, keep) if not k][:MAX_POOLED_STORED]
        if self.max_categories is not None and len(levels) > self.max_categories and len(levels) >= 0.5 * n_seen:
            _warn(
                f"column {name!r} has {len(levels)} distinct values in {n_seen} rows, so it looks like an "
                "identifier; name it in ignore_columns (or as label_column) to leave it out"
            )
        return CategoricalSpec(name, "categorical", tuple(kept), tuple(pooled), has_missing)

    # ---------------------------------------------------------------- layout
    def _layout(self) -> None:
        names: list[str] = []
        roles: list[str] = []
        owners: list[str] = []
        slices: dict[str, slice] = {}
        for spec in self.columns_:
            if isinstance(spec, DroppedSpec):
                continue
            start = len(names)
            if isinstance(spec, NumericSpec):
                feats = [(spec.name, "value")]
            elif isinstance(spec, DatetimeSpec):
                feats = [(f"{spec.name}.{p.name}", "value") for p in spec.parts]
            else:
                feats = [(f"{spec.name}={lv}", "level") for lv in spec.levels]
                if spec.pooled:
                    feats.append((f"{spec.name}={OTHER}", "other"))
                feats.append((f"{spec.name}={UNSEEN}", "unseen"))
            if spec.missing_indicator:
                feats.append((f"{spec.name}__missing", "missing"))
            for fname, role in feats:
                names.append(fname)
                roles.append(role)
                owners.append(spec.name)
            slices[spec.name] = slice(start, len(names))
        self.feature_names_out_ = tuple(names)
        self.feature_roles_ = tuple(roles)
        self.feature_columns_ = tuple(owners)
        self.column_slices_ = slices
        self.encoded_columns_ = tuple(slices)
        self.n_features_out_ = len(names)
        self._starts = np.array([sl.start for sl in slices.values()], dtype=np.intp)
        self._observed_template = np.array([r != "missing" for r in roles], dtype=bool)

    def _check_fitted(self) -> None:
        if not hasattr(self, "columns_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this TableEncoder is not fitted yet; call fit(data) first")

    def get_feature_names_out(self) -> np.ndarray:
        """The output feature names (scikit-learn's spelling).

        Returns
        -------
        numpy.ndarray of str
            `feature_names_out_` as an object array.
        """
        self._check_fitted()
        return np.asarray(self.feature_names_out_, dtype=object)

    # ---------------------------------------------------------------- transform
    def _match(self, df: pd.DataFrame) -> dict[str, pd.Series]:
        names = column_names(df, "data")
        position = {n: j for j, n in enumerate(names)}
        need = [spec.name for spec in self.columns_ if not isinstance(spec, DroppedSpec)]
        missing = [n for n in need if n not in position]
        if missing:
            raise DataError(
                f"data: missing column(s) {', '.join(map(repr, missing))} that the encoder was fitted on"
            )
        known = {spec.name for spec in self.columns_} | self._excluded()
        extra = [n for n in names if n not in known]
        if extra:
            warnings.warn(
                f"ignoring column(s) {', '.join(map(repr, extra))} that the encoder was not fitted on",
                AekitWarning,
                stacklevel=3,
            )
        return {n: df.iloc[:, position[n]] for n in need}

    def transform(self, data: pd.DataFrame, *, errors: str | None = None) -> EncodedTable:
        """Encode a table with the learned encoding; columns are matched by name.

        Parameters
        ----------
        data : pandas.DataFrame
            The table (or one chunk of it). Its columns may come in any order; extra columns
            are ignored with an `AekitWarning`; a missing one raises.
        errors : {"raise", "coerce"} or None, default None
            Overrides the encoder's `errors` for this call.

        Returns
        -------
        EncodedTable
            ``(X, observed)``: float32 features and the bool observed mask, both of shape
            (len(data), n_features_out_).

        Raises
        ------
        DataError
            A missing column (named), duplicate column names, or a bad cell (row and column
            named) with ``errors="raise"``.
        """
        self._check_fitted()
        errors = self.errors if errors is None else errors
        if errors not in ERROR_MODES:
            raise ConfigError(f"errors must be one of {', '.join(ERROR_MODES)}, got {errors!r}")
        if not isinstance(data, pd.DataFrame):
            raise DataError(f"expected a pandas DataFrame, got {type(data).__name__}")
        cols = self._match(data)
        n = len(data)
        X = np.zeros((n, self.n_features_out_), dtype=np.float32)
        observed = np.empty((n, self.n_features_out_), dtype=bool)
        observed[:] = self._observed_template
        for spec in self.columns_:
            if isinstance(spec, DroppedSpec):
                continue
            sl = self.column_slices_[spec.name]
            s = cols[spec.name]
            if isinstance(spec, NumericSpec):
                v, miss = numeric_cells(s, spec.name, errors)
                X[:, sl.start] = self._scaled(s, spec.name, v, miss, spec, errors)
                width = 1
            elif isinstance(spec, DatetimeSpec):
                t, miss = datetime_cells(s, spec.name, errors)
                parts = datetime_parts(t)
                for j, p in enumerate(spec.parts):
                    X[:, sl.start + j] = self._scaled(s, spec.name, parts[p.name], miss, p, errors)
                width = len(spec.parts)
            else:
                codes, _, levels = category_codes(s, spec.kind)
                miss = codes < 0
                width = self._one_hot(X[:, sl], codes, levels, spec)
            if miss.any():
                observed[miss, sl.start:sl.start + width] = False
                if spec.missing_indicator:
                    X[:, sl.stop - 1] = miss
        return EncodedTable(X, observed)

    @staticmethod
    def _scaled(s: pd.Series, name: str, v: np.ndarray, miss: np.ndarray, spec: NumericSpec, errors: str) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            z = (np.where(miss, spec.fill, v) - spec.center) / spec.scale
        too_big = ~(np.abs(z) <= _F32_MAX)
        if too_big.any():
            bad_cells(s, name, too_big, "a number small enough to encode (beyond float32 after scaling)", errors)
            miss |= too_big
            z[too_big] = (spec.fill - spec.center) / spec.scale
        return z

    @staticmethod
    def _one_hot(block: np.ndarray, codes: np.ndarray, levels: np.ndarray, spec: CategoricalSpec) -> int:
        """Set each observed row's slot in its one-hot block; returns the block's width."""
        k = len(spec.levels)
        other = k if spec.pooled else -1
        unseen = k + (1 if spec.pooled else 0)
        # the slot of each distinct value, then of each row by its code
        slot = pd.Index(spec.levels, dtype=object).get_indexer(levels) if k else np.full(len(levels), -1)
        if spec.pooled:
            pooled = pd.Index(spec.pooled, dtype=object).get_indexer(levels) >= 0
            slot = np.where((slot < 0) & pooled, other, slot)
        slot = np.where(slot < 0, unseen, slot)
        rows = np.flatnonzero(codes >= 0)
        block[rows, slot[codes[rows]]] = 1.0
        return unseen + 1

    def fit_transform(self, data: pd.DataFrame) -> EncodedTable:
        """`fit` then `transform` on the same DataFrame.

        Parameters
        ----------
        data : pandas.DataFrame
            The training table.

        Returns
        -------
        EncodedTable
            ``(X, observed)`` as from `transform`.
        """
        if not isinstance(data, pd.DataFrame):
            raise DataError(f"expected a pandas DataFrame, got {type(data).__name__}")
        return self.fit(data).transform(data)

    # ---------------------------------------------------------------- helpers for explanations
    def sum_by_column(self, values: np.ndarray) -> np.ndarray:
        """Sum per-feature values back to their input columns (one-hot groups and indicators
        included), e.g. masked squared errors ``(X - X_hat) ** 2 * observed``.

        Parameters
        ----------
        values : array-like of shape (n_rows, n_features_out_) or (n_features_out_,)
            Per-feature values.

        Returns
        -------
        numpy.ndarray
            Shape (n_rows, len(encoded_columns_)) (or (len(encoded_columns_),)), columns in
            `encoded_columns_` order.
        """
        self._check_fitted()
        a = np.asarray(values)
        if a.dtype == bool:  # np.add on bools is a logical or; count instead
            a = a.astype(np.int64)
        if a.shape[-1:] != (self.n_features_out_,) or a.ndim not in (1, 2):
            raise DataError(
                f"sum_by_column needs {self.n_features_out_} values per row, got shape {a.shape}"
            )
        return np.add.reduceat(a, self._starts, axis=-1)

    def unseen_counts(self, X: np.ndarray) -> dict[str, int]:
        """How many rows hold a category never seen in training, per categorical column.

        Parameters
        ----------
        X : numpy.ndarray of shape (n_rows, n_features_out_)
            An encoded matrix from `transform`.

        Returns
        -------
        dict of str to int
            One entry per categorical or boolean column (zero counts included).
        """
        self._check_fitted()
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features_out_:
            raise DataError(f"unseen_counts needs an (n, {self.n_features_out_}) matrix, got shape {X.shape}")
        return {
            self.feature_columns_[j]: int(np.count_nonzero(X[:, j] > 0.5))
            for j, role in enumerate(self.feature_roles_)
            if role == "unseen"
        }

    # ---------------------------------------------------------------- state
    def to_json(self) -> dict:
        """The fitted encoding as a plain JSON-able dict (for the run folder).

        Returns
        -------
        dict
            ``{"format", "version", "options", "n_rows", "columns"}``; `from_json` reads it.
        """
        self._check_fitted()
        return {
            "format": FORMAT, "version": VERSION, "options": self.options(), "n_rows": self.n_rows_,
            "columns": [spec.to_json() for spec in self.columns_],
        }

    @classmethod
    def from_json(cls, state: Any, *, source: str = "table encoder state") -> "TableEncoder":
        """Rebuild a fitted encoder from `to_json`'s dict, validating every entry.

        Parameters
        ----------
        state : dict
            A dict as `to_json` returns it (e.g. after ``json.load``).
        source : str, default "table encoder state"
            Names the state in error messages (e.g. the JSON file's path).

        Returns
        -------
        TableEncoder
            Fitted; it transforms exactly as the encoder that wrote the state.

        Raises
        ------
        RunFolderError
            The state is not one this aekit writes, or was altered (a message names the
            entry and what is wrong).
        """
        check = StateCheck(source)
        check.header(state, tuple(cls().options()))
        try:
            enc = cls(**state["options"])
        except ConfigError as exc:
            raise RunFolderError(f"{source}: options: {exc}") from None
        enc.columns_ = check.columns(state["columns"], enc.max_categories, enc._excluded())
        enc.n_rows_ = state["n_rows"]
        enc._layout()
        return enc

