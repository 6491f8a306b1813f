"""The learned state of a `TableEncoder`: its options, one spec per input column, and the
validation of a stored (JSON) state. Plain data and checks; no pandas."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from aekit.errors import ConfigError, RunFolderError

FORMAT = "aekit.table-encoder"
VERSION = 1
SCALINGS = ("standard", "robust")
DATETIME_MODES = ("refuse", "expand")
ERROR_MODES = ("raise", "coerce")
KINDS = ("numeric", "categorical", "boolean", "datetime", "dropped")
DATETIME_PARTS = ("elapsed_days", "year_sin", "year_cos", "week_sin", "week_cos", "day_sin", "day_cos")
OTHER = "__other__"
UNSEEN = "__unseen__"
BOOL_LEVELS = ("False", "True")
# At most this many pooled levels are stored per column (the most frequent); rarer pooled
# levels seen again at scoring count as unseen.
MAX_POOLED_STORED = 10_000


# ----------------------------------------------------------------------------------------
# options
# ----------------------------------------------------------------------------------------
def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _name_list(value: Any, option: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    try:
        items = tuple(value)
    except TypeError:
        raise ConfigError(f"{option} must be a list of column names, got {value!r}") from None
    if not all(isinstance(v, str) for v in items):
        raise ConfigError(f"{option} must be a list of column names, got {value!r}")
    return items


def check_options(
    *,
    scaling: str,
    max_categories: int | None,
    min_frequency: int | float,
    datetime: str,
    errors: str,
    label_column: str | None,
    ignore_columns: Any,
    numeric_columns: Any,
    categorical_columns: Any,
    random_state: int,
) -> dict:
    """`TableEncoder`'s options checked and normalized (plain ints, floats, tuples of names).

    Parameters
    ----------
    scaling, max_categories, min_frequency, datetime, errors, label_column, ignore_columns, numeric_columns, categorical_columns, random_state
        As `TableEncoder` takes them.

    Returns
    -------
    dict
        The same keys, normalized.

    Raises
    ------
    ConfigError
        For a value out of range or of the wrong type, naming the option.

    Examples
    --------
    >>> opts = check_options(scaling="robust", max_categories=8, min_frequency=0.01, datetime="refuse",
    ...                      errors="raise", label_column="y", ignore_columns="id", numeric_columns=(),
    ...                      categorical_columns=["zip"], random_state=0)
    >>> opts["ignore_columns"], opts["categorical_columns"]
    (('id',), ('zip',))
    """
    if scaling not in SCALINGS:
        raise ConfigError(f"scaling must be one of {', '.join(SCALINGS)}, got {scaling!r}")
    if max_categories is not None and (not _is_int(max_categories) or max_categories < 1):
        raise ConfigError(f"max_categories must be a positive integer or None, got {max_categories!r}")
    if _is_int(min_frequency):
        if min_frequency < 1:
            raise ConfigError(f"min_frequency as a count must be >= 1, got {min_frequency!r}")
        min_frequency = int(min_frequency)
    elif isinstance(min_frequency, (float, np.floating)):
        if not 0.0 < float(min_frequency) < 1.0:
            raise ConfigError(f"min_frequency as a share must be in (0, 1), got {min_frequency!r}")
        min_frequency = float(min_frequency)
    else:
        raise ConfigError(f"min_frequency must be a count (int >= 1) or a share in (0, 1), got {min_frequency!r}")
    if datetime not in DATETIME_MODES:
        raise ConfigError(f"datetime must be one of {', '.join(DATETIME_MODES)}, got {datetime!r}")
    if errors not in ERROR_MODES:
        raise ConfigError(f"errors must be one of {', '.join(ERROR_MODES)}, got {errors!r}")
    if label_column is not None and not isinstance(label_column, str):
        raise ConfigError(f"label_column must be a column name or None, got {label_column!r}")
    if not _is_int(random_state):
        raise ConfigError(f"random_state must be an integer, got {random_state!r}")
    opts = {
        "scaling": scaling, "max_categories": None if max_categories is None else int(max_categories),
        "min_frequency": min_frequency, "datetime": datetime, "errors": errors, "label_column": label_column,
        "ignore_columns": _name_list(ignore_columns, "ignore_columns"),
        "numeric_columns": _name_list(numeric_columns, "numeric_columns"),
        "categorical_columns": _name_list(categorical_columns, "categorical_columns"),
        "random_state": int(random_state),
    }
    both = set(opts["numeric_columns"]) & set(opts["categorical_columns"])
    if both:
        raise ConfigError(f"column(s) {sorted(both)} named both in numeric_columns and categorical_columns")
    excluded = set(opts["ignore_columns"]) | ({label_column} if label_column else set())
    clash = excluded & (both | set(opts["numeric_columns"]) | set(opts["categorical_columns"]))
    if clash:
        raise ConfigError(f"column(s) {sorted(clash)} are both left out and given a kind")
    return opts


# ----------------------------------------------------------------------------------------
# column specs (the learned state, one per input column)
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NumericSpec:
    """A numeric column (or one numeric part of a datetime column).

    Attributes
    ----------
    name : str
        The column's name (for a datetime part: the part's name, e.g. ``"week_sin"``).
    center, scale : float
        The encoding is ``(x - center) / scale``; standard scaling: mean and standard
        deviation; robust: median and interquartile range. A constant column has scale
        ``|value|`` (1 for 0), so a later change reads as a relative change.
    fill : float
        The imputation value for missing cells, in the column's units (the center).
    missing_indicator : bool
        Whether training had missing cells, so a ``name__missing`` feature follows.
    """

    name: str
    center: float
    scale: float
    fill: float
    missing_indicator: bool
    kind = "numeric"

    def to_json(self) -> dict:
        """This spec as a JSON-able dict."""
        return {
            "name": self.name, "kind": self.kind, "center": self.center, "scale": self.scale,
            "fill": self.fill, "missing_indicator": self.missing_indicator,
        }


@dataclass(frozen=True)
class CategoricalSpec:
    """A categorical or boolean column, one-hot encoded.

    Attributes
    ----------
    name : str
        The column's name.
    kind : str
        ``"categorical"`` or ``"boolean"`` (levels ``"False"``/``"True"``; text such as
        ``"yes"``/``"no"``/``1``/``0`` is read as booleans; other text is a bad cell in
        training and lands in the unseen slot at scoring).
    levels : tuple of str
        The kept levels, most frequent first; each has its own feature.
    pooled : tuple of str
        Levels seen in training but pooled into the ``other`` feature (rarer than
        ``min_frequency`` or beyond ``max_categories``); empty when nothing was pooled, and
        then there is no ``other`` feature.
    missing_indicator : bool
        Whether training had missing cells, so a ``name__missing`` feature follows.
    """

    name: str
    kind: str
    levels: tuple[str, ...]
    pooled: tuple[str, ...]
    missing_indicator: bool

    def to_json(self) -> dict:
        """This spec as a JSON-able dict."""
        return {
            "name": self.name, "kind": self.kind, "levels": list(self.levels),
            "pooled": list(self.pooled), "missing_indicator": self.missing_indicator,
        }


@dataclass(frozen=True)
class DatetimeSpec:
    """A datetime column expanded into numeric parts.

    Attributes
    ----------
    name : str
        The column's name.
    parts : tuple of NumericSpec
        The parts kept, in `DATETIME_PARTS` order: ``elapsed_days`` (days since 1970,
        always kept) and the sine/cosine of the day of the year, the weekday and the time of
        day (dropped when constant in training). Times with a time zone are taken in UTC.
    missing_indicator : bool
        Whether training had missing cells, so a ``name__missing`` feature follows.
    """

    name: str
    parts: tuple[NumericSpec, ...]
    missing_indicator: bool
    kind = "datetime"

    def to_json(self) -> dict:
        """This spec as a JSON-able dict."""
        parts = [{k: v for k, v in p.to_json().items() if k not in ("kind", "missing_indicator")} for p in self.parts]
        return {"name": self.name, "kind": self.kind, "parts": parts, "missing_indicator": self.missing_indicator}


@dataclass(frozen=True)
class DroppedSpec:
    """A column seen in training that gives no features (for example, all missing).

    It is not required at scoring, and ignored without a warning when present.

    Parameters
    ----------
    name : str
        The column's name.
    reason : str
        Why it gives no features, for the user.
    """

    name: str
    reason: str
    kind = "dropped"

    def to_json(self) -> dict:
        """This spec as a JSON-able dict."""
        return {"name": self.name, "kind": self.kind, "reason": self.reason}


ColumnSpec = NumericSpec | CategoricalSpec | DatetimeSpec | DroppedSpec


class EncodedTable(NamedTuple):
    """What `TableEncoder.transform` returns; unpacks as ``X, observed = ...``.

    Attributes
    ----------
    X : numpy.ndarray
        float32, shape (n_rows, n_features_out), C-contiguous.
    observed : numpy.ndarray
        bool, same shape: True where the feature carries an observed cell (see the module
        docstring for one-hot groups and missing indicators).
    """

    X: np.ndarray
    observed: np.ndarray


# ----------------------------------------------------------------------------------------
# a stored state, validated
# ----------------------------------------------------------------------------------------
class StateCheck:
    """Validation of a stored encoder state; every failure is one RunFolderError naming the entry.

    Parameters
    ----------
    source : str
        Names the state in messages (e.g. the JSON file's path).

    Examples
    --------
    >>> StateCheck("run/encoder.json").number({"scale": -1.0}, "scale", "columns[0]", positive=True)
    Traceback (most recent call last):
    aekit.errors.RunFolderError: run/encoder.json: columns[0].scale: must be a positive finite number, got -1.0
    """

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, what: str):
        """Raise the RunFolderError: "SOURCE: WHERE: WHAT"."""
        raise RunFolderError(f"{self.source}: {where}: {what}")

    def keys(self, d: Any, where: str, expected: tuple[str, ...]) -> None:
        """`d` is a JSON object with exactly the `expected` entries."""
        label = where or "state"
        if not isinstance(d, dict):
            self.fail(label, f"must be a JSON object, got {type(d).__name__}")
        missing = [k for k in expected if k not in d]
        if missing:
            self.fail(label, f"missing entr{'y' if len(missing) == 1 else 'ies'} {', '.join(missing)}")
        extra = [k for k in d if k not in expected]
        if extra:
            self.fail(label, f"unexpected entr{'y' if len(extra) == 1 else 'ies'} {', '.join(map(str, extra))}")

    def number(self, d: dict, key: str, where: str, *, positive: bool = False) -> float:
        """``d[key]`` is a finite number (> 0 when `positive`)."""
        v = d[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or (positive and v <= 0):
            self.fail(f"{where}.{key}", f"must be a {'positive ' if positive else ''}finite number, got {v!r}")
        return float(v)

    def flag(self, d: dict, key: str, where: str) -> bool:
        """``d[key]`` is true or false."""
        if not isinstance(d[key], bool):
            self.fail(f"{where}.{key}", f"must be true or false, got {d[key]!r}")
        return d[key]

    def text(self, d: dict, key: str, where: str) -> str:
        """``d[key]`` is a non-empty string."""
        if not isinstance(d[key], str) or not d[key]:
            self.fail(f"{where}.{key}", f"must be a non-empty string, got {d[key]!r}")
        return d[key]

    def strings(self, d: dict, key: str, where: str) -> tuple[str, ...]:
        """``d[key]`` is a list of distinct strings."""
        v = d[key]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            self.fail(f"{where}.{key}", "must be a list of strings")
        if len(set(v)) != len(v):
            self.fail(f"{where}.{key}", "has a level twice")
        return tuple(v)

    def numeric(self, d: Any, where: str) -> NumericSpec:
        """A `NumericSpec` (or a datetime part, which has no missing_indicator entry)."""
        return NumericSpec(
            self.text(d, "name", where), self.number(d, "center", where),
            self.number(d, "scale", where, positive=True), self.number(d, "fill", where),
            self.flag(d, "missing_indicator", where) if "missing_indicator" in d else False,
        )

    def spec(self, d: Any, where: str, max_categories: int | None) -> ColumnSpec:
        """One column's spec, of any kind."""
        if not isinstance(d, dict):
            self.fail(where, f"must be a JSON object, got {type(d).__name__}")
        kind = d.get("kind")
        if kind not in KINDS:
            self.fail(f"{where}.kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
        if kind == "numeric":
            self.keys(d, where, ("name", "kind", "center", "scale", "fill", "missing_indicator"))
            return self.numeric(d, where)
        if kind == "dropped":
            self.keys(d, where, ("name", "kind", "reason"))
            return DroppedSpec(self.text(d, "name", where), self.text(d, "reason", where))
        if kind == "datetime":
            self.keys(d, where, ("name", "kind", "parts", "missing_indicator"))
            if not isinstance(d["parts"], list) or not d["parts"]:
                self.fail(f"{where}.parts", "must be a non-empty list")
            parts = []
            for j, p in enumerate(d["parts"]):
                self.keys(p, f"{where}.parts[{j}]", ("name", "center", "scale", "fill"))
                parts.append(self.numeric(p, f"{where}.parts[{j}]"))
            order = [p.name for p in parts]
            if order[0] != "elapsed_days" or any(n not in DATETIME_PARTS for n in order) or order != sorted(
                order, key=DATETIME_PARTS.index
            ) or len(set(order)) != len(order):
                self.fail(f"{where}.parts", f"must be elapsed_days then some of {', '.join(DATETIME_PARTS[1:])} in order, got {order}")
            return DatetimeSpec(self.text(d, "name", where), tuple(parts), self.flag(d, "missing_indicator", where))
        self.keys(d, where, ("name", "kind", "levels", "pooled", "missing_indicator"))
        levels = self.strings(d, "levels", where)
        pooled = self.strings(d, "pooled", where)
        if set(levels) & set(pooled):
            self.fail(f"{where}.pooled", f"shares level(s) {sorted(set(levels) & set(pooled))} with levels")
        if not levels and not pooled:
            self.fail(where, "has neither levels nor pooled levels")
        if kind == "boolean" and (pooled or not set(levels) <= set(BOOL_LEVELS) or list(levels) != sorted(levels)):
            self.fail(where, f"a boolean column has levels among {list(BOOL_LEVELS)} (in that order) and none pooled")
        if kind == "categorical" and max_categories is not None and len(levels) > max_categories:
            self.fail(f"{where}.levels", f"{len(levels)} levels, more than max_categories={max_categories}")
        if len(pooled) > MAX_POOLED_STORED:
            self.fail(f"{where}.pooled", f"more than {MAX_POOLED_STORED} levels")
        return CategoricalSpec(self.text(d, "name", where), kind, levels, pooled, self.flag(d, "missing_indicator", where))

    def header(self, state: Any, option_names: tuple[str, ...]) -> None:
        """The top level: format tag, version, the entries, and the options' names."""
        self.keys(state, "", ("format", "version", "options", "n_rows", "columns"))
        if state["format"] != FORMAT:
            self.fail("format", f"must be {FORMAT!r}, got {state['format']!r}")
        if state["version"] != VERSION or isinstance(state["version"], bool):
            self.fail("version", f"{state['version']!r} is not one this aekit reads (it reads {VERSION})")
        self.keys(state["options"], "options", option_names)
        n_rows = state["n_rows"]
        if isinstance(n_rows, bool) or not isinstance(n_rows, int) or n_rows < 1:
            self.fail("n_rows", f"must be a positive integer, got {n_rows!r}")

    def columns(self, columns: Any, max_categories: int | None, excluded: set[str]) -> tuple[ColumnSpec, ...]:
        """The column specs, each checked, then checked together."""
        if not isinstance(columns, list) or not columns:
            self.fail("columns", "must be a non-empty list")
        specs = [self.spec(c, f"columns[{i}]", max_categories) for i, c in enumerate(columns)]
        names = [s.name for s in specs]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup is not None:
            self.fail("columns", f"column {dup!r} appears twice")
        clash = set(names) & excluded
        if clash:
            self.fail("columns", f"column(s) {sorted(clash)} are also left out by the options")
        if all(isinstance(s, DroppedSpec) for s in specs):
            self.fail("columns", "no column gives features")
        return tuple(specs)

